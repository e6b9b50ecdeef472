// Request ids and trace headers: X-Request-Id is accepted or generated and
// sent upstream (and back), W3C traceparent and X-Amzn-Trace-Id pass through,
// and the API Gateway / Lambda request id comes back as x-amzn-RequestId.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const AMZN_TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [KEYS],
    endpoints: [
      {
        kind: 'execute-api',
        path: '/',
        auth: 'none',
        handler: (r) => ({ status: 200, body: JSON.stringify(r.headers) }),
      },
    ],
    functions: {
      fn: {
        handler: (event) => ({
          statusCode: 200,
          body: JSON.stringify((event as { headers: object }).headers),
        }),
      },
    },
  });
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute('url', `match: {path: /url}\ntarget: {url: "${emulator.url}/"}`),
      lambdaRoute(
        'fn',
        `match: {path: /fn}
target: {function: {name: fn, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
});

const value = (headers: [string, string][], name: string) =>
  headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

it('passes the client X-Request-Id, traceparent and X-Amzn-Trace-Id to a url target, and returns the ids', async () => {
  const response = await send(gw.url, {
    path: '/url',
    headers: [
      ['x-request-id', 'client-chosen-id-42'],
      ['traceparent', TRACEPARENT],
      ['x-amzn-trace-id', AMZN_TRACE],
    ],
  });
  const seen: [string, string][] = response.json();
  expect(value(seen, 'x-request-id')).toEqual(['client-chosen-id-42']);
  expect(value(seen, 'traceparent')).toEqual([TRACEPARENT]);
  expect(value(seen, 'x-amzn-trace-id')).toEqual([AMZN_TRACE]);
  expect(response.headers['x-request-id']).toBe('client-chosen-id-42');
  expect(response.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
});

it('generates a request id when the client sends none (or an unusable one)', async () => {
  for (const headers of [[], [['x-request-id', 'has spaces and "quotes"']]] as [string, string][][]) {
    const response = await send(gw.url, { path: '/url', headers });
    const sent = value(response.json(), 'x-request-id');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers['x-request-id']).toBe(sent[0]);
  }
});

it('gives function targets the trace headers in the event and returns the Lambda request id', async () => {
  const response = await send(gw.url, {
    path: '/fn',
    headers: [
      ['traceparent', TRACEPARENT],
      ['x-amzn-trace-id', AMZN_TRACE],
    ],
  });
  expect(response.status).toBe(200);
  expect(response.json()).toMatchObject({ traceparent: TRACEPARENT, 'x-amzn-trace-id': AMZN_TRACE });
  const invoked = emulator.requests.filter((r) => r.service === 'lambda-invoke').at(-1)!;
  expect(value(invoked.headers as [string, string][], 'x-amzn-trace-id')).toEqual([AMZN_TRACE]);
  expect(response.headers['x-amzn-requestid']).toBe(emulator.invocations.at(-1)!.requestId);
  expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
});
