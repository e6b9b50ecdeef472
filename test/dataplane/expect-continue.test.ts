// Expect: 100-continue. A request that is refused from its headers alone (a
// Content-Length over the limit, no route) gets its answer without 100
// Continue, so its body is never sent; one whose body will be read gets 100
// Continue first, on every kind of route.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, type EndpointRequest, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const echoLength = (req: EndpointRequest) => ({ status: 200, body: `got ${req.body.length}` });

let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    endpoints: [
      { kind: 'execute-api', path: '/prod', auth: 'iam', handler: echoLength },
      { kind: 'execute-api', path: '/open', auth: 'none', handler: echoLength },
    ],
    functions: {
      echo: {
        handler: (event) => ({ statusCode: 200, body: `got ${(event as { body: string }).body.length}` }),
      },
    },
  });
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute(
        'signed',
        `match: {path: /signed}
target: {url: "${emulator.url}/prod"}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}`,
      ),
      lambdaRoute('open', `match: {path: /open}\ntarget: {url: "${emulator.url}/open"}`),
      lambdaRoute(
        'fn',
        `match: {path: /fn}
target: {function: {name: echo, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
});

/**
 * Sends the head of a POST with Expect: 100-continue and waits, as curl does,
 * for the server's first answer; sends the body only if that is 100 Continue.
 * Resolves with everything received once the final response is complete.
 */
function expectContinue(path: string, length: number): Promise<{ first: string | undefined; all: string }> {
  const url = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    let first: string | undefined;
    socket.on('error', reject);
    socket.on('data', (data) => {
      received += data.toString('latin1');
      if (first === undefined && received.includes('\r\n')) {
        first = received.slice(0, received.indexOf('\r\n'));
        if (first.startsWith('HTTP/1.1 100 ')) socket.write(Buffer.alloc(length, 'x'));
      }
      const final = received.replace(/^HTTP\/1\.1 100 [^\r]*\r\n\r\n/, '');
      const end = final.indexOf('\r\n\r\n');
      const declared = /\r\ncontent-length: (\d+)/i.exec(final.slice(0, end));
      if (end !== -1 && declared && final.length >= end + 4 + Number(declared[1])) {
        resolve({ first, all: received });
        socket.destroy();
      }
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`,
    );
  });
}

describe('Expect: 100-continue', () => {
  it.each([
    ['a signed route, over the signing limit', '/signed', 7 * 1024 * 1024, 413],
    ['a function route, over the Lambda limit', '/fn', 7 * 1024 * 1024, 413],
    ['no route', '/nowhere', 1000, 404],
  ])('%s: the answer comes without 100 Continue and no body is sent', async (_name, path, length, status) => {
    const before = emulator.requests.length;
    const { first } = await expectContinue(path, length);
    expect(first).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(emulator.requests.length).toBe(before);
  });

  it.each([
    ['a signed route', '/signed'],
    ['an unsigned route, streaming the body', '/open'],
    ['a function route', '/fn'],
  ])('%s: 100 Continue, then the body is read and forwarded', async (_name, path) => {
    const { first, all } = await expectContinue(path, 1234);
    expect(first).toBe('HTTP/1.1 100 Continue');
    expect(all).toMatch(/\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(all.endsWith('got 1234')).toBe(true);
  });
});
