// A handler that throws (a bug) still gives its request a 500
// internal_error, an access log line and a request metric with status 500,
// counts an uncaught error, and logs the error in the application log only.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.ts';
import { SERVING_DEFAULTS } from '../../src/config.ts';
import { DataPlane } from '../../src/dataplane/data-plane.ts';
import type { Exchange } from '../../src/dataplane/exchange.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { parseManifests, snapshotOf } from '../../src/sources/manifests.ts';
import { createLoggers } from '../../src/util/log.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute } from '../support/manifests.ts';

const logs: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line));
    done();
  },
});
const metrics = new Metrics({ routeHistograms: false });
const dataPlane = new DataPlane({
  ...SERVING_DEFAULTS,
  loggers: createLoggers('info', sink),
  metrics,
  host: '127.0.0.1',
  port: 0,
  reusePort: false,
});

beforeAll(async () => {
  const result = compile(
    snapshotOf(
      parseManifests(
        documents(
          lambdaRoute('before', 'match: {path: /before}\ntarget: {url: "http://127.0.0.1:1/"}'),
          lambdaRoute('after', 'match: {path: /after}\ntarget: {url: "http://127.0.0.1:1/"}'),
        ),
        'inline.yaml',
      ),
    ),
    1,
  );
  const routeNamed = (name: string) => result.table.routes.find((route) => route.name === name)!;
  // Handlers with a bug: one throws before it answers, one after it has begun its response.
  const throwsBefore = {
    handle(_exchange: Exchange) {
      throw new Error('boom at token=SECRET-IN-ERROR');
    },
  };
  const throwsAfter = {
    // It reports the failure through `done`, as an asynchronous handler would.
    handle(exchange: Exchange, done: (failure: unknown) => void) {
      exchange.res.writeHead(200, { 'content-length': '10' });
      exchange.res.write('part');
      setImmediate(() => done(new Error('boom')));
    },
  };
  dataPlane.router.swap({
    table: result.table,
    handlers: new Map([
      [routeNamed('before'), throwsBefore],
      [routeNamed('after'), throwsAfter],
    ]),
  });
  await dataPlane.start();
});
afterAll(() => dataPlane.drain(0));

const accessLineOf = (requestId: unknown) =>
  logs.find((line) => line['log'] === 'access' && line['requestId'] === requestId);

async function samples(name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(name));
}

it('answers 500 internal_error, logs the access line and counts the request', async () => {
  const response = await send(dataPlane.url, { path: '/before?token=SECRET-IN-QUERY' });
  expect(response.status).toBe(500);
  expect(response.json()).toMatchObject({ error: 'internal_error' });
  const line = accessLineOf(response.headers['x-request-id']);
  expect(line).toMatchObject({
    route: 'before',
    namespace: 'default',
    method: 'GET',
    path: '/before',
    status: 500,
  });
  expect(JSON.stringify(line)).not.toMatch(/SECRET/);
  expect(await samples('lambda_ingress_requests_total{')).toContain(
    'lambda_ingress_requests_total{route="before",namespace="default",method="GET",code="500"} 1',
  );
  expect(await samples('lambda_ingress_uncaught_errors_total ')).toEqual([
    'lambda_ingress_uncaught_errors_total 1',
  ]);
  const failed = logs.find(
    (l) => l['msg'] === 'request failed' && l['requestId'] === response.headers['x-request-id'],
  );
  expect(failed).toBeDefined();
});

it('counts a response cut short by a handler failure as 500, not as the client closing', async () => {
  await expect(send(dataPlane.url, { path: '/after' })).rejects.toThrow();
  await new Promise((r) => setTimeout(r, 50));
  const line = logs.findLast((l) => l['log'] === 'access' && l['route'] === 'after');
  expect(line).toMatchObject({ status: 500 });
  expect(line).not.toHaveProperty('upstreamError');
  expect(await samples('lambda_ingress_requests_total{route="after"')).toEqual([
    'lambda_ingress_requests_total{route="after",namespace="default",method="GET",code="500"} 1',
  ]);
});
