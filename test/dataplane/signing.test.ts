// The signing step both target kinds share (RouteSigning): the body read
// whole within the route's limit and timeout, credentials at hand (or
// awaited while a source is on its first fetch, else 503), and SigV4
// headers the emulator's own implementation accepts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AwsCredentialIdentity } from '@smithy/types';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialSource } from '../../src/aws/credentials.ts';
import { hasBody } from '../../src/dataplane/body.ts';
import type { Exchange } from '../../src/dataplane/exchange.ts';
import { RouteSigning } from '../../src/dataplane/signing.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { send } from '../support/http.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** A source whose first fetch ends when the test says, with `credentials` (or none, saying why). */
function pendingSource(): CredentialSource & {
  settle(credentials: AwsCredentialIdentity | undefined): void;
} {
  let current: AwsCredentialIdentity | undefined;
  let settle!: () => void;
  const firstAttempt = new Promise<void>((resolve) => {
    settle = resolve;
  });
  return {
    current: () => current,
    get problem() {
      return current ? undefined : 'STS said no (test)';
    },
    firstAttempt,
    onChange: () => {},
    close: () => {},
    settle(credentials) {
      current = credentials;
      settle();
    },
  };
}

function exchangeOf(req: IncomingMessage, res: ServerResponse): Exchange {
  const [path = '', query = ''] = (req.url ?? '').split('?');
  return {
    req,
    res,
    method: req.method ?? 'GET',
    path,
    query,
    prefixEnd: path.length,
    requestId: 'test-request',
    clientIp: '127.0.0.1',
    forwarding: { peerIp: '127.0.0.1', trustedPeer: false, proto: 'http', port: '80' },
  };
}

let emulator: Emulator;
let server: Server;
let url: string;
/** Set per test: what the handler signs with. */
let signing: RouteSigning;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    endpoints: [
      {
        kind: 'execute-api',
        path: '/stage',
        auth: 'iam',
        handler: (r) => ({
          status: 200,
          body: `signed by ${r.signature?.accessKeyId}, ${r.body.length} bytes`,
        }),
      },
    ],
  });
  // A handler doing what the forwarder does with a signed route, sending to the emulator.
  server = createServer(async (req, res) => {
    const exchange = exchangeOf(req, res);
    const body = hasBody(req) ? await signing.readBody(exchange) : null;
    if (body === undefined) return;
    const host = new URL(emulator.url).host;
    const headers = ['host', host];
    const signed = signing.sign(
      exchange,
      headers,
      exchange.method,
      exchange.path,
      exchange.query,
      body ?? undefined,
    );
    if (signed !== true && !(await signed)) return;
    const answer = await request(`${emulator.url}${req.url}`, {
      method: exchange.method as 'POST',
      headers,
      body,
    });
    res.writeHead(answer.statusCode, { 'content-type': 'text/plain' });
    res.end(await answer.body.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await emulator?.close();
});

function useSigning(credentials: CredentialSource, bodyLimit = 1000, timeoutMs = 1000): void {
  signing = new RouteSigning({
    routeKey: 'default/signed',
    target: { host: new URL(emulator.url).host, region: 'us-east-1', service: 'execute-api', path: '/stage' },
    credentials,
    bodyLimit,
    tooLarge: 'too large for this route',
    timeoutMs,
  });
}

describe('RouteSigning', () => {
  it('reads the body whole and signs it so that the emulator accepts it', async () => {
    const ready = pendingSource();
    ready.settle(KEYS);
    useSigning(ready);
    const response = await send(url, { method: 'POST', path: '/stage/x?a=1', body: 'hello' });
    expect(response.text).toBe('signed by AKIDEXAMPLE, 5 bytes');
    expect(response.status).toBe(200);
  });

  it('signs a request without a body', async () => {
    const ready = pendingSource();
    ready.settle(KEYS);
    useSigning(ready);
    const response = await send(url, { path: '/stage/y' });
    expect(response.text).toBe('signed by AKIDEXAMPLE, 0 bytes');
  });

  it('waits for a source on its first fetch, then signs', async () => {
    const pending = pendingSource();
    useSigning(pending);
    const answer = send(url, { method: 'PUT', path: '/stage/z', body: 'later' });
    await new Promise((r) => setTimeout(r, 50));
    pending.settle(KEYS);
    const response = await answer;
    expect(response.text).toBe('signed by AKIDEXAMPLE, 5 bytes');
  });

  it('answers 503 CredentialsUnavailable when the first fetch gives none', async () => {
    const failing = pendingSource();
    useSigning(failing);
    const answer = send(url, { path: '/stage/z' });
    await new Promise((r) => setTimeout(r, 20));
    failing.settle(undefined);
    const response = await answer;
    expect(response.status).toBe(503);
    expect(response.json()).toEqual({
      error: 'route_not_ready',
      reason: 'CredentialsUnavailable',
      message: 'STS said no (test)',
      route: 'default/signed',
      requestId: 'test-request',
    });
  });

  it('answers 413 with the route’s message for a body over its limit, unsent', async () => {
    const ready = pendingSource();
    ready.settle(KEYS);
    useSigning(ready, 10);
    const before = emulator.requests.length;
    const response = await send(url, { method: 'POST', path: '/stage/x', body: 'x'.repeat(11) });
    expect(response.status).toBe(413);
    expect(response.json()).toMatchObject({
      error: 'payload_too_large',
      message: 'too large for this route',
    });
    expect(emulator.requests.length).toBe(before);
  });

  it('answers 408 for a body that does not arrive within the timeout', async () => {
    const ready = pendingSource();
    ready.settle(KEYS);
    useSigning(ready, 1000, 100);
    // Ten bytes announced, none sent.
    const response = await send(url, {
      method: 'POST',
      path: '/stage/x',
      headers: [['content-length', '10']],
    });
    expect(response.status).toBe(408);
    expect(response.json()).toMatchObject({ error: 'request_timeout', route: 'default/signed' });
  });
});
