// With --workers the primary adds up the workers' metrics: the request
// counters and histograms (plain numbers in each worker) summed series by
// series, prom-client's own metrics by their aggregator.
import { describe, expect, it } from 'vitest';
import { aggregateMetrics, Metrics, type RequestObservation } from '../../src/metrics/metrics.ts';

const served = (route: string, over: Partial<RequestObservation> = {}): RequestObservation => ({
  route,
  namespace: 'shop',
  method: 'GET',
  status: 200,
  durationMs: 20,
  upstreamMs: 15,
  upstreamError: undefined,
  ...over,
});

const samples = (text: string, name: string) =>
  text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .sort();

describe.each([false, true])('routeHistograms: %s', (routeHistograms) => {
  it('sums the counters and histograms of every process, series by series', async () => {
    const [primary, a, b] = [0, 1, 2].map(() => new Metrics({ routeHistograms }));
    for (let i = 0; i < 3; i++) a!.observeRequest(served('api'));
    a!.observeRequest(served('down', { status: 502, upstreamError: 'connect', durationMs: 2000 }));
    b!.observeRequest(served('api'));
    b!.observeRequest(served('api', { method: 'POST', status: 201 }));
    b!.observeRequest(served('down', { status: 502, upstreamError: 'connect', durationMs: 2000 }));
    a!.uncaughtErrors.inc();
    b!.uncaughtErrors.inc(2);
    const text = await aggregateMetrics(await Promise.all([primary!, a!, b!].map((m) => m.snapshot())));

    expect(samples(text, 'lambda_ingress_requests_total')).toEqual(
      [
        'lambda_ingress_requests_total{route="api",namespace="shop",method="GET",code="200"} 4',
        'lambda_ingress_requests_total{route="api",namespace="shop",method="POST",code="201"} 1',
        'lambda_ingress_requests_total{route="down",namespace="shop",method="GET",code="502"} 2',
      ].sort(),
    );
    expect(samples(text, 'lambda_ingress_upstream_errors_total')).toEqual([
      'lambda_ingress_upstream_errors_total{route="down",namespace="shop",kind="connect"} 2',
    ]);
    expect(samples(text, 'lambda_ingress_uncaught_errors_total')).toEqual([
      'lambda_ingress_uncaught_errors_total 3',
    ]);
    const duration = samples(text, 'lambda_ingress_request_duration_seconds_count');
    const le = (bound: string) =>
      samples(text, 'lambda_ingress_request_duration_seconds_bucket').filter((l) =>
        l.includes(`le="${bound}"`),
      );
    if (routeHistograms) {
      expect(duration).toEqual([
        'lambda_ingress_request_duration_seconds_count{route="api",namespace="shop"} 5',
        'lambda_ingress_request_duration_seconds_count{route="down",namespace="shop"} 2',
      ]);
      expect(le('1')).toEqual([
        'lambda_ingress_request_duration_seconds_bucket{route="api",namespace="shop",le="1"} 5',
        'lambda_ingress_request_duration_seconds_bucket{route="down",namespace="shop",le="1"} 0',
      ]);
      expect(le('+Inf')).toEqual([
        'lambda_ingress_request_duration_seconds_bucket{route="api",namespace="shop",le="+Inf"} 5',
        'lambda_ingress_request_duration_seconds_bucket{route="down",namespace="shop",le="+Inf"} 2',
      ]);
    } else {
      expect(duration).toEqual(['lambda_ingress_request_duration_seconds_count 7']);
      expect(le('1')).toEqual(['lambda_ingress_request_duration_seconds_bucket{le="1"} 5']);
      expect(samples(text, 'lambda_ingress_request_duration_seconds_sum')).toEqual([
        'lambda_ingress_request_duration_seconds_sum 4.1',
      ]);
    }
    expect(samples(text, 'lambda_ingress_overhead_duration_seconds_count')).toEqual([
      'lambda_ingress_overhead_duration_seconds_count 7',
    ]);
  });
});
