// Types of the data-plane benchmark's JSON result and its markdown rendering.
// `node bench/dataplane.ts --report bench/results/<file>.json` re-prints the
// tables from a saved result (for BENCHMARKS.md).
import type { GcSummary } from './gc-trace.ts';
import type { LoadResult } from './load.ts';
import type { ProfileEntry } from './profile-summary.ts';

export interface RowSpec {
  id: string;
  label: string;
  server: 'upstream' | 'nginx' | 'nginx-lua' | 'node-floor' | 'lambda-ingress';
  path: string;
  method: 'GET' | 'POST';
  bodyBytes: number;
  /** lambda-ingress `--no-access-log`; otherwise its default flags (access log on). */
  noAccessLog?: boolean;
  /** node flags for lambda-ingress (e.g. --max-semi-space-size) */
  nodeFlags?: string[];
  /** lambda-ingress `--workers N`; absent = the flag is not passed (one process). */
  workers?: number;
  /** max = wrk closed loop; fixed = vegeta at a fixed rate. */
  mode: 'max' | 'fixed';
  /** fixed rows: fraction of the reference max requests/s (default: the --fixed-fraction option) */
  fraction?: number;
}

export interface Measured {
  load: LoadResult;
  /** The proxy's process tree (nginx master+worker, lambda-ingress primary+workers); absent for the direct row. */
  proxy?: {
    cpuSeconds: number;
    cpuUsPerRequest: number;
    /** the part of cpuUsPerRequest spent in the kernel (system time) */
    systemUsPerRequest?: number;
    cpuPercent: number;
    peakRssBytes: number;
    processes: number;
  };
  /** Node proxies (started with --trace-gc): the GC pauses of the measured window (all its processes together, with --workers) */
  gc?: GcSummary;
  /** loopback TCP segments sent per request, machine-wide (client, proxy and upstream together) */
  tcpSegmentsPerRequest?: number;
  upstream: { cpuSeconds: number; cpuUsPerRequest: number; cpuPercent: number };
  /** Whole machine, all cores: 1 = every core busy. */
  machineBusy: number;
  /** The load generator (wrk or vegeta attack) */
  loadgen: { cpuSeconds: number; cpuPercent: number };
  /** Other processes on the machine during the row, in % of a core: the noise (other tenants' work) */
  interferencePercent: number;
  /** The busiest of them */
  others: { pid: number; comm: string; cpuPercent: number }[];
  /** Busy time not in any process seen at the start and end of the window: kernel softirq (loopback networking) and short-lived processes, in % of a core */
  unattributedPercent: number;
  /** Machine load (in cores) seen just before the row, and how long the harness waited for it to settle */
  before: { busyCores: number; waitedMs: number };
}

export interface RowResult {
  spec: RowSpec;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string | undefined;
  /** Fixed-rate rows: the requested rate. */
  rate?: number;
  /** The run reported (median by requests/s, or by p99 for fixed-rate rows). */
  result?: Measured;
  runs?: Measured[];
  /** runs measured again because other processes disturbed them */
  discarded?: Measured[];
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  status: 'pass' | 'fail' | 'n/a';
}

export interface SignMicro {
  emptyUs: number | undefined;
  oneKbUs: number | undefined;
  oneMbUs: number | undefined;
  smithyEmptyUs: number | undefined;
  output: string;
}

export interface BenchResult {
  version: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: Record<string, string | number>;
  options: Record<string, unknown>;
  rows: RowResult[];
  targets: Target[];
  signMicro?: SignMicro;
  profile?: {
    file: string;
    /** requests served by the profiled process (warm-up included) */
    requests?: number;
    totalMs: number;
    busyMs?: number;
    samples: number;
    top: ProfileEntry[];
  };
}

const n = (x: number | undefined, digits = 0) =>
  x === undefined || Number.isNaN(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number | undefined) => (bytes === undefined ? '–' : n(bytes / 1024 / 1024, 0));

export function rowById(result: BenchResult, id: string): Measured | undefined {
  const row = result.rows.find((r) => r.spec.id === id);
  return row?.status === 'ok' ? row.result : undefined;
}

export function renderMachine(result: BenchResult): string {
  const m = result.machine;
  return [
    `- CPU: ${m.cpuModel}, ${m.cores} cores (${m.memory} RAM), Linux ${m.kernel}`,
    `- Node ${m.node}, ${m.nginx}, ${m.wrk}, vegeta ${m.vegeta}`,
    `- lambda-ingress ${m.commit}; run ${result.startedAt}`,
    `- load: ${result.options.threads} wrk thread(s), ${result.options.connections} connections, ${result.options.duration} s per row after ${result.options.warmup} s warm-up${result.options.repeat !== 1 ? `, median of ${result.options.repeat} runs` : ''}${result.options.interleave ? ' (max-throughput rows interleaved: measured in turns, round by round)' : ''}`,
  ].join('\n');
}

/** Rows where other processes used more than this (% of a core) are marked as disturbed. */
export const NOISY_PERCENT = 10;

export function rowLabel(result: BenchResult, row: RowResult): string {
  if (row.spec.mode !== 'fixed') return row.spec.label;
  const fraction = row.spec.fraction ?? (result.options.fixedFraction as number);
  return `${row.spec.label}, fixed ${n(row.rate)} req/s (${n(fraction * 100)}% of signed max)`;
}

const gcCell = (gc: GcSummary | undefined) =>
  gc === undefined || gc.minor + gc.major === 0
    ? '–'
    : `${gc.minor}+${gc.major}, ${n(gc.meanMs, 2)} / ${n(gc.maxMs, 1)} ms, ${n(gc.pausedPercent, 1)}%`;
/** KB allocated per request, from the GC trace's allocation rate */
const allocCell = (m: Measured) =>
  m.gc === undefined || m.gc.minor + m.gc.major < 3
    ? '–'
    : n((m.gc.allocatedMbPerSecond * 1024) / m.load.rps, 1);

export function renderRows(result: BenchResult): string {
  const nginx = rowById(result, 'nginx');
  const floor = rowById(result, 'node-floor');
  const lines = [
    '| row | requests/s | vs nginx | vs Node floor | p50 ms | p99 ms | p99.9 ms | proxy CPU µs/req (of which kernel) | proxy CPU % of a core | proxy RSS MB | GC: minor+major, mean / max pause, % paused | heap KB allocated/req | errors | other processes, % of a core |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of result.rows) {
    const label = rowLabel(result, row);
    if (row.status !== 'ok' || !row.result) {
      lines.push(`| ${label} | ${row.status}: ${row.reason ?? ''} | | | | | | | | | | | | |`);
      continue;
    }
    const { load, proxy } = row.result;
    const versus = (base: Measured | undefined) =>
      base && row.spec.mode === 'max' && row.spec.id !== 'direct' ? `${n(load.rps / base.load.rps, 2)}x` : '';
    const noise = row.result.interferencePercent;
    lines.push(
      `| ${label} | ${n(load.rps)} | ${versus(nginx)} | ${versus(floor)} | ${n(load.latencyMs.p50, 2)} | ${n(load.latencyMs.p99, 2)} | ${n(load.latencyMs.p999, 2)} | ${proxy ? `${n(proxy.cpuUsPerRequest, 1)}${proxy.systemUsPerRequest === undefined ? '' : ` (${n(proxy.systemUsPerRequest, 1)})`}` : '–'} | ${proxy ? n(proxy.cpuPercent, 0) : '–'} | ${proxy ? mb(proxy.peakRssBytes) : '–'} | ${gcCell(row.result.gc)} | ${allocCell(row.result)} | ${load.errors} | ${n(noise, 0)}${noise > NOISY_PERCENT ? ' ⚠' : ''} |`,
    );
  }
  return lines.join('\n');
}

export function renderTargets(result: BenchResult): string {
  return [
    '| target | goal | measured | result |',
    '| --- | --- | --- | --- |',
    ...result.targets.map((t) => `| ${t.name} | ${t.goal} | ${t.measured} | **${t.status.toUpperCase()}** |`),
  ].join('\n');
}

export function renderScaling(result: BenchResult): string | undefined {
  const one = rowById(result, 'signed');
  const two = rowById(result, 'signed-w2');
  if (!one || !two || !one.proxy || !two.proxy) return undefined;
  return `Scaling, signed url target: 2 workers give ${n(two.load.rps)} req/s vs ${n(one.load.rps)} with one process (${n(two.load.rps / one.load.rps, 2)}x); CPU time per request ${n(two.proxy.cpuUsPerRequest, 1)} µs vs ${n(one.proxy.cpuUsPerRequest, 1)} µs; machine busy ${n(two.machineBusy * 100, 0)}% vs ${n(one.machineBusy * 100, 0)}%.`;
}

export function renderProfile(result: BenchResult, top = 20): string | undefined {
  if (!result.profile) return undefined;
  const p = result.profile;
  const perRequest = (ms: number) => (p.requests ? n((ms * 1000) / p.requests, 1) : '–');
  return [
    `Profile of the signed row (\`node --cpu-prof\`, ${n(p.totalMs / 1000, 1)} s sampled, ${n((p.busyMs ?? 0) / 1000, 1)} s not idle, ${n(p.requests)} requests): top ${top} by self time, % of the not-idle time`,
    '',
    '| self % | self ms | µs/request | total % | function | file |',
    '| ---: | ---: | ---: | ---: | --- | --- |',
    ...p.top
      .slice(0, top)
      .map(
        (e) =>
          `| ${n(e.selfPercent, 1)} | ${n(e.selfMs, 0)} | ${perRequest(e.selfMs)} | ${n(e.totalPercent, 1)} | ${e.functionName} | ${e.location} |`,
      ),
  ].join('\n');
}

export function render(result: BenchResult): string {
  const parts = [renderMachine(result), '', renderRows(result), '', renderTargets(result)];
  const scaling = renderScaling(result);
  if (scaling) parts.push('', scaling);
  const profile = renderProfile(result);
  if (profile) parts.push('', profile);
  return parts.join('\n');
}
