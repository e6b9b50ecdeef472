// A client that goes away before its response is complete is logged and
// counted as 499 with upstreamError client_closed, whatever the target and
// whenever it leaves: while the upstream has not answered, in the middle of
// the response body, or in the middle of its own request body.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';
import { type RawUpstream, startRawUpstream } from '../support/raw-upstream.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

let emulator: Emulator;
/** Answers requests for /stall (and the function "stall") never, /partial with headers and 5 of 100 body bytes, anything else at once. */
let upstream: RawUpstream;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    functions: {
      slow: {
        handler: () => new Promise((r) => setTimeout(() => r({ statusCode: 200, body: 'late' }), 1500)),
      },
    },
  });
  upstream = await startRawUpstream((socket, request) => {
    if (request.line.includes('/stall')) return;
    if (request.line.includes('/partial')) {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello');
      return;
    }
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  const fn = (name: string, path: string, spec: string) =>
    lambdaRoute(
      name,
      `match: {path: ${path}}
target: {function: {${spec}}}
auth: {iam: {secretRef: {name: keys}}}
timeout: 10s`,
    );
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute(
        'open',
        `match: {path: /open, pathType: Prefix}\ntarget: {url: "${upstream.url}", forwardSubpath: true}\ntimeout: 10s`,
      ),
      lambdaRoute(
        'signed',
        `match: {path: /signed}
target: {url: "${emulator.url}/prod"}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}
timeout: 10s`,
      ),
      fn('fn', '/fn', `name: slow, endpoint: "${emulator.url}"`),
      // An Invoke API that never answers, for an Event invocation the client does not wait for.
      fn('event', '/event', `name: stall, endpoint: "${upstream.url}", invocationType: Event`),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([emulator?.close(), upstream?.close()]);
});

/**
 * Sends `head` (and `body`, when given, as part of a longer declared length),
 * then closes the connection once `until` has been received (or at once).
 */
function abandon(
  head: string,
  options: { body?: string; length?: number; until?: string; afterMs?: number },
) {
  const url = new URL(gw.url);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => {});
  const length = options.length === undefined ? '' : `Content-Length: ${options.length}\r\n`;
  socket.write(`${head}\r\nHost: ${url.host}\r\n${length}\r\n${options.body ?? ''}`);
  let received = '';
  socket.on('data', (data) => {
    received += data;
    if (options.until && received.includes(options.until)) socket.destroy();
  });
  if (!options.until) setTimeout(() => socket.destroy(), options.afterMs ?? 200);
}

async function accessLine(route: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const line = gw.accessLog().find((l) => l['route'] === route);
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no access log line for ${route}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a client closing the connection first', () => {
  it.each([
    ['before a url upstream answered', 'open', 'GET /open/stall HTTP/1.1', {}],
    ['in the middle of the response body', 'open', 'GET /open/partial HTTP/1.1', { until: 'hello' }],
    [
      'in the middle of a signed request body',
      'signed',
      'POST /signed HTTP/1.1',
      { body: 'half', length: 10 },
    ],
    ['before the function answered', 'fn', 'GET /fn HTTP/1.1', {}],
    ['in the middle of a function request body', 'fn', 'POST /fn HTTP/1.1', { body: 'half', length: 10 }],
    ['before an Event invocation was accepted', 'event', 'POST /event HTTP/1.1', { body: '{}', length: 2 }],
  ] as const)('%s is logged as 499 client_closed', async (_name, route, head, options) => {
    abandon(head, options);
    const line = await accessLine(route);
    expect(line).toMatchObject({ status: 499, upstreamError: 'client_closed' });
    gw.logs.length = 0;
  });

  it('is counted as code 499 and upstream error kind client_closed', async () => {
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    for (const route of ['open', 'signed', 'fn', 'event']) {
      expect(metrics).toMatch(
        new RegExp(`lambda_ingress_requests_total\\{route="${route}",[^}]*code="499"\\} [1-9]`),
      );
      expect(metrics).toMatch(
        new RegExp(
          `lambda_ingress_upstream_errors_total\\{route="${route}",[^}]*kind="client_closed"\\} [1-9]`,
        ),
      );
    }
    expect(metrics).not.toMatch(/route="(open|signed|fn|event)",[^}]*code="200"/);
  });
});
