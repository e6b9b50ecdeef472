// npm run bench:metrics: what the request metrics cost. The CPU time of one
// Metrics.observeRequest (one route, and traffic spread over 10,000 routes),
// next to prom-client doing the same work with its label children looked up
// once (how observeRequest worked before). Then /metrics after each of 10 and
// of 10,000 routes was served once: its size and the wall and CPU time of a
// real HTTP scrape of the admin server (median of 7), with and without
// --route-histograms, and as the --workers primary aggregates two workers'
// metrics (in process: the IPC transfer is not included). Targets (issue 15): /metrics < 3 MB and a
// scrape < 100 ms at 10,000 routes; observeRequest ≤ 0.3 µs.

import { execFileSync } from 'node:child_process';
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

const row = (label: string, m: Measurement) =>
  `| ${label} | ${fmt(m.cpuNsPerOp, 0)} ns | ${fmt(m.nsPerOp, 0)} ns |`;

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

/**
 * Median wall and CPU time of 7 scrapes over HTTP, after 5 to warm up (the
 * JIT: Prometheus scrapes every 15 to 60 s, for as long as the process
 * runs). The CPU time is this process's: the admin server's, plus fetch
 * reading the text.
 */
async function scrape(url: string): Promise<{ bytes: number; ms: number; cpuMs: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 12; i++) {
    const started = performance.now();
    const usage = process.cpuUsage();
    const response = await fetch(url);
    bytes = Buffer.byteLength(await response.text());
    const { user, system } = process.cpuUsage(usage);
    if (i < 5) continue;
    wall.push(performance.now() - started);
    cpu.push((user + system) / 1000);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[3]!;
  return { bytes, ms: median(wall), cpuMs: median(cpu) };
}

function servedOnce(routeHistograms: boolean, routes: number): MetricsType {
  const metrics = new Metrics({ routeHistograms });
  for (const o of observations(routes)) metrics.observeRequest(o);
  return metrics;
}

const logger = createLoggers('warn').app;

/** /metrics of one process, or of two aggregated as the --workers primary does, over HTTP. */
async function scrapeRow(routeHistograms: boolean, routes: number, workers: boolean): Promise<string> {
  const processes = Array.from({ length: workers ? 2 : 1 }, () => servedOnce(routeHistograms, routes));
  const metrics = workers
    ? async () => aggregateMetrics(await Promise.all(processes.map((m) => m.snapshot())))
    : () => processes[0]!.registry.metrics();
  const admin = createAdminServer({ logger, metrics, ready: () => true, debugRoutes: undefined });
  const url = `${await admin.listen({ host: '127.0.0.1', port: 0 })}/metrics`;
  const { bytes, ms, cpuMs } = await scrape(url);
  await admin.close();
  const mode = routeHistograms ? '--route-histograms' : 'default';
  return `| ${mode}, ${fmt(routes)} routes, ${workers ? '--workers 2' : 'one process'} | ${fmt(bytes / 1024, 0)} KB | ${fmt(ms, 1)} ms | ${fmt(cpuMs, 1)} ms |`;
}

const traffic = (routes: number) => (routes === 1 ? 'one route' : 'traffic over 10,000 routes');
const observeRows = [1, 10_000].flatMap((routes) => [
  async () => row(`observeRequest, ${traffic(routes)}`, await observeCost(false, routes)),
  async () => row(`observeRequest --route-histograms, ${traffic(routes)}`, await observeCost(true, routes)),
  async () => row(`prom-client (before), ${traffic(routes)}`, await promClientCost(routes)),
]);
const scrapeRows = [false, true].flatMap((routeHistograms) =>
  [10, 10_000].flatMap((routes) =>
    [false, true].map((workers) => () => scrapeRow(routeHistograms, routes, workers)),
  ),
);

// Each row in a process of its own, as in production one Metrics per process: the heap, the JIT
// and prom-client's default collectors (a GC observer each) of one row do not weigh on the next.
const rowArgument = process.argv[2];
if (rowArgument !== undefined) {
  process.stdout.write(await [...observeRows, ...scrapeRows][Number(rowArgument)]!());
} else {
  const run = (index: number) =>
    execFileSync(process.execPath, [import.meta.filename, String(index)], { encoding: 'utf8' });
  const rows = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => run(from + i)).join('\n');
  process.stdout.write(`## Request metrics: \`npm run bench:metrics\`

| observeRequest | CPU per request | wall per request |
| --- | ---: | ---: |
${rows(0, observeRows.length)}

| /metrics after every route was served once | size | scrape, wall (median of 7) | scrape, CPU |
| --- | ---: | ---: | ---: |
${rows(observeRows.length, scrapeRows.length)}
`);
}
