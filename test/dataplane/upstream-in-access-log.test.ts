// The access log line of a 502 or 504 names the upstream (host:port) that
// could not be reached or did not answer, for url and function targets, and
// never its path or query; answered requests do not carry the field.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';
import { type RawUpstream, startRawUpstream } from '../support/raw-upstream.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** Never answers /stall; answers anything else. */
let upstream: RawUpstream;
let gw: TestGateway;
let upstreamHost: string;

beforeAll(async () => {
  upstream = await startRawUpstream((socket, request) => {
    if (!request.line.includes('/stall')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  upstreamHost = new URL(upstream.url).host;
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute('refused', 'match: {path: /refused}\ntarget: {url: "http://127.0.0.1:1/secret/base"}'),
      lambdaRoute('tls-refused', 'match: {path: /tls-refused}\ntarget: {url: "https://127.0.0.1:1/"}'),
      lambdaRoute(
        'stalled',
        `match: {path: /stalled, pathType: Prefix}\ntarget: {url: "${upstream.url}/stall", forwardSubpath: true}\ntimeout: 300ms`,
      ),
      lambdaRoute('answered', `match: {path: /answered}\ntarget: {url: "${upstream.url}/"}`),
      lambdaRoute(
        'fn-refused',
        `match: {path: /fn-refused}
target: {function: {name: fn, endpoint: "http://127.0.0.1:1"}}
auth: {iam: {secretRef: {name: keys}}}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const lineOf = (response: { headers: Record<string, unknown> }) =>
  gw.accessLog().find((l) => l['requestId'] === response.headers['x-request-id']);

it.each([
  ['a refused url upstream', '/refused?token=SECRET', 502, () => '127.0.0.1:1'],
  ['a refused https upstream', '/tls-refused', 502, () => '127.0.0.1:1'],
  ['a url upstream that does not answer in time', '/stalled/x?token=SECRET', 504, () => upstreamHost],
  ['an unreachable Invoke API', '/fn-refused?token=SECRET', 502, () => '127.0.0.1:1'],
])('%s: the access log names host:port only', async (_name, path, status, host) => {
  const response = await send(gw.url, { path });
  expect(response.status).toBe(status);
  const line = lineOf(response);
  expect(line).toMatchObject({ status, upstream: host() });
  expect(JSON.stringify(line)).not.toMatch(/SECRET/);
});

it('leaves the field out when the upstream answered', async () => {
  const response = await send(gw.url, { path: '/answered' });
  expect(response.status).toBe(200);
  expect(lineOf(response)).not.toHaveProperty('upstream');
});
