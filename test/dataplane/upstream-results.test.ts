// What a function or url upstream answers that cannot be passed on as it is:
// headers Node refuses or that would break the framing, ids the proxy sets
// itself, bodies a status or method must not have, results over Lambda's
// limit, and status codes outside HTTP's range. Each is answered cleanly and
// logged; none makes a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { rawExchange, send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';
import { type RawUpstream, startRawUpstream } from '../support/raw-upstream.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** Headers no function may set as they are: hop-by-hop, framing, and the proxy's own ids. */
const HOSTILE_HEADERS = {
  Trailer: 'x-checksum',
  'Transfer-Encoding': 'chunked',
  'Content-Length': '1',
  Connection: 'close',
  'Keep-Alive': 'timeout=1',
  Upgrade: 'h2c',
  TE: 'trailers',
  'X-Request-Id': 'the-function-s-own',
  'x-kept': 'yes',
};

let emulator: Emulator;
/** A url upstream and an Invoke API that answer with raw bytes chosen by the path. */
let raw: RawUpstream;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    functions: {
      'hostile-v2': { handler: () => ({ statusCode: 200, headers: HOSTILE_HEADERS, body: 'hello' }) },
      'hostile-v1': {
        handler: () => ({
          statusCode: 200,
          multiValueHeaders: Object.fromEntries(Object.entries(HOSTILE_HEADERS).map(([k, v]) => [k, [v]])),
          body: 'hello',
        }),
      },
      'no-content': {
        handler: () => ({ statusCode: 204, headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      },
      'not-modified': { handler: () => ({ statusCode: 304, headers: { etag: '"v1"' }, body: 'hello' }) },
      hello: {
        handler: () => ({ statusCode: 200, headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      },
    },
  });
  raw = await startRawUpstream((socket, request) => {
    const path = request.line.split(' ')[1] ?? '';
    if (path.includes('/functions/huge/')) {
      // Lambda never answers more than 6 MB; an endpoint that does is broken.
      const body = JSON.stringify({ statusCode: 200, body: 'x'.repeat(7_000_000) });
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
    } else if (path === '/status/bad-header') {
      socket.write('HTTP/1.1 200 OK\r\nx-bad: a\x01b\r\ncontent-length: 2\r\n\r\nok');
    } else if (path.startsWith('/status/')) {
      const status = path.slice('/status/'.length);
      socket.write(`HTTP/1.1 ${status} Whatever\r\ncontent-length: 2\r\n\r\nok`);
    }
  });
  const fn = (name: string, format = '2.0') =>
    lambdaRoute(
      name,
      `match: {path: /${name}}
target: {function: {name: ${name}, endpoint: "${emulator.url}", payloadFormat: "${format}"}}
auth: {iam: {secretRef: {name: keys}}}`,
    );
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      fn('hostile-v2'),
      fn('hostile-v1', '1.0'),
      fn('no-content'),
      fn('not-modified'),
      fn('hello'),
      lambdaRoute(
        'huge',
        `match: {path: /huge}
target: {function: {name: huge, endpoint: "${raw.url}"}}
auth: {iam: {secretRef: {name: keys}}}`,
      ),
      lambdaRoute(
        'raw',
        `match: {path: /status, pathType: Prefix}\ntarget: {url: "${raw.url}/status", forwardSubpath: true}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([emulator?.close(), raw?.close()]);
});

const accessLineOf = (requestId: unknown) => gw.accessLog().find((line) => line['requestId'] === requestId);

describe('function results', () => {
  it.each([
    ['2.0 headers', '/hostile-v2'],
    ['1.0 multiValueHeaders', '/hostile-v1'],
  ])(
    '%s: hop-by-hop, framing and id headers are dropped, the response is sent and logged',
    async (_name, path) => {
      const response = await send(gw.url, { path });
      expect(response.status, response.text).toBe(200);
      expect(response.text).toBe('hello');
      expect(response.headers['x-kept']).toBe('yes');
      for (const name of ['trailer', 'transfer-encoding', 'upgrade', 'te', 'keep-alive']) {
        expect(response.headers[name], name).toBeUndefined();
      }
      expect(response.headers['content-length']).toBe('5');
      const requestIds = response.rawHeaders.filter(
        (_, i, all) => i % 2 === 0 && /^x-request-id$/i.test(all[i]!),
      );
      expect(requestIds).toHaveLength(1);
      expect(response.headers['x-request-id']).not.toBe('the-function-s-own');
      expect(accessLineOf(response.headers['x-request-id'])).toMatchObject({ status: 200 });
      expect(gw.logs.join('\n')).not.toMatch(/request failed|internal_error/);
    },
  );

  it.each([
    ['204', '/no-content'],
    ['304', '/not-modified'],
  ])(
    'a %s is sent without a body or Content-Length, and the connection stays usable',
    async (status, path) => {
      const answer = await rawExchange(gw.url, `GET ${path} HTTP/1.1`);
      expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      const [head, ...rest] = answer.split('\r\n\r\n');
      expect(rest.join('')).toBe('');
      expect(head).not.toMatch(/content-length/i);
    },
  );

  it('answers HEAD with the length of the body but not the body', async () => {
    const answer = await rawExchange(gw.url, 'HEAD /hello HTTP/1.1');
    const [head, ...rest] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\ncontent-length: 5\r\n/i);
    expect(rest.join('')).toBe('');
  });

  it('answers 502 bad_upstream_response for a result over Lambda’s 6 MB limit', async () => {
    const response = await send(gw.url, { path: '/huge' });
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ error: 'bad_upstream_response', route: 'default/huge' });
    expect(accessLineOf(response.headers['x-request-id'])).toMatchObject({
      status: 502,
      upstreamError: 'bad_response',
    });
  });
});

describe('url upstream status codes', () => {
  it.each(['999', '600', '099'])('status %s is not passed on: 502 bad_upstream_response', async (status) => {
    const response = await send(gw.url, { path: `/status/${status}` });
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ error: 'bad_upstream_response', route: 'default/raw' });
    expect(accessLineOf(response.headers['x-request-id'])).toMatchObject({
      status: 502,
      upstreamError: 'bad_response',
    });
  });

  it('a control character in a header: 502 bad_upstream_response', async () => {
    const response = await send(gw.url, { path: '/status/bad-header' });
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ error: 'bad_upstream_response', route: 'default/raw' });
  });

  it('passes the codes HTTP defines through', async () => {
    for (const status of [200, 418, 599])
      expect((await send(gw.url, { path: `/status/${status}` })).status).toBe(status);
  });
});
