// Requests refused whatever route they name, written to a raw socket: an
// HTTP/0.9-style request line with headers, versions other than 1.x, TRACE
// and CONNECT, and bodies in a transfer coding other than chunked. Each gets
// our JSON answer and the connection closed; nothing reaches an upstream or a
// function.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { sendRaw } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute, secret } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

let upstream: Server;
let emulator: Emulator;
let gw: TestGateway;
/** Everything that reached the upstream or the function, as "METHOD url". */
const reached: string[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      reached.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ headers: req.rawHeaders, body: Buffer.concat(chunks).toString() }));
    });
  });
  const url = `http://127.0.0.1:${await listenLoopback(upstream)}`;
  emulator = await startEmulator({
    credentials: [KEYS],
    functions: {
      events: {
        handler: (event) => {
          reached.push('function');
          return { statusCode: 200, body: JSON.stringify(event) };
        },
      },
    },
  });
  gw = await startTestGateway({
    'secrets.yaml': documents(credentialsSecret('keys', KEYS), secret('api-key', { key: 'ROUTE-API-KEY' })),
    'routes.yaml': documents(
      lambdaRoute(
        'open',
        `match: {path: /open, pathType: Prefix}\ntarget: {url: "${url}/", forwardSubpath: true}`,
      ),
      lambdaRoute(
        'keyed',
        `match: {path: /keyed, pathType: Prefix}
target: {url: "${url}/"}
auth: {apiKey: {secretRef: {name: api-key, key: key}}}`,
      ),
      lambdaRoute(
        'signed',
        `match: {path: /signed, pathType: Prefix}
target: {url: "${url}/"}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}`,
      ),
      lambdaRoute('get-only', `match: {path: /get-only, methods: [GET]}\ntarget: {url: "${url}/"}`),
      lambdaRoute(
        'fn',
        `match: {path: /fn, pathType: Prefix}
target: {function: {name: events, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

/** lambda_ingress_requests_total of methods outside the seven (TRACE, CONNECT) answered 501. */
async function refusedOthers(): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const labels = ['method="OTHER"', 'code="501"'];
  const line = text
    .split('\n')
    .find((l) => l.startsWith('lambda_ingress_requests_total{') && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const PATHS = ['/open/x', '/keyed/x', '/signed/x', '/get-only', '/fn/x', '/nowhere'];

/** Expects our JSON refusal, the connection closed, and nothing forwarded. */
async function expectRefused(bytes: string, status: number, error: string) {
  reached.length = 0;
  const response = await sendRaw(gw.url, bytes);
  expect(response.status, bytes).toBe(status);
  expect(response.json()).toMatchObject({ error, requestId: response.headers['x-request-id'] });
  expect(response.closed).toBe(true);
  expect(reached).toEqual([]);
  return response;
}

describe('request lines', () => {
  it.each(PATHS)('refuses an HTTP/0.9-style line with headers (GET %s) with 400', async (path) => {
    await expectRefused(`GET ${path}\r\nHost: test\r\n\r\n`, 400, 'bad_request');
  });

  it('refuses an HTTP/0.9-style line without headers', async () => {
    await expectRefused('GET /open/x\r\n\r\n', 400, 'bad_request');
  });

  it('answers HTTP/2.0 as text with 505', async () => {
    await expectRefused('GET /open/x HTTP/2.0\r\nHost: test\r\n\r\n', 505, 'http_version_not_supported');
  });
});

describe('methods', () => {
  it.each(PATHS)('refuses TRACE %s with 501, also where methods are not listed', async (path) => {
    const response = await expectRefused(
      `TRACE ${path} HTTP/1.1\r\nHost: test\r\nMax-Forwards: 5\r\n\r\n`,
      501,
      'not_implemented',
    );
    expect(response.body).not.toContain('ROUTE-API-KEY');
  });

  it('refuses CONNECT with our JSON 501, logged and counted', async () => {
    const before = await refusedOthers();
    const response = await expectRefused(
      'CONNECT test:443 HTTP/1.1\r\nHost: test:443\r\n\r\n',
      501,
      'not_implemented',
    );
    const requestId = response.headers['x-request-id']!;
    const [line] = gw.logs.filter((l) => l.includes(requestId));
    expect(JSON.parse(line!)).toMatchObject({ log: 'access', method: 'CONNECT', status: 501 });
    expect(await refusedOthers()).toBe(before + 1);
  });
});

describe('transfer codings', () => {
  const chunked = 'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
  it.each(
    ['/open/x', '/signed/x', '/fn/x'].flatMap((path) =>
      [
        'Transfer-Encoding: gzip, chunked\r\n',
        'Transfer-Encoding: identity, chunked\r\n',
        'Transfer-Encoding: x-custom, chunked\r\n',
        'Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n',
        'Transfer-Encoding: deflate\r\ntransfer-encoding: chunked\r\n',
      ].map((codings) => [path, codings] as const),
    ),
  )('refuses POST %s with %j with 501 instead of dropping the coding', async (path, codings) => {
    await expectRefused(
      `POST ${path} HTTP/1.1\r\nHost: test\r\n${codings}\r\n3\r\nabc\r\n0\r\n\r\n`,
      501,
      'not_implemented',
    );
  });

  it('refuses Transfer-Encoding in HTTP/1.0 with 400', async () => {
    await expectRefused(`POST /open/x HTTP/1.0\r\nHost: test\r\n${chunked}`, 400, 'bad_request');
  });

  it('forwards a chunked body (in any case), and never passes the client TE header on', async () => {
    reached.length = 0;
    const response = await sendRaw(
      gw.url,
      'POST /open/x HTTP/1.1\r\nHost: test\r\nTE: gzip, trailers\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    expect(response.status).toBe(200);
    const seen = response.json();
    expect(seen.body).toBe('abc');
    expect(seen.headers.map((h: string) => h.toLowerCase())).not.toContain('te');
    expect(reached).toEqual(['POST /x']);
  });
});
