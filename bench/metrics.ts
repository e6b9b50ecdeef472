// npm run bench:metrics: what the request metrics cost. The CPU time of one
// Metrics.observeRequest (one route, and traffic spread over 10,000 routes),
// next to prom-client doing the same work with its label children looked up
// once (how observeRequest worked before). Then /metrics after each of 10 and
// of 10,000 routes was served once: its size and the wall and CPU time of a
// real HTTP scrape of the admin server (median of 5), with and without --route-histograms, and the
// --workers primary's aggregation of two workers' metrics (in process: the
// IPC transfer is not included). Targets (issue 15): /metrics < 3 MB and a
// scrape < 100 ms at 10,000 routes; observeRequest ≤ 0.3 µs.

import { Counter, Histogram, Registry } from 'prom-client';
import { createAdminServer } from '../src/admin/server.ts';
import {
  aggregateMetrics,
  Metrics,
  type Metrics as MetricsType,
  type RequestObservation,
} from '../src/metrics/metrics.ts';
import { createLoggers } from '../src/util/log.ts';
import { fmt, type Measurement, measure } from './measure.ts';

/** Spread over 20 namespaces, as bench/control-plane.ts creates them. */
function observations(routes: number): RequestObservation[] {
  return Array.from({ length: routes }, (_, i) => ({
    route: `route-${i}`,
    namespace: `bench-${i % 20}`,
    method: 'GET',
    status: 200,
    durationMs: 12.5 + (i % 7),
    upstreamMs: 11 + (i % 7),
    upstreamError: undefined,
  }));
}

const rows: string[] = [];
const row = (label: string, m: Measurement) =>
  rows.push(`| ${label} | ${fmt(m.cpuNsPerOp, 0)} ns | ${fmt(m.nsPerOp, 0)} ns |`);

async function observeCost(routeHistograms: boolean, routes: number): Promise<Measurement> {
  const metrics = new Metrics({ routeHistograms });
  const all = observations(routes);
  let i = 0;
  return measure(`observeRequest ${routes}`, () => metrics.observeRequest(all[i++ % all.length]!), 2000);
}

/** The prom-client reference: a counter child, two histogram children and the overhead histogram. */
async function promClientCost(routes: number): Promise<Measurement> {
  const registers = [new Registry()];
  const labelNames = ['route', 'namespace'];
  const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
  const requests = new Counter({
    name: 'r',
    help: 'r',
    labelNames: [...labelNames, 'method', 'code'],
    registers,
  });
  const duration = new Histogram({ name: 'd', help: 'd', labelNames, buckets, registers });
  const upstream = new Histogram({ name: 'u', help: 'u', labelNames, buckets, registers });
  const overhead = new Histogram({ name: 'o', help: 'o', buckets, registers });
  const children = observations(routes).map((o) => {
    const labels = { route: o.route!, namespace: o.namespace! };
    return {
      o,
      requests: requests.labels({ ...labels, method: o.method, code: String(o.status) }),
      duration: duration.labels(labels),
      upstream: upstream.labels(labels),
    };
  });
  let i = 0;
  return measure(
    `prom-client ${routes}`,
    () => {
      const c = children[i++ % children.length]!;
      c.requests.inc();
      c.duration.observe(c.o.durationMs / 1000);
      c.upstream.observe(c.o.upstreamMs! / 1000);
      overhead.observe((c.o.durationMs - c.o.upstreamMs!) / 1000);
    },
    2000,
  );
}

for (const routes of [1, 10_000]) {
  const traffic = routes === 1 ? 'one route' : 'traffic over 10,000 routes';
  row(`observeRequest, ${traffic}`, await observeCost(false, routes));
  row(`observeRequest --route-histograms, ${traffic}`, await observeCost(true, routes));
  row(`prom-client (before), ${traffic}`, await promClientCost(routes));
}

/**
 * Median wall and CPU time of 5 scrapes over HTTP, after one to warm up. The
 * CPU time is this process's: the admin server's, plus fetch reading the text.
 */
async function scrape(url: string): Promise<{ bytes: number; ms: number; cpuMs: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 6; i++) {
    const started = performance.now();
    const usage = process.cpuUsage();
    const response = await fetch(url);
    bytes = Buffer.byteLength(await response.text());
    const { user, system } = process.cpuUsage(usage);
    if (i === 0) continue;
    wall.push(performance.now() - started);
    cpu.push((user + system) / 1000);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[2]!;
  return { bytes, ms: median(wall), cpuMs: median(cpu) };
}

function servedOnce(routeHistograms: boolean, routes: number): MetricsType {
  const metrics = new Metrics({ routeHistograms });
  for (const o of observations(routes)) metrics.observeRequest(o);
  return metrics;
}

const scrapes: string[] = [];
const logger = createLoggers('warn').app;
for (const routeHistograms of [false, true]) {
  for (const routes of [10, 10_000]) {
    const processes = [servedOnce(routeHistograms, routes), servedOnce(routeHistograms, routes)];
    const mode = routeHistograms ? '--route-histograms' : 'default';
    for (const [label, text] of [
      ['one process', () => processes[0]!.registry.metrics()],
      ['--workers 2', async () => aggregateMetrics(await Promise.all(processes.map((m) => m.snapshot())))],
    ] as const) {
      const admin = createAdminServer({ logger, metrics: text, ready: () => true, debugRoutes: undefined });
      const url = `${await admin.listen({ host: '127.0.0.1', port: 0 })}/metrics`;
      const { bytes, ms, cpuMs } = await scrape(url);
      await admin.close();
      scrapes.push(
        `| ${mode}, ${fmt(routes)} routes, ${label} | ${fmt(bytes / 1024, 0)} KB | ${fmt(ms, 1)} ms | ${fmt(cpuMs, 1)} ms |`,
      );
    }
  }
}

process.stdout.write(`## Request metrics: \`npm run bench:metrics\`

| observeRequest | CPU per request | wall per request |
| --- | ---: | ---: |
${rows.join('\n')}

| /metrics after every route was served once | size | scrape, wall | scrape, CPU |
| --- | ---: | ---: | ---: |
${scrapes.join('\n')}
`);
