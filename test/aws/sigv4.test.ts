// The per-route SigV4 signer: canonical URIs and queries against hand-computed
// values, the headers it adds, key and date caching, and signatures the
// emulator's independent verifier accepts, over real sockets included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  canonicalQuery,
  canonicalUri,
  EMPTY_PAYLOAD_HASH,
  payloadHash,
  RouteSigner,
  type SigningTarget,
} from '../../src/aws/sigv4.ts';
import { type Emulator, type EndpointRequest, startEmulator } from '../../src/emulator/server.ts';
import { type AwsCredentials, verify } from '../../src/emulator/sigv4.ts';
import { send } from '../support/http.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TEMP_KEYS = { accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'the-token' };
const NOW = Date.UTC(2015, 7, 30, 12, 36, 0);
const HOST = 'abc123.execute-api.us-east-1.amazonaws.com';

interface Signed {
  headers: [string, string][];
  added: Record<string, string>;
}

function signWith(
  signer: RouteSigner,
  request: { method?: string; path: string; query?: string; body?: Buffer },
  credentials: AwsCredentials = KEYS,
  now = NOW,
): Signed {
  const flat: string[] = [];
  signer.sign(
    flat,
    credentials,
    request.method ?? 'GET',
    request.path,
    request.query ?? '',
    payloadHash(request.body),
    now,
  );
  const added: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) added.push([flat[i]!, flat[i + 1]!]);
  return { headers: added, added: Object.fromEntries(added) };
}

/** What the emulator's verifier makes of the request, sent with the signer's headers. */
function verifyRequest(
  target: SigningTarget,
  request: { method?: string; path: string; query?: string; body?: Buffer },
  signed: Signed,
  credentials: AwsCredentials = KEYS,
  now = NOW,
) {
  return verify(
    {
      method: request.method ?? 'GET',
      path: request.path,
      query: request.query ?? '',
      headers: [['Host', target.host], ...signed.headers],
      body: request.body ?? '',
    },
    { region: target.region, service: target.service, credentials: [credentials], now: new Date(now) },
  );
}

describe('canonicalUri', () => {
  it.each([
    ['/', '/'],
    ['/default/test-apisix', '/default/test-apisix'],
    ['/-._~0123456789AZaz', '/-._~0123456789AZaz'],
    // A path as sent is encoded once more (double encoding): escapes are signed with "%25".
    ['/caf%C3%A9/a%20b/%E2%9C%93', '/caf%25C3%25A9/a%2520b/%25E2%259C%2593'],
    ['/a%2Fb/%2f', '/a%252Fb/%252f'],
    ['/caf%E9', '/caf%25E9'],
    ['/2015-03-31/functions/my-fn%3Alive/invocations', '/2015-03-31/functions/my-fn%253Alive/invocations'],
    ['/fn/my-fn:live', '/fn/my-fn%3Alive'],
    ["/a+b=(c)!*'$&,;@", '/a%2Bb%3D%28c%29%21%2A%27%24%26%2C%3B%40'],
    ['/a b', '/a%20b'],
    ['/ሴ/😀', '/%E1%88%B4/%F0%9F%98%80'],
    ['//a//b/', '/a/b/'],
    ['/a/./b/../c', '/a/c'],
    ['/a/b/..', '/a'],
    ['/..', '/'],
    ['/./', '/'],
    ['/.well-known/x', '/.well-known/x'],
    ['/a/%2e%2e/b', '/a/%252e%252e/b'],
  ])('%s is signed as %s', (path, expected) => {
    expect(canonicalUri(path)).toBe(expected);
  });
});

describe('canonicalQuery', () => {
  it.each([
    ['', ''],
    ['name=APISIX', 'name=APISIX'],
    ['b=2&a=1&a=0&empty=&bare', 'a=0&a=1&b=2&bare=&empty='],
    // By key first: "a" sorts before "a-" although "=" sorts after "-".
    ['a-=1&a=2', 'a=2&a-=1'],
    ['=x&=', '=&=x'],
    ['a&&b&', 'a=&b='],
    ['k=v=w', 'k=v%3Dw'],
    ['plus=a+b', 'plus=a%2Bb'],
    ['k%20ey=v%2Fal%20ue', 'k%20ey=v%2Fal%20ue'],
    ['x=%41%2d%7e%2E', 'x=A-~.'],
    ['u=%e2%9c%93&%E1%88%B4=1', '%E1%88%B4=1&u=%E2%9C%93'],
    ['raw=ሴ', 'raw=%E1%88%B4'],
    ["r=!*'()", 'r=%21%2A%27%28%29'],
    // Escapes that are not UTF-8 are signed as the bytes sent (issue 10, item 11).
    ['q=caf%E9', 'q=caf%E9'],
    ['q=%FF&r=%ff', 'q=%FF&r=%FF'],
    ['q=%E2%82', 'q=%E2%82'],
    ['%E9=1', '%E9=1'],
    ['o=%C0%AF&s=%ED%A0%80', 'o=%C0%AF&s=%ED%A0%80'],
    // A "%" that starts no escape is a literal percent sign.
    ['a=100%&b=%zz%41&c=%4', 'a=100%25&b=%25zzA&c=%254'],
  ])('%s is signed as %s', (query, expected) => {
    expect(canonicalQuery(query)).toBe(expected);
  });

  it('finds the "=" of each pair in a long query of bare keys followed by a pair', () => {
    expect(canonicalQuery(`${'a&'.repeat(50_000)}z=1`)).toBe(`${'a=&'.repeat(50_000)}z=1`);
  });
});

describe('RouteSigner', () => {
  const target: SigningTarget = { host: HOST, region: 'us-east-1', service: 'execute-api', path: '/prod' };

  it('adds x-amz-date, x-amz-content-sha256 and authorization, signing only what it sets', () => {
    const body = Buffer.from('{"hello":"world"}');
    const request = { method: 'POST', path: '/prod/items', query: 'b=2&a=1', body };
    const signed = signWith(new RouteSigner(target), request);
    expect(signed.headers.map(([name]) => name)).toEqual([
      'x-amz-date',
      'x-amz-content-sha256',
      'authorization',
    ]);
    expect(signed.added['x-amz-date']).toBe('20150830T123600Z');
    expect(signed.added['x-amz-content-sha256']).toBe(payloadHash(body));
    expect(signed.added['authorization']).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20150830\/us-east-1\/execute-api\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/,
    );
    expect(verifyRequest(target, request, signed)).toEqual({ ok: true, accessKeyId: KEYS.accessKeyId });
  });

  it('sends and signs the session token of temporary credentials', () => {
    const request = { path: '/prod' };
    const signed = signWith(new RouteSigner(target), request, TEMP_KEYS);
    expect(signed.added['x-amz-security-token']).toBe('the-token');
    expect(signed.added['authorization']).toContain(
      'SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,',
    );
    expect(verifyRequest(target, request, signed, TEMP_KEYS)).toMatchObject({ ok: true });
  });

  it('signs the fixed path, paths under it and any other path the same as without a fixed path', () => {
    const fixed = new RouteSigner({ ...target, path: '/prod/caf%C3%A9' });
    const { path: _fixed, ...withoutPath } = target;
    const none = new RouteSigner(withoutPath);
    for (const path of [
      '/prod/caf%C3%A9',
      '/prod/caf%C3%A9/a%20b/',
      '/prod/caf%C3%A9/../x',
      '/prod/caf%C3%A9//x',
      '/prod/caf%C3%A9x',
      '/other',
    ]) {
      const request = { path, query: 'a=1' };
      expect(signWith(fixed, request).added, path).toEqual(signWith(none, request).added);
      expect(verifyRequest(target, request, signWith(fixed, request)), path).toMatchObject({ ok: true });
    }
  });

  it('signs a function target with its fixed invoke path and Qualifier query', () => {
    const invoke: SigningTarget = {
      host: 'lambda.eu-west-1.amazonaws.com',
      region: 'eu-west-1',
      service: 'lambda',
      path: '/2015-03-31/functions/my-fn%3Alive/invocations',
      query: 'Qualifier=live',
    };
    const request = { method: 'POST', path: invoke.path!, query: invoke.query!, body: Buffer.from('{}') };
    const signed = signWith(new RouteSigner(invoke), request);
    expect(verifyRequest(invoke, request, signed)).toMatchObject({ ok: true });
    expect(verifyRequest({ ...invoke, service: 'execute-api' }, request, signed)).toMatchObject({
      reason: 'credential-scope',
    });
  });

  it('follows rotated credentials and the change of day', () => {
    const signer = new RouteSigner(target);
    const request = { path: '/prod/x' };
    const rotated = { ...KEYS, secretAccessKey: 'rotated-secret' };
    expect(verifyRequest(target, request, signWith(signer, request))).toMatchObject({ ok: true });
    expect(verifyRequest(target, request, signWith(signer, request, rotated), rotated)).toMatchObject({
      ok: true,
    });
    expect(verifyRequest(target, request, signWith(signer, request, TEMP_KEYS), TEMP_KEYS)).toMatchObject({
      ok: true,
    });
    const nextDay = NOW + 12 * 3600_000;
    const tomorrow = signWith(signer, request, KEYS, nextDay);
    expect(tomorrow.added['x-amz-date']).toBe('20150831T003600Z');
    expect(tomorrow.added['authorization']).toContain('/20150831/us-east-1/execute-api/aws4_request');
    expect(verifyRequest(target, request, tomorrow, KEYS, nextDay)).toMatchObject({ ok: true });
  });

  it('formats X-Amz-Date to the second', () => {
    const signer = new RouteSigner(target);
    const request = { path: '/prod' };
    expect(signWith(signer, request, KEYS, NOW + 999).added['x-amz-date']).toBe('20150830T123600Z');
    expect(signWith(signer, request, KEYS, NOW + 1000).added['x-amz-date']).toBe('20150830T123601Z');
    expect(signWith(signer, request, KEYS, NOW - 1).added['x-amz-date']).toBe('20150830T123559Z');
  });

  it('hashes an absent or empty body as the empty string', () => {
    expect(payloadHash(undefined)).toBe(EMPTY_PAYLOAD_HASH);
    expect(payloadHash(Buffer.alloc(0))).toBe(EMPTY_PAYLOAD_HASH);
  });
});

describe('RouteSigner against the emulator over real sockets', () => {
  let emulator: Emulator;
  const seen: EndpointRequest[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [KEYS],
      endpoints: [
        {
          kind: 'execute-api',
          path: '/prod',
          auth: 'iam',
          handler: (req) => {
            seen.push(req);
            return { status: 200, body: 'ok' };
          },
        },
      ],
    });
  });
  afterAll(() => emulator.close());

  it.each([
    ['query escapes that are not UTF-8', '/prod/q', 'q=caf%E9&r=%FF&s=%E2%82&t=%e9'],
    ['malformed query escapes', '/prod/q', 'a=100%&b=%zz%41'],
    [
      'UTF-8, reserved characters and name:alias',
      '/prod/caf%C3%A9/fn:live/a+b/%2F',
      'u=%E2%9C%93&p=a+b&e=&b',
    ],
  ])('%s are accepted as sent', async (_name, path, query) => {
    const host = new URL(emulator.url).host;
    const signer = new RouteSigner({ host, region: 'us-east-1', service: 'execute-api', path: '/prod' });
    const headers: string[] = [];
    signer.sign(headers, KEYS, 'GET', path, query, EMPTY_PAYLOAD_HASH);
    const pairs: [string, string][] = [['host', host]];
    for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i]!, headers[i + 1]!]);
    const response = await send(emulator.url, { path: `${path}?${query}`, headers: pairs });
    expect(response.text).toBe('ok');
    expect(seen.at(-1)).toMatchObject({ path, query, signature: { accessKeyId: KEYS.accessKeyId } });
  });
});
