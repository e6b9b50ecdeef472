// /metrics after a known sequence of requests: exact counts and label sets.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute } from '../support/manifests.ts';

let emulator: Emulator;
let gw: TestGateway;
/** The same requests, served with --route-histograms. */
let perRoute: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    endpoints: [
      {
        kind: 'execute-api',
        path: '/',
        auth: 'none',
        handler: (r) => ({ status: r.path.endsWith('/teapot') ? 418 : 200, body: 'ok' }),
      },
    ],
  });
  const manifests = {
    'routes.yaml': documents(
      lambdaRoute(
        'api',
        `match: {path: /api, pathType: Prefix}
target: {url: "${emulator.url}/", forwardSubpath: true}`,
        'shop',
      ),
      lambdaRoute('down', 'match: {path: /down}\ntarget: {url: "http://127.0.0.1:1/"}', 'shop'),
      lambdaRoute(
        'unready',
        `match: {path: /unready}
target: {url: "${emulator.url}/"}
auth: {apiKey: {secretRef: {name: missing, key: k}}}`,
        'shop',
      ),
    ),
  };
  gw = await startTestGateway(manifests);
  perRoute = await startTestGateway(manifests, { routeHistograms: true });
  for (const { url } of [gw, perRoute]) {
    for (let i = 0; i < 3; i++) await send(url, { path: '/api/items' });
    await send(url, { method: 'POST', path: '/api/items', body: 'x' });
    await send(url, { path: '/api/teapot' });
    await send(url, { method: 'PROPFIND', path: '/api/items' });
    await send(url, { path: '/down' });
    await send(url, { path: '/unready' });
    for (let i = 0; i < 2; i++) await send(url, { path: `/nowhere/${i}?secret=${i}` });
  }
});
afterAll(async () => {
  await gw?.close();
  await perRoute?.close();
  await emulator?.close();
});

async function metrics(gateway = gw): Promise<string> {
  const response = await fetch(`${gateway.adminUrl}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

const samples = (text: string, name: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .sort();

it('counts requests by route, namespace, method and code, with one fixed label for no route', async () => {
  const requests = samples(await metrics(), 'lambda_ingress_requests_total');
  expect(samples(await metrics(perRoute), 'lambda_ingress_requests_total')).toEqual(requests);
  expect(requests).toEqual(
    [
      'lambda_ingress_requests_total{route="api",namespace="shop",method="GET",code="200"} 3',
      'lambda_ingress_requests_total{route="api",namespace="shop",method="POST",code="200"} 1',
      'lambda_ingress_requests_total{route="api",namespace="shop",method="GET",code="418"} 1',
      'lambda_ingress_requests_total{route="api",namespace="shop",method="OTHER",code="200"} 1',
      'lambda_ingress_requests_total{route="down",namespace="shop",method="GET",code="502"} 1',
      'lambda_ingress_requests_total{route="unready",namespace="shop",method="GET",code="503"} 1',
      'lambda_ingress_requests_total{route="(none)",namespace="",method="GET",code="404"} 2',
    ].sort(),
  );
});

it('measures total, upstream and overhead time of all routes together, and counts upstream errors by kind', async () => {
  const text = await metrics();
  expect(samples(text, 'lambda_ingress_request_duration_seconds_count')).toEqual([
    'lambda_ingress_request_duration_seconds_count 10',
  ]);
  // Proxied requests only: the unready route and no route have no upstream time.
  expect(samples(text, 'lambda_ingress_upstream_duration_seconds_count')).toEqual([
    'lambda_ingress_upstream_duration_seconds_count 7',
  ]);
  expect(samples(text, 'lambda_ingress_overhead_duration_seconds_count')).toEqual([
    'lambda_ingress_overhead_duration_seconds_count 7',
  ]);
  expect(samples(text, 'lambda_ingress_request_duration_seconds_bucket')).toHaveLength(14);
  expect(samples(text, 'lambda_ingress_request_duration_seconds_bucket')).toContain(
    'lambda_ingress_request_duration_seconds_bucket{le="+Inf"} 10',
  );
  expect(samples(text, 'lambda_ingress_upstream_errors_total')).toEqual([
    'lambda_ingress_upstream_errors_total{route="down",namespace="shop",kind="connect"} 1',
  ]);
});

it('with --route-histograms, measures total and upstream time per route', async () => {
  const text = await metrics(perRoute);
  expect(samples(text, 'lambda_ingress_request_duration_seconds_count')).toEqual(
    [
      'lambda_ingress_request_duration_seconds_count{route="(none)",namespace=""} 2',
      'lambda_ingress_request_duration_seconds_count{route="api",namespace="shop"} 6',
      'lambda_ingress_request_duration_seconds_count{route="down",namespace="shop"} 1',
      'lambda_ingress_request_duration_seconds_count{route="unready",namespace="shop"} 1',
    ].sort(),
  );
  expect(samples(text, 'lambda_ingress_upstream_duration_seconds_count')).toEqual(
    [
      'lambda_ingress_upstream_duration_seconds_count{route="api",namespace="shop"} 6',
      'lambda_ingress_upstream_duration_seconds_count{route="down",namespace="shop"} 1',
    ].sort(),
  );
  expect(samples(text, 'lambda_ingress_overhead_duration_seconds_count')).toEqual([
    'lambda_ingress_overhead_duration_seconds_count 7',
  ]);
  expect(text).toContain(
    'lambda_ingress_request_duration_seconds_bucket{route="api",namespace="shop",le="+Inf"} 6',
  );
  expect(samples(text, 'lambda_ingress_upstream_errors_total')).toEqual([
    'lambda_ingress_upstream_errors_total{route="down",namespace="shop",kind="connect"} 1',
  ]);
});

it('reports routes by state, the table version, compile time and configuration errors', async () => {
  const text = await metrics();
  expect(samples(text, 'lambda_ingress_routes')).toEqual([
    'lambda_ingress_routes{state="not_ready"} 1',
    'lambda_ingress_routes{state="ready"} 2',
  ]);
  expect(samples(text, 'lambda_ingress_table_version')).toEqual(['lambda_ingress_table_version 1']);
  expect(samples(text, 'lambda_ingress_last_compile_duration_seconds')[0]).toMatch(/ 0\.\d+$/);
  expect(samples(text, 'lambda_ingress_config_errors')).toEqual([
    'lambda_ingress_config_errors{kind="conflicted"} 0',
    'lambda_ingress_config_errors{kind="invalid"} 0',
    'lambda_ingress_config_errors{kind="source"} 0',
  ]);
});

it('exports process and Node.js runtime metrics under the same prefix', async () => {
  const text = await metrics();
  for (const name of [
    'lambda_ingress_process_resident_memory_bytes',
    'lambda_ingress_nodejs_eventloop_lag_seconds',
    'lambda_ingress_nodejs_heap_size_used_bytes',
  ]) {
    expect(samples(text, name).length, name).toBeGreaterThan(0);
  }
  // V8's resident size per space (about what prom-client reports as committed), and ArrayBuffer memory.
  const resident = new Map(
    samples(text, 'lambda_ingress_nodejs_heap_space_size_resident_bytes').map((line) => [
      /space="(\w+)"/.exec(line)?.[1],
      Number(line.split(' ')[1]),
    ]),
  );
  expect([...resident.keys()]).toEqual(expect.arrayContaining(['new', 'old', 'code', 'large_object']));
  const [committedOld] = samples(text, 'lambda_ingress_nodejs_heap_space_size_total_bytes{space="old"}');
  expect(resident.get('old')).toBeGreaterThan(0);
  expect(resident.get('old')).toBeLessThan(Number(committedOld!.split(' ')[1]) + 2 ** 20);
  expect(
    Number(samples(text, 'lambda_ingress_nodejs_array_buffers_bytes')[0]!.split(' ')[1]),
  ).toBeGreaterThan(0);
  // Nothing unprefixed, and nothing from the requests themselves (paths, query strings) as label values.
  const metricLines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  expect(metricLines.filter((l) => !l.startsWith('lambda_ingress_'))).toEqual([]);
  expect(text).not.toMatch(/nowhere|secret=|items/);
});
