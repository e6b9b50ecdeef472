// Every wait of a request is bounded by its route's timeout: a client's body
// that trickles in gets 408 (whether it is buffered for signing, encoded into
// a Lambda event or streamed upstream), a request waiting for one of a
// route's capped connections gets 504, and slow uploads to one route never
// hold up another, nor other requests of the same route beyond their bound.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';
import { finalStatus, slowUpload } from '../support/raw-upstream.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

let emulator: Emulator;
/** Reads the whole body, then answers; /trickle answers at once and sends its body a byte every 200 ms for 2.4 s. */
let upstream: Server;
let other: Server;
let gw: TestGateway;
let open = 0;
let mostOpen = 0;

async function listen(server: Server): Promise<string> {
  return `http://127.0.0.1:${await listenLoopback(server)}`;
}

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    functions: { echo: { handler: () => ({ statusCode: 200, body: 'ok' }) } },
  });
  upstream = createServer((req, res) => {
    open++;
    mostOpen = Math.max(mostOpen, open);
    res.on('close', () => open--);
    if (req.url?.startsWith('/trickle')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const timer = setInterval(() => {
        if (++sent < 12) return void res.write('.');
        clearInterval(timer);
        res.end();
      }, 200);
      res.on('close', () => clearInterval(timer));
      return;
    }
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  other = createServer((_req, res) => res.end('elsewhere'));
  const [upstreamUrl, otherUrl] = await Promise.all([listen(upstream), listen(other)]);
  const url = (base: string) => `target: {url: "${base}", forwardSubpath: true}`;
  const capped = 'timeout: 2s\nkeepalive: {maxConnections: 2}';
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute('open', `match: {path: /open, pathType: Prefix}\n${url(upstreamUrl)}\ntimeout: 2s`),
      lambdaRoute(
        'signed',
        `match: {path: /signed, pathType: Prefix}
${url(upstreamUrl)}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}
timeout: 2s`,
      ),
      lambdaRoute(
        'fn',
        `match: {path: /fn}
target: {function: {name: echo, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}
timeout: 2s`,
      ),
      // Two routes sharing one capped pool (same upstream, same settings), and one on another upstream.
      lambdaRoute('capped', `match: {path: /capped, pathType: Prefix}\n${url(upstreamUrl)}\n${capped}`),
      lambdaRoute('sibling', `match: {path: /sibling, pathType: Prefix}\n${url(upstreamUrl)}\n${capped}`),
      lambdaRoute('elsewhere', `match: {path: /elsewhere, pathType: Prefix}\n${url(otherUrl)}\ntimeout: 2s`),
      lambdaRoute(
        'single',
        `match: {path: /single, pathType: Prefix}\n${url(upstreamUrl)}\ntimeout: 1s\nkeepalive: {maxConnections: 1}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
  await Promise.all([upstream, other].map((s) => new Promise((r) => s?.close(r))));
});

describe('request deadlines', () => {
  it.each([
    ['a streamed body (unsigned url)', 'POST /open/upload HTTP/1.1', 'default/open'],
    ['a body buffered for signing', 'POST /signed/upload HTTP/1.1', 'default/signed'],
    ['a body for a Lambda event', 'POST /fn HTTP/1.1', 'default/fn'],
  ])(
    '%s sent at 1 byte/s gets 408 request_timeout and the connection is closed',
    { timeout: 15_000 },
    async (_name, head, route) => {
      const upload = slowUpload(gw.url, head, 100);
      const answer = await upload.response;
      expect(finalStatus(answer)).toBe(408);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
      expect(answer).toMatch(/\r\nx-request-id: /i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
        error: 'request_timeout',
        route,
      });
      expect(gw.accessLog().find((l) => `default/${l['route']}` === route)).toMatchObject({ status: 408 });
    },
  );

  it('answers 504 to a request that waited longer than the timeout for a capped connection', {
    timeout: 15_000,
  }, async () => {
    // The only connection is taken by a response that keeps sending, each gap shorter than the timeout.
    const holder = send(gw.url, { path: '/single/trickle' });
    await new Promise((r) => setTimeout(r, 200));
    const waiting = await send(gw.url, { path: '/single/x' });
    expect(waiting.status).toBe(504);
    expect(waiting.json()).toMatchObject({ error: 'upstream_timeout', route: 'default/single' });
    const line = gw.accessLog().find((l) => l['requestId'] === waiting.headers['x-request-id']);
    expect(line).toMatchObject({ status: 504, upstreamError: 'queue_timeout' });
    expect((await holder).status).toBe(200);
  });

  it('slow uploads holding every connection of a route delay no other route, and its own requests only within their timeout', {
    timeout: 20_000,
  }, async () => {
    const order: string[] = [];
    const track = <T>(name: string, promise: Promise<T>) =>
      promise.then((value) => {
        order.push(name);
        return value;
      });
    const uploads = [1, 2].map((i) =>
      track(`upload${i}`, slowUpload(gw.url, 'POST /capped/upload HTTP/1.1', 100).response),
    );
    await new Promise((r) => setTimeout(r, 300));
    const [same, sibling, elsewhere] = await Promise.all([
      track('same', send(gw.url, { path: '/capped/get' })),
      track('sibling', send(gw.url, { path: '/sibling/get' })),
      track('elsewhere', send(gw.url, { path: '/elsewhere/get' })),
    ]);
    const answers = await Promise.all(uploads);
    expect(answers.map(finalStatus)).toEqual([408, 408]);
    expect(elsewhere.status).toBe(200);
    // A route on another upstream is answered while the uploads still hold their connections.
    expect(order.indexOf('elsewhere')).toBeLessThan(
      Math.min(order.indexOf('upload1'), order.indexOf('upload2')),
    );
    // Requests for the capped upstream get a connection once the uploads are cut off, or their 504.
    for (const response of [same, sibling]) {
      expect([200, 504]).toContain(response.status);
      if (response.status === 504) expect(response.json()).toMatchObject({ error: 'upstream_timeout' });
    }
    expect(mostOpen).toBeLessThanOrEqual(2);
  });
});
