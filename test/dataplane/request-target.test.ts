// Request targets no HTTP client library sends, written to a raw socket:
// malformed percent-escapes, fragments, absolute-form and asterisk-form
// targets. Each is answered by lambda-ingress itself (JSON, x-request-id,
// logged and counted, never quoting the query) or reaches the upstream or
// function in origin-form, routed by what it names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { type EchoUpstream, startEchoUpstream } from '../support/echo-upstream.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { sendRaw } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

let upstream: EchoUpstream;
let emulator: Emulator;
let gw: TestGateway;

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
  const vhost = (name: string, host: string, target: string) =>
    lambdaRoute(
      name,
      `hosts: [${host}]
match: {path: /, pathType: Prefix}
target: {url: "${target}", forwardSubpath: true}`,
    );
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute(
        'api',
        `match: {path: /api, pathType: Prefix}\ntarget: {url: "${url}/base", forwardSubpath: true}`,
      ),
      lambdaRoute('fixed', `match: {path: /fixed}\ntarget: {url: "${url}/fixed/target"}`),
      vhost('ngx', 'ngx.test', `${url}/ngx-vhost`),
      vhost('local', 'localhost', `${url}/localhost-vhost`),
      vhost('based', 'base.test', `${url}/echo/base`),
      fn('v2', '2.0'),
      fn('v1', '1.0'),
      fn('alb', 'alb'),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
  await upstream?.close();
});

const request = (line: string, headers = 'Host: test\r\n') => sendRaw(gw.url, `${line}\r\n${headers}\r\n`);

/** lambda_ingress_requests_total for GET requests that matched no route, with this status. */
async function unroutedGets(code: string): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const labels = ['route="(none)"', 'method="GET"', `code="${code}"`];
  const line = text
    .split('\n')
    .find((l) => l.startsWith('lambda_ingress_requests_total{') && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('malformed percent-escapes in the path', () => {
  it.each([
    '/api/x%zz',
    '/api/%ff',
    '/api/100%',
    '/api/%',
    '/api/%e2%82',
    '/api/%c0%ae%c0%ae',
    '/fixed%zz',
    '/v2/%zz',
    '/v1/%ff',
    '/alb/100%',
    '/nowhere/%zz',
  ])('%s gets our JSON 400, logged and counted, never quoting the query', async (path) => {
    upstream.received.length = 0;
    const before = await unroutedGets('400');
    const response = await request(`GET ${path}?token=SECRET123 HTTP/1.1`);
    expect(response.status).toBe(400);
    const requestId = response.headers['x-request-id'];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.json()).toEqual({
      error: 'bad_request',
      message: expect.stringMatching(/percent-escape/),
      requestId,
    });
    expect(response.body).not.toMatch(/SECRET123|token/);
    expect(response.closed).toBe(true);
    expect(upstream.received).toEqual([]);
    const access = gw.logs.filter((l) => l.includes(requestId!)).map((l) => JSON.parse(l));
    expect(access).toEqual([expect.objectContaining({ log: 'access', status: 400, path, method: 'GET' })]);
    expect(gw.logs.join('\n')).not.toContain('SECRET123');
    expect(await unroutedGets('400')).toBe(before + 1);
  });

  it('leaves malformed escapes in the query to the upstream', async () => {
    const response = await request('GET /api/x?q=%zz&r=100% HTTP/1.1');
    expect(response.status).toBe(200);
    expect(response.json().url).toBe('/base/x?q=%zz&r=100%');
  });

  it.each(['/api/a#b', '/api/x?token=SECRET123#frag', '/v2/a#'])(
    'refuses a raw "#" in %s with 400, logging the path without it',
    async (target) => {
      upstream.received.length = 0;
      const response = await request(`GET ${target} HTTP/1.1`);
      expect(response.status).toBe(400);
      expect(response.json()).toMatchObject({ error: 'bad_request' });
      expect(response.body).not.toContain('SECRET123');
      expect(upstream.received).toEqual([]);
      const [line] = gw.logs.filter((l) => l.includes(response.headers['x-request-id']!));
      expect(JSON.parse(line!).path).toBe(target.split(/[?#]/)[0]);
    },
  );
});

describe('absolute-form request targets', () => {
  it('routes by the authority and path, and sends origin-form upstream', async () => {
    upstream.received.length = 0;
    const response = await request('GET http://ngx.test/x?a=1 HTTP/1.1', 'Host: ngx.test\r\n');
    expect(response.status).toBe(200);
    expect(response.json().url).toBe('/ngx-vhost/x?a=1');
    expect(await request('GET HTTP://NGX.test:80/y HTTP/1.1', 'Host: ngx.test\r\n')).toMatchObject({
      status: 200,
    });
    expect(upstream.received).toEqual(['/ngx-vhost/x?a=1', '/ngx-vhost/y']);
  });

  it('appends only the path to a base path, also for an authority without a path', async () => {
    const based = await request('GET http://base.test/x HTTP/1.1', 'Host: base.test\r\n');
    expect(based.json().url).toBe('/echo/base/x');
    const bare = await request('GET http://base.test?q=1 HTTP/1.1', 'Host: base.test\r\n');
    expect(bare.json().url).toBe('/echo/base/?q=1');
    const fixed = await request('GET http://test/fixed HTTP/1.1');
    expect(fixed.json().url).toBe('/fixed/target');
  });

  it('refuses a Host that names another authority, so neither virtual host is reached', async () => {
    upstream.received.length = 0;
    for (const [line, host] of [
      ['GET http://localhost/ HTTP/1.1', 'ngx.test'],
      ['GET http://evilhost/x HTTP/1.1', 'base.test'],
      ['GET http://ngx.test:8080/x HTTP/1.1', 'ngx.test'],
    ]) {
      const response = await request(line!, `Host: ${host}\r\n`);
      expect(response.status, line).toBe(400);
      expect(response.json()).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/Host/) });
    }
    expect(upstream.received).toEqual([]);
  });

  it('routes an HTTP/1.0 absolute-form request without Host by its authority', async () => {
    const response = await request('GET http://ngx.test/old HTTP/1.0', '');
    expect(response.json().url).toBe('/ngx-vhost/old');
  });

  it('refuses userinfo, other schemes and an empty authority, never logging the userinfo', async () => {
    upstream.received.length = 0;
    for (const line of [
      'GET http://user:pass@test/api/x HTTP/1.1',
      'GET ftp://test/api/x HTTP/1.1',
      'GET http:///api/x HTTP/1.1',
      'GET http://.test/api/x HTTP/1.1',
    ]) {
      const response = await request(line);
      expect(response.status, line).toBe(400);
      expect(response.json().error).toBe('bad_request');
    }
    expect(upstream.received).toEqual([]);
    expect(gw.logs.join('\n')).not.toContain('pass@');
  });

  it.each([
    ['v2', 'rawPath', 'rawQueryString', 'y=1'],
    ['v1', 'path', 'queryStringParameters', { y: '1' }],
    ['alb', 'path', 'multiValueQueryStringParameters', { y: ['1'] }],
  ])('gives a function (%s) the origin-form path and query', async (name, pathField, queryField, query) => {
    const response = await request(`GET http://test/${name}/a%20b?y=1 HTTP/1.1`);
    expect(response.status).toBe(200);
    const event = response.json();
    expect(event[pathField]).toBe(`/${name}/a%20b`);
    expect(event[queryField]).toEqual(query);
  });
});

describe('the asterisk-form', () => {
  it('answers OPTIONS * itself with 204 and Allow, never forwarding "*"', async () => {
    upstream.received.length = 0;
    const response = await request('OPTIONS * HTTP/1.1');
    expect(response.status).toBe(204);
    expect(response.headers['allow']).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
    const requestId = response.headers['x-request-id'];
    expect(requestId).toBeTruthy();
    expect(upstream.received).toEqual([]);
    const [line] = gw.logs.filter((l) => l.includes(requestId!));
    expect(JSON.parse(line!)).toMatchObject({ method: 'OPTIONS', path: '*', status: 204 });
  });

  it.each(['GET', 'POST', 'DELETE'])('refuses %s * with 400', async (method) => {
    const response = await request(
      `${method} * HTTP/1.1`,
      `Host: test\r\n${method === 'POST' ? 'Content-Length: 0\r\n' : ''}`,
    );
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({
      error: 'bad_request',
      message: expect.stringMatching(/OPTIONS/),
    });
    expect(upstream.received).toEqual([]);
  });
});
