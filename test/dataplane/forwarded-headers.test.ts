// What upstreams and functions are told about the client. Forwarding headers
// (X-Forwarded-*, Forwarded, X-Real-IP) from a peer that is not a trusted proxy
// are dropped and lambda-ingress sets its own; from a trusted proxy they are
// kept, with the peer appended to X-Forwarded-For, in url requests and in
// function events alike. One request has exactly one Host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { type EchoUpstream, startEchoUpstream } from '../support/echo-upstream.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send, sendRaw } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** A client (or proxy) describing an original request, in mixed case and repeated. */
const CLAIMS: [string, string][] = [
  ['X-Forwarded-For', '203.0.113.9'],
  ['x-forwarded-for', '198.51.100.1'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-FORWARDED-PROTO', 'https'],
  ['x-forwarded-port', '443'],
  ['X-Forwarded-Prefix', '/admin'],
  ['Forwarded', 'for=203.0.113.9;host=evil.example;proto=https'],
  ['X-Real-IP', '203.0.113.9'],
];
const FORWARDING = new Set(CLAIMS.map(([name]) => name.toLowerCase()));

let upstream: EchoUpstream;
let emulator: Emulator;
let direct: TestGateway;
let behindProxy: TestGateway;

beforeAll(async () => {
  upstream = await startEchoUpstream();
  const url = upstream.url;
  emulator = await startEmulator({
    credentials: [KEYS],
    functions: { events: { handler: (event) => ({ statusCode: 200, body: JSON.stringify(event) }) } },
  });
  const fn = (name: string, format: string) =>
    lambdaRoute(
      name,
      `match: {path: /${name}, pathType: Prefix}
target: {function: {name: events, endpoint: "${emulator.url}", payloadFormat: "${format}"}}
auth: {iam: {secretRef: {name: keys}}}`,
    );
  const manifests = {
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute(
        'api',
        `match: {path: /api, pathType: Prefix}\ntarget: {url: "${url}/", forwardSubpath: true}`,
      ),
      fn('v2', '2.0'),
      fn('v1', '1.0'),
      fn('alb', 'alb'),
    ),
  };
  direct = await startTestGateway(manifests);
  behindProxy = await startTestGateway(manifests, { trustedProxies: ['127.0.0.1'] });
});
afterAll(async () => {
  await direct?.close();
  await behindProxy?.close();
  await emulator?.close();
  await upstream?.close();
});

/** The upstream's headers as [lower-case name, value] pairs. */
async function upstreamHeaders(gw: TestGateway): Promise<[string, string][]> {
  const response = await send(gw.url, {
    path: '/api/x',
    headers: [['Host', 'shop.example.com:8443'], ...CLAIMS],
  });
  expect(response.status).toBe(200);
  const raw: string[] = response.json().headers;
  const pairs: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return pairs;
}

const forwardingOnly = (pairs: [string, string][]) => pairs.filter(([name]) => FORWARDING.has(name));

describe('url targets', () => {
  it('drop forwarding headers from a peer that is no trusted proxy, and set their own', async () => {
    expect(forwardingOnly(await upstreamHeaders(direct))).toEqual([
      ['x-forwarded-for', '127.0.0.1'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-port', '8443'],
      ['x-forwarded-host', 'shop.example.com:8443'],
    ]);
  });

  it("keep a trusted proxy's forwarding headers, appending the peer to X-Forwarded-For", async () => {
    expect(forwardingOnly(await upstreamHeaders(behindProxy))).toEqual([
      ['x-forwarded-host', 'evil.example'],
      ['x-forwarded-proto', 'https'],
      ['x-forwarded-port', '443'],
      ['x-forwarded-prefix', '/admin'],
      ['forwarded', 'for=203.0.113.9;host=evil.example;proto=https'],
      ['x-real-ip', '203.0.113.9'],
      ['x-forwarded-for', '203.0.113.9, 198.51.100.1, 127.0.0.1'],
    ]);
  });
});

// The names lambda-ingress adds are spelled as API Gateway spells them in each format.
describe.each([
  ['v2', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port'],
  ['v1', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Port'],
  ['alb', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port'],
])('function events (%s)', (name, xff, proto, port) => {
  /** The event's headers: single-valued maps for 2.0 and 1.0, the multi-value map for alb. */
  async function event(gw: TestGateway) {
    const response = await send(gw.url, {
      path: `/${name}/x`,
      headers: [['Host', 'shop.example.com'], ...CLAIMS],
    });
    expect(response.status).toBe(200);
    const body = response.json();
    const headers: Record<string, string> =
      name === 'alb'
        ? Object.fromEntries(
            Object.entries(body.multiValueHeaders).map(([k, v]) => [k, (v as string[]).join(',')]),
          )
        : body.headers;
    const sourceIp = body.requestContext?.http?.sourceIp ?? body.requestContext?.identity?.sourceIp;
    return { headers, sourceIp };
  }
  const forwardingOf = (headers: Record<string, string>) =>
    Object.fromEntries(Object.entries(headers).filter(([key]) => FORWARDING.has(key.toLowerCase())));

  it('carry the peer as X-Forwarded-For, and no forwarding header from an untrusted client', async () => {
    const { headers, sourceIp } = await event(direct);
    expect(forwardingOf(headers)).toEqual({ [xff]: '127.0.0.1', [proto]: 'http', [port]: '80' });
    if (sourceIp !== undefined) expect(sourceIp).toBe('127.0.0.1');
  });

  it("carry a trusted proxy's chain with the peer appended, as API Gateway does", async () => {
    const { headers, sourceIp } = await event(behindProxy);
    // The proxy's own headers keep its spelling (1.0 events keep names as sent).
    const forwarded = Object.fromEntries(
      Object.entries(forwardingOf(headers)).map(([k, v]) => [k.toLowerCase(), v]),
    );
    expect(forwarded).toEqual({
      'x-forwarded-for': '203.0.113.9, 198.51.100.1, 127.0.0.1',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-forwarded-prefix': '/admin',
      forwarded: 'for=203.0.113.9;host=evil.example;proto=https',
      'x-real-ip': '203.0.113.9',
    });
    expect(headers[xff]).toBe(forwarded['x-forwarded-for']);
    if (sourceIp !== undefined) expect(sourceIp).toBe('198.51.100.1');
  });
});

describe('the Host header', () => {
  it.each([
    ['Host: a.example.com\r\nhost: b.example.com', '/api/x'],
    ['Host: a.example.com\r\nHOST: a.example.com', '/api/x'],
    ['host: a.example.com\r\nHost: b.example.com', '/v2/x'],
    ['Host: a\r\nHost: b', '/nowhere'],
  ])('refuses two Host headers (%j) with 400, never routing by either', async (hosts, path) => {
    upstream.received.length = 0;
    const response = await sendRaw(direct.url, `GET ${path} HTTP/1.1\r\n${hosts}\r\n\r\n`);
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/Host/) });
    expect(response.headers['x-request-id']).toBeTruthy();
    expect(upstream.received).toEqual([]);
  });

  it('refuses an HTTP/1.1 request without Host with our JSON 400, and serves one in HTTP/1.0', async () => {
    const missing = await sendRaw(direct.url, 'GET /api/x HTTP/1.1\r\n\r\n');
    expect(missing.status).toBe(400);
    expect(missing.json()).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/Host/) });
    const old = await sendRaw(direct.url, 'GET /api/x HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(200);
    expect(old.json().url).toBe('/x');
  });
});
