// What a route costs in /metrics: the series count per route that the
// README's metrics table documents, by default (counters only: latency is
// measured for all routes together) and with --route-histograms.
import { describe, expect, it } from 'vitest';
import { Metrics, type RequestObservation, ROUTE_BUCKETS } from '../../src/metrics/metrics.ts';

const served = (route: string | undefined, over: Partial<RequestObservation> = {}): RequestObservation => ({
  route,
  namespace: 'shop',
  method: 'GET',
  status: 200,
  durationMs: 12,
  upstreamMs: 10,
  upstreamError: undefined,
  ...over,
});

/** Each route's series (lines of /metrics that name it), and the text. */
async function seriesByRoute(metrics: Metrics, routes: string[]) {
  const text = await metrics.registry.metrics();
  const lines = text.split('\n').filter((line) => line && !line.startsWith('#'));
  const count = (route: string) => lines.filter((line) => line.includes(`route="${route}",`)).length;
  return { text, lines, perRoute: Object.fromEntries(routes.map((route) => [route, count(route)])) };
}

/** The histogram series of one label set: a bucket per bound, +Inf, _sum and _count. */
const HISTOGRAM = ROUTE_BUCKETS.length + 3;

describe.each([
  // One requests_total series per method and code seen; a histogram pair per route only when asked.
  { routeHistograms: false, perRoute: 1, shared: 2 * 16 },
  { routeHistograms: true, perRoute: 1 + 2 * HISTOGRAM, shared: 0 },
])('routeHistograms: $routeHistograms', ({ routeHistograms, perRoute, shared }) => {
  it(`a route served once has ${perRoute} series; the latency histograms of all routes ${shared} more`, async () => {
    const metrics = new Metrics({ routeHistograms });
    const routes = Array.from({ length: 50 }, (_, i) => `route-${i}`);
    for (const route of routes) metrics.observeRequest(served(route));
    const { lines, perRoute: counts } = await seriesByRoute(metrics, routes);
    expect(new Set(Object.values(counts))).toEqual(new Set([perRoute]));
    const latency = lines.filter((line) => /^lambda_ingress_(request|upstream)_duration_seconds/.test(line));
    expect(latency.filter((line) => !line.includes('route="'))).toHaveLength(shared);
    expect(latency).toHaveLength(shared + (routeHistograms ? routes.length * 2 * HISTOGRAM : 0));
  });

  it('a new method or code adds one counter series; an upstream error one per kind; more requests none', async () => {
    const metrics = new Metrics({ routeHistograms });
    for (let i = 0; i < 5; i++) metrics.observeRequest(served('api'));
    metrics.observeRequest(served('api', { method: 'POST' }));
    metrics.observeRequest(served('api', { status: 502, upstreamError: 'connect' }));
    metrics.observeRequest(served('api', { status: 502, upstreamError: 'connect' }));
    metrics.observeRequest(served('api', { status: 504, upstreamError: 'timeout' }));
    const { perRoute } = await seriesByRoute(metrics, ['api']);
    // GET 200, POST 200, GET 502, GET 504; connect, timeout.
    expect(perRoute['api']).toBe(4 + 2 + (routeHistograms ? 2 * HISTOGRAM : 0));
  });

  it('writes valid exposition text: one HELP and TYPE per metric, every series once, request series well-formed', async () => {
    const metrics = new Metrics({ routeHistograms });
    metrics.observeRequest(served('api'));
    metrics.observeRequest(served(undefined, { namespace: undefined, status: 404 }));
    const { text, lines } = await seriesByRoute(metrics, []);
    const types = text.split('\n').filter((line) => line.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
    expect(text.split('\n').filter((line) => line.startsWith('# HELP '))).toHaveLength(types.length);
    const series = lines.map((line) => line.slice(0, line.lastIndexOf(' ')));
    expect(new Set(series).size).toBe(series.length);
    const requestMetrics =
      /^lambda_ingress_(requests_total|upstream_errors_total|(request|upstream|overhead)_duration)/;
    for (const line of lines.filter((l) => requestMetrics.test(l)))
      expect(line).toMatch(/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+\d.e]+$/);
    expect(lines).toContain(
      'lambda_ingress_requests_total{route="(none)",namespace="",method="GET",code="404"} 1',
    );
  });
});
