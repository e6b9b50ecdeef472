// url targets through the real data plane to the AWS emulator, whose own
// SigV4 implementation (checked against AWS's suite) must accept every
// signature. Real sockets end to end.
import { createHash, randomBytes } from 'node:crypto';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { type Emulator, type EndpointRequest, startEmulator } from '../../src/emulator/server.ts';
import { generateSelfSignedCertificate } from '../../src/emulator/tls.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute, secret } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TEMP_KEYS = {
  accessKeyId: 'ASIATEMPEXAMPLE',
  secretAccessKey: 'temp-secret',
  sessionToken: 'the-session-token',
};
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What the echo endpoints saw, sent back as JSON. */
function echo(req: EndpointRequest) {
  return {
    status: 200,
    headers: {
      'content-type': 'application/json',
      'x-upstream': 'echo',
      connection: 'x-drop-me',
      'x-drop-me': '1',
    },
    body: JSON.stringify({
      method: req.method,
      path: req.path,
      query: req.query,
      headers: req.headers,
      bodySha256: sha256(req.body),
      bodyLength: req.body.length,
      signedBy: req.signature?.accessKeyId,
    }),
  };
}

describe('url targets', () => {
  let emulator: Emulator;
  let slow: Emulator;
  let tls: Emulator;
  /** Offers HTTP/2 and HTTP/1.1 over TLS, as AWS endpoints do, and answers with the version used. */
  let h2: Http2SecureServer;
  let gw: TestGateway;

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [KEYS, { ...TEMP_KEYS }],
      endpoints: [
        { kind: 'execute-api', path: '/prod', auth: 'iam', handler: echo },
        { kind: 'execute-api', path: '/open', auth: 'none', handler: echo },
        { kind: 'execute-api', path: '/keyed', auth: 'apiKey', apiKey: 'route-api-key', handler: echo },
        { kind: 'function-url', path: '/', auth: 'iam', handler: echo },
      ],
    });
    slow = await startEmulator({
      endpoints: [
        {
          kind: 'execute-api',
          path: '/',
          auth: 'none',
          handler: async () => {
            await new Promise((r) => setTimeout(r, 5000));
            return { status: 200, body: 'too late' };
          },
        },
      ],
    });
    tls = await startEmulator({
      tls: true,
      endpoints: [{ kind: 'execute-api', path: '/', auth: 'none', handler: echo }],
    });
    h2 = createSecureServer({ ...(await generateSelfSignedCertificate()), allowHTTP1: true }, (req, res) =>
      res.end(req.httpVersion),
    );
    const h2Url = `https://127.0.0.1:${await listenLoopback(h2)}`;
    const iam = (secretName: string, service = 'execute-api') =>
      `auth: {iam: {secretRef: {name: ${secretName}}, region: us-east-1, service: ${service}}}`;
    gw = await startTestGateway({
      'secrets.yaml': documents(
        credentialsSecret('keys', KEYS),
        credentialsSecret('temp-keys', TEMP_KEYS),
        credentialsSecret('wrong-keys', { ...KEYS, secretAccessKey: 'not-the-secret' }),
        secret('api-key', { apiKey: 'route-api-key' }),
      ),
      'routes.yaml': documents(
        lambdaRoute(
          'signed',
          `match: {path: /signed, pathType: Prefix}
target: {url: "${emulator.url}/prod", forwardSubpath: true}
${iam('keys')}`,
        ),
        lambdaRoute(
          'temp',
          `match: {path: /temp, pathType: Prefix}
target: {url: "${emulator.url}/prod", forwardSubpath: true}
${iam('temp-keys')}`,
        ),
        lambdaRoute(
          'wrong',
          `match: {path: /wrong}
target: {url: "${emulator.url}/prod/x"}
${iam('wrong-keys')}`,
        ),
        lambdaRoute(
          'fn-url',
          `match: {path: /fn-url, pathType: Prefix}
target: {url: "${emulator.url}/", forwardSubpath: true}
${iam('keys', 'lambda')}`,
        ),
        lambdaRoute(
          'open',
          `match: {path: /open, pathType: Prefix}
target: {url: "${emulator.url}/open", forwardSubpath: true}`,
        ),
        lambdaRoute(
          'keyed',
          `match: {path: /keyed}
target: {url: "${emulator.url}/keyed/items"}
auth: {apiKey: {secretRef: {name: api-key, key: apiKey}}}`,
        ),
        lambdaRoute(
          'slow',
          `match: {path: /slow}
target: {url: "${slow.url}/"}
timeout: 300ms`,
        ),
        lambdaRoute(
          'refused',
          `match: {path: /refused}
target: {url: "http://127.0.0.1:1/"}`,
        ),
        lambdaRoute(
          'tls-strict',
          `match: {path: /tls-strict}
target: {url: "${tls.url}/"}`,
        ),
        lambdaRoute(
          'tls-insecure',
          `match: {path: /tls-insecure}
target: {url: "${tls.url}/"}
tls: {insecureSkipVerify: true}`,
        ),
        lambdaRoute(
          'h2-offered',
          `match: {path: /h2-offered}
target: {url: "${h2Url}/"}
tls: {insecureSkipVerify: true}`,
        ),
      ),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([emulator?.close(), slow?.close(), tls?.close()]);
    await new Promise((resolve) => h2?.close(resolve));
  });

  const mib = (n: number) => randomBytes(Math.round(n * 1024 * 1024));
  const shapes: [
    string,
    {
      method?: string;
      path: string;
      headers?: [string, string][];
      body?: Buffer | string;
      chunks?: Buffer[];
    },
  ][] = [
    ['GET', { path: '/signed/items' }],
    ['HEAD', { method: 'HEAD', path: '/signed/items' }],
    ['POST empty body', { method: 'POST', path: '/signed/items', body: '' }],
    ['POST 1 byte', { method: 'POST', path: '/signed/items', body: 'x' }],
    [
      'PUT 64 KB binary',
      {
        method: 'PUT',
        path: '/signed/items',
        body: randomBytes(64 * 1024),
        headers: [['content-type', 'application/octet-stream']],
      },
    ],
    ['POST 5.9 MB binary', { method: 'POST', path: '/signed/big', body: mib(5.9) }],
    [
      'PATCH chunked upload',
      {
        method: 'PATCH',
        path: '/signed/items',
        chunks: [randomBytes(1000), randomBytes(70_000), Buffer.from('end')],
      },
    ],
    ['DELETE', { method: 'DELETE', path: '/signed/items/7' }],
    ['OPTIONS', { method: 'OPTIONS', path: '/signed/items' }],
    ['UTF-8 and spaces in the path', { path: '/signed/caf%C3%A9/a%20b/%E2%9C%93' }],
    ['reserved characters and name:alias', { path: '/signed/fn/my-fn:live/a+b/%2F/(x)' }],
    [
      'repeated, empty and encoded query',
      { path: '/signed/q?b=2&a=1&a=0&empty=&bare&k%20ey=v%2Fal%20ue&plus=a+b&u=%E2%9C%93' },
    ],
    ['unsorted and empty query pairs', { path: '/signed/q?z=1&&y=&=x' }],
    // Signed as the bytes sent (AWS decodes each escape to its byte), not as a re-escaped %25E9.
    ['query escapes that are not UTF-8', { path: '/signed/q?q=caf%E9&r=%FF&s=%E2%82&t=%e9' }],
    ['malformed query escapes', { path: '/signed/q?a=100%&b=%zz%41' }],
    [
      'duplicate request headers',
      {
        path: '/signed/h',
        headers: [
          ['x-dup', 'one'],
          ['X-Dup', 'two'],
          ['x-dup', 'three'],
        ],
      },
    ],
    [
      'client Authorization and x-amz headers present',
      {
        path: '/signed/h',
        headers: [
          ['authorization', 'Bearer client-token'],
          ['x-amz-date', '20000101T000000Z'],
          ['x-amz-security-token', 'smuggled'],
        ],
      },
    ],
  ];

  it.each(shapes)('%s is signed so the emulator accepts it', async (_name, request) => {
    const response = await send(gw.url, request);
    expect(response.status, response.text).toBe(200);
    if (request.method === 'HEAD') return;
    const seen = response.json();
    expect(seen.signedBy).toBe(KEYS.accessKeyId);
    expect(seen.method).toBe(request.method ?? 'GET');
    const [path, query = ''] = request.path.split(/\?(.*)/s);
    expect(seen.path).toBe(`/prod${path!.slice('/signed'.length)}`);
    expect(seen.query).toBe(query);
    const sent = request.chunks ? Buffer.concat(request.chunks) : Buffer.from(request.body ?? '');
    expect(seen.bodyLength).toBe(sent.length);
    expect(seen.bodySha256).toBe(sha256(sent));
  });

  it('signs the origin-form of an absolute-form request target', async () => {
    const response = await send(gw.url, { path: `${gw.url}/signed/items?a=1` });
    expect(response.status, response.text).toBe(200);
    expect(response.json()).toMatchObject({ signedBy: KEYS.accessKeyId, path: '/prod/items', query: 'a=1' });
  });

  it('keeps duplicate headers in order and never passes client credentials or x-amz headers', async () => {
    const response = await send(gw.url, {
      path: '/signed/h',
      headers: [
        ['x-dup', 'one'],
        ['authorization', 'Bearer client'],
        ['X-Dup', 'two'],
        ['x-amz-security-token', 'smuggled'],
        ['x-api-key', 'client-key'],
      ],
    });
    const headers: [string, string][] = response.json().headers;
    expect(headers.filter(([n]) => n.toLowerCase() === 'x-dup').map(([, v]) => v)).toEqual(['one', 'two']);
    const lower = headers.map(([n, v]) => [n.toLowerCase(), v]);
    expect(lower.filter(([n]) => n === 'authorization')).toEqual([
      ['authorization', expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//)],
    ]);
    expect(lower.find(([n]) => n === 'x-amz-security-token')).toBeUndefined();
    expect(lower.find(([n]) => n === 'x-api-key')).toBeUndefined();
  });

  it('signs with temporary credentials and sends their session token', async () => {
    const response = await send(gw.url, { method: 'POST', path: '/temp/x?a=1', body: '{"hello":"world"}' });
    expect(response.status, response.text).toBe(200);
    const seen = response.json();
    expect(seen.signedBy).toBe(TEMP_KEYS.accessKeyId);
    expect(seen.headers).toContainEqual(['x-amz-security-token', TEMP_KEYS.sessionToken]);
  });

  it('signs for the lambda service in front of a function URL', async () => {
    const response = await send(gw.url, { method: 'POST', path: '/fn-url/run?x=1', body: 'payload' });
    expect(response.status, response.text).toBe(200);
    expect(response.json()).toMatchObject({ signedBy: KEYS.accessKeyId, path: '/run', query: 'x=1' });
  });

  it('sets Host and X-Forwarded-*, drops hop-by-hop headers both ways, streams status and headers back', async () => {
    const response = await send(gw.url, {
      path: '/open/hop?x=1',
      headers: [
        ['host', 'public.example.com'],
        ['connection', 'keep-alive, x-secret-hop'],
        ['x-secret-hop', '1'],
        ['keep-alive', 'timeout=5'],
        ['te', 'trailers'],
        ['x-forwarded-for', '203.0.113.9'],
      ],
    });
    expect(response.status).toBe(200);
    const seen = response.json();
    const names = seen.headers.map(([n]: [string]) => n.toLowerCase());
    expect(seen.headers).toContainEqual(['host', new URL(emulator.url).host]);
    // The client is no trusted proxy: its X-Forwarded-For is dropped (test/dataplane/forwarded-headers.test.ts).
    expect(seen.headers).toContainEqual(['x-forwarded-for', '127.0.0.1']);
    expect(seen.headers).toContainEqual(['x-forwarded-proto', 'http']);
    expect(seen.headers).toContainEqual(['x-forwarded-port', '80']);
    expect(seen.headers).toContainEqual(['x-forwarded-host', 'public.example.com']);
    for (const hop of ['x-secret-hop', 'keep-alive', 'te']) expect(names).not.toContain(hop);
    expect(response.headers['x-upstream']).toBe('echo');
    expect(response.headers['x-drop-me']).toBeUndefined();
    expect(response.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.signedBy).toBeUndefined();
  });

  it('streams an unsigned chunked upload without buffering it', async () => {
    const chunks = [randomBytes(10), randomBytes(100_000)];
    const response = await send(gw.url, { method: 'POST', path: '/open/stream', chunks });
    expect(response.json()).toMatchObject({ bodyLength: 100_010, bodySha256: sha256(Buffer.concat(chunks)) });
  });

  it('forwards a path so that ".." cannot climb above the target path', async () => {
    const response = await send(gw.url, { path: '/open/a/../../%2e%2e/etc/passwd' });
    expect(response.json().path).toBe('/open/etc/passwd');
  });

  it('replaces the client x-api-key with the route API key', async () => {
    const response = await send(gw.url, { path: '/keyed', headers: [['x-api-key', 'client-key']] });
    expect(response.status, response.text).toBe(200);
    const apiKeys = response.json().headers.filter(([n]: [string]) => n.toLowerCase() === 'x-api-key');
    expect(apiKeys).toEqual([['x-api-key', 'route-api-key']]);
  });

  it('passes the emulator 403 through when the secret key is wrong', async () => {
    const response = await send(gw.url, { path: '/wrong' });
    expect(response.status).toBe(403);
    expect(response.json().message).toMatch(/signature we calculated does not match/);
  });

  it('answers 504 when the upstream is slower than the route timeout, long before it answers', async () => {
    const started = Date.now();
    const response = await send(gw.url, { path: '/slow' });
    expect(response.status).toBe(504);
    expect(response.json()).toMatchObject({ error: 'upstream_timeout', route: 'default/slow' });
    expect(Date.now() - started).toBeLessThan(3000); // the upstream needs 5 s; the route allows 300 ms
  });

  it('answers 502 when the upstream refuses connections', async () => {
    const response = await send(gw.url, { path: '/refused' });
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ error: 'upstream_unavailable', route: 'default/refused' });
  });

  it('refuses a self-signed upstream certificate unless insecureSkipVerify is set', async () => {
    const strict = await send(gw.url, { path: '/tls-strict' });
    expect(strict.status).toBe(502);
    expect(strict.json().message).toMatch(/TLS|certificate/i);
    const insecure = await send(gw.url, { path: '/tls-insecure' });
    expect(insecure.status, insecure.text).toBe(200);
  });

  it('speaks HTTP/1.1 to an upstream that also offers HTTP/2, as the relay and its header rules assume', async () => {
    const response = await send(gw.url, { path: '/h2-offered' });
    expect(response.status, response.text).toBe(200);
    expect(response.text).toBe('1.1');
  });

  it('answers 413 for a body over the signing limit and never calls the upstream', async () => {
    const before = emulator.requests.length;
    const big = await send(gw.url, { method: 'POST', path: '/signed/too-big', body: mib(6.5) });
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ error: 'payload_too_large', route: 'default/signed' });
    const chunked = await send(gw.url, {
      method: 'POST',
      path: '/signed/too-big',
      chunks: [mib(3), mib(3.5)],
    });
    expect(chunked.status).toBe(413);
    expect(emulator.requests.length).toBe(before);
  });

  it('answers 404 and 503 itself, as JSON', async () => {
    const none = await send(gw.url, { path: '/nothing-here' });
    expect(none.status).toBe(404);
    expect(none.json()).toMatchObject({ error: 'no_route' });
  });
});
