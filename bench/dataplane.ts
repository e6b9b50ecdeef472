// npm run bench: the data-plane benchmark. One nginx upstream on loopback
// (`return 200 "ok"`, plus a fake Lambda Invoke API), wrk as the load
// generator, and these rows under the same load, in one run:
//
//   direct        wrk -> upstream
//   nginx         wrk -> nginx (1 worker, keep-alive to the upstream) -> upstream
//   nginx-lua     wrk -> nginx + LuaJIT doing the APISIX aws-lambda plugin's SigV4 work -> upstream
//                 (the peer in ../shared/peers/nginx-lua-sigv4, or BENCH_NGINX_LUA)
//   node-floor    wrk -> node:http + undici Pool, nothing else (bench/node-floor.ts) -> upstream
//   unsigned      wrk -> lambda-ingress, url target, unsigned -> upstream
//   signed        wrk -> lambda-ingress, url target, SigV4 -> upstream
//   signed-nolog  the same with --no-access-log
//   function      wrk -> lambda-ingress, function target (Invoke API, payload 2.0) -> upstream
// lambda-ingress runs with its default flags (access log on) unless the row says otherwise.
//   signed-1k     signed, POST with a 1 KB body
//   signed-1m     signed, POST with a 1 MB body
//   signed-w2     signed, lambda-ingress --workers 2
//   direct-fixed, nginx-fixed, signed-fixed
//                 vegeta at a fixed rate, half the signed row's max, to the
//                 upstream, through nginx, through lambda-ingress signed
//   signed-fixed-semi64
//                 signed-fixed with a 64 MB young generation (node --min/--max-semi-space-size=64)
//   direct-fixed-25, signed-fixed-25
//                 the same at a quarter of the signed row's max
//
// Node proxies run with --trace-gc: each row reports the GC pauses of its
// measured window.
//
// For each row: requests/s, p50/p99/p99.9 latency, CPU time per request and
// peak RSS of the proxy's process tree (from /proc), errors. Then the targets
// with pass/fail, `npm run bench:sign`'s numbers, and with --profile a
// `node --cpu-prof` run of the signed row summarised by self time.
//
//   node bench/dataplane.ts [--quick] [--only signed,nginx] [--duration 10] [--warmup 3]
//     [--connections 32] [--threads 1] [--repeat 1] [--interleave] [--max-rps <req/s>] [--profile]
//     [--output bench/results/x.json] [--keep-tmp] [--report <result.json>]
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { cpuModel as readCpuModel } from '../hack/lib/procfs.ts';
import { fileSize, readFrom, summarizeGcTrace } from './gc-trace.ts';
import { type LoadResult, type LoadSpec, VEGETA, VEGETA_MODULE, vegeta, wrk } from './load.ts';
import { commandOutput, MachineMonitor, registerTempDir, run, TreeMonitor, waitQuiet } from './procs.ts';
import { loadProfile, renderSummary, summarize } from './profile-summary.ts';
import {
  type BenchResult,
  type Measured,
  NOISY_PERCENT,
  type RowResult,
  type RowSpec,
  render,
  rowById,
  type SignMicro,
  type Target,
} from './report.ts';
import {
  hasWorkersFlag,
  LI_PATHS,
  REPO,
  type Server,
  startLambdaIngress,
  startNginxLua,
  startNginxProxy,
  startNodeFloor,
  startUpstream,
  stopServer,
  writeManifests,
} from './servers.ts';

const row = (
  id: string,
  label: string,
  server: RowSpec['server'],
  path: string,
  extra: Partial<RowSpec> = {},
): RowSpec => ({ id, label, server, path, method: 'GET', bodyBytes: 0, mode: 'max', ...extra });

const ROWS: RowSpec[] = [
  row('direct', 'direct to upstream (nginx `return 200`)', 'upstream', '/'),
  row('nginx', 'nginx proxy, 1 worker, keep-alive', 'nginx', '/'),
  row(
    'nginx-lua',
    'nginx + LuaJIT, the APISIX aws-lambda SigV4 work (upper bound of APISIX)',
    'nginx-lua',
    '/',
  ),
  row('node-floor', 'node:http + undici, nothing else (floor of a Node proxy)', 'node-floor', '/'),
  row('unsigned', 'lambda-ingress url, unsigned', 'lambda-ingress', LI_PATHS.unsigned),
  row('signed', 'lambda-ingress url, SigV4', 'lambda-ingress', LI_PATHS.signed),
  row('signed-nolog', 'lambda-ingress url, SigV4, --no-access-log', 'lambda-ingress', LI_PATHS.signed, {
    noAccessLog: true,
  }),
  row('function', 'lambda-ingress function (Invoke, 2.0)', 'lambda-ingress', LI_PATHS.function),
  row('signed-1k', 'lambda-ingress url, SigV4, POST 1 KB', 'lambda-ingress', LI_PATHS.signed, {
    method: 'POST',
    bodyBytes: 1024,
  }),
  row('signed-1m', 'lambda-ingress url, SigV4, POST 1 MB', 'lambda-ingress', LI_PATHS.signed, {
    method: 'POST',
    bodyBytes: 1024 * 1024,
  }),
  row('signed-w2', 'lambda-ingress url, SigV4, --workers 2', 'lambda-ingress', LI_PATHS.signed, {
    workers: 2,
  }),
  // Fixed rate: a fraction of the signed row's max requests/s (--fixed-fraction, default 0.5; or 0.25).
  row('direct-fixed', 'direct to upstream', 'upstream', '/', { mode: 'fixed' }),
  row('nginx-fixed', 'nginx proxy', 'nginx', '/', { mode: 'fixed' }),
  row('node-floor-fixed', 'node:http + undici, nothing else', 'node-floor', '/', { mode: 'fixed' }),
  row('signed-fixed', 'lambda-ingress url, SigV4', 'lambda-ingress', LI_PATHS.signed, { mode: 'fixed' }),
  row('signed-fixed-nolog', 'lambda-ingress url, SigV4, --no-access-log', 'lambda-ingress', LI_PATHS.signed, {
    mode: 'fixed',
    noAccessLog: true,
  }),
  // The young generation's size against scavenge pauses in the tail. V8 grows it only as far as
  // survival asks (here about 11 MB between scavenges), so the larger size is set as the minimum too.
  row(
    'signed-fixed-semi64',
    'lambda-ingress url, SigV4, node --min-semi-space-size=64 --max-semi-space-size=64',
    'lambda-ingress',
    LI_PATHS.signed,
    { mode: 'fixed', nodeFlags: ['--min-semi-space-size=64', '--max-semi-space-size=64'] },
  ),
  row('direct-fixed-25', 'direct to upstream', 'upstream', '/', { mode: 'fixed', fraction: 0.25 }),
  row('signed-fixed-25', 'lambda-ingress url, SigV4', 'lambda-ingress', LI_PATHS.signed, {
    mode: 'fixed',
    fraction: 0.25,
  }),
];
/** Not a load row: `node bench/sign.ts`, selectable with --only sign. */
const SIGN_ID = 'sign';

function parseSeconds(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|ms)?$/.exec(text);
  if (!m) throw new Error(`--${name} wants seconds, e.g. 10 or 10s; got "${text}"`);
  return m[2] === 'ms' ? Number(m[1]) / 1000 : Number(m[1]);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string', default: '32' },
      threads: { type: 'string', default: '1' },
      repeat: { type: 'string', default: '1' },
      retries: { type: 'string', default: '3' },
      'max-rps': { type: 'string' },
      'fixed-fraction': { type: 'string', default: '0.5' },
      interleave: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'no-sign': { type: 'boolean', default: false },
      output: { type: 'string' },
      'keep-tmp': { type: 'boolean', default: false },
      'quiet-wait': { type: 'string', default: '60' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const only = (values.only ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  const known = new Set([...ROWS.map((r) => r.id), SIGN_ID]);
  for (const id of only) {
    if (!known.has(id)) throw new Error(`--only: unknown row "${id}"; rows: ${[...known].join(', ')}`);
  }
  const int = (text: string, name: string) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`);
    return v;
  };
  return {
    help: values.help,
    quick: values.quick,
    only,
    duration: parseSeconds(values.duration ?? (values.quick ? '3' : '10'), 'duration'),
    warmup: parseSeconds(values.warmup ?? (values.quick ? '1' : '3'), 'warmup'),
    connections: int(values.connections, 'connections'),
    threads: int(values.threads, 'threads'),
    repeat: int(values.repeat, 'repeat'),
    retries: Number.isInteger(Number(values.retries)) ? Math.max(0, Number(values.retries)) : 3,
    maxRps: values['max-rps'] === undefined ? undefined : int(values['max-rps'], 'max-rps'),
    fixedFraction: Number(values['fixed-fraction']),
    interleave: values.interleave,
    profile: values.profile,
    sign: !values['no-sign'] && (only.length > 0 ? only.includes(SIGN_ID) : !values.quick),
    output: values.output,
    keepTmp: values['keep-tmp'],
    quietWait: parseSeconds(values['quiet-wait'], 'quiet-wait'),
    report: values.report,
  };
}
type Options = ReturnType<typeof parseOptions>;

const HELP = `npm run bench -- [options]     (node bench/dataplane.ts)
  --quick               smoke run: 3 s rows, 1 s warm-up, no bench:sign
  --only <ids>          comma-separated or repeated: ${ROWS.map((r) => r.id).join(', ')}, ${SIGN_ID}
  --duration <s>        seconds measured per row (default 10)
  --warmup <s>          seconds of load before each measurement (default 3)
  --connections <n>     wrk/vegeta connections (default 32)
  --threads <n>         wrk threads (default 1)
  --repeat <n>          measure each row n times, report the median (default 1)
  --interleave          start the max-throughput rows' proxies together and measure them in
                        turns, --repeat rounds: rows compared are measured in the same minutes
  --retries <n>         per row, measure again up to n times when other processes used
                        more than ${NOISY_PERCENT}% of a core during a run (default 3)
  --max-rps <req/s>     the max that fixed-rate rows take fractions of (default: the signed row's, this run)
  --fixed-fraction <f>  fraction for the *-fixed rows (default 0.5; the *-25 rows use 0.25)
  --profile             also run the signed row under node --cpu-prof and summarise it
  --no-sign             skip npm run bench:sign
  --output <file>       JSON result (default bench/results/dataplane-<time>.json)
  --keep-tmp            keep the temp dir (configs, logs)
  --quiet-wait <s>      before each row, wait up to this long for the machine to be idle (default 60)
  --report <file>       only re-print the tables of a saved JSON result
`;

function machineInfo(): Record<string, string | number> {
  const cpuModel = readCpuModel() ?? cpus()[0]?.model ?? 'unknown';
  const vegetaVersion = /\tmod\tgithub.com\/tsenart\/vegeta\/v12\t(\S+)/.exec(
    commandOutput('go', ['version', '-m', VEGETA]),
  )?.[1];
  const commit = commandOutput('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']);
  const dirty = commandOutput('git', ['-C', REPO, 'status', '--porcelain']) !== '';
  return {
    cpuModel,
    cores: availableParallelism(),
    memory: `${Math.round(totalmem() / 1024 ** 3)} GiB`,
    kernel: release(),
    node: process.version,
    nginx: commandOutput('/usr/sbin/nginx', ['-v']).replace(/^nginx version: /, ''),
    wrk: commandOutput('wrk', ['-v'])
      .split('\n')[0]!
      .replace(/ Copyright.*$/, '')
      .replace(/\s+$/, ''),
    vegeta: vegetaVersion ?? 'not installed',
    commit: `${commit}${dirty ? ' (with uncommitted changes)' : ''}`,
  };
}

function median<T>(items: T[], key: (t: T) => number): T {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** One request through the row's server, checked: 200 and body "ok". */
async function check(url: string, spec: RowSpec): Promise<void> {
  const response = await fetch(url, {
    method: spec.method,
    ...(spec.bodyBytes > 0 && { body: Buffer.alloc(spec.bodyBytes, 'x') }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status !== 200 || body !== 'ok') {
    throw new Error(`check ${spec.method} ${url}: HTTP ${response.status} ${body.slice(0, 300)}`);
  }
}

function rateOf(ctx: Context, spec: RowSpec): number | undefined {
  if (spec.mode !== 'fixed' || ctx.maxRps === undefined) return undefined;
  return Math.max(1, Math.round(ctx.maxRps * (spec.fraction ?? ctx.options.fixedFraction)));
}

interface Context {
  options: Options;
  dir: string;
  upstream: Server;
  manifests: string;
  /** vegeta's targets and results: not next to the manifests, which lambda-ingress watches */
  vegetaDir: string;
  /** fixed-rate rows run at a fraction of this (the signed row's max requests/s) */
  maxRps?: number;
}

async function measureOnce(
  ctx: Context,
  spec: RowSpec,
  load: LoadSpec,
  proxy: Server | undefined,
  before: Measured['before'],
): Promise<Measured> {
  const machine = new MachineMonitor();
  const harnessBefore = process.cpuUsage();
  const proxyMonitor = proxy && new TreeMonitor(proxy.proc.pid);
  const upstreamMonitor = new TreeMonitor(ctx.upstream.proc.pid, 0);
  const traced = spec.server === 'lambda-ingress' || spec.server === 'node-floor';
  const logFrom = traced && proxy ? fileSize(proxy.proc.logFile) : 0;
  let result: LoadResult;
  let proxyUsage: ReturnType<TreeMonitor['finish']> | undefined;
  let upstreamUsage: ReturnType<TreeMonitor['finish']>;
  try {
    result =
      spec.mode === 'fixed'
        ? await vegeta({ ...load, rate: rateOf(ctx, spec)!, workDir: ctx.vegetaDir })
        : await wrk({ ...load, seconds: ctx.options.duration });
  } finally {
    // (the monitors' timers must stop even when the load generator fails)
    proxyUsage = proxyMonitor?.finish();
    upstreamUsage = upstreamMonitor.finish();
  }
  const harness = process.cpuUsage(harnessBefore);
  const harnessSeconds = (harness.user + harness.system) / 1e6;
  const ours = new Set([...(proxyUsage?.pids ?? []), ...upstreamUsage.pids]);
  const m = machine.finish(ours, /^(wrk|vegeta)$/);
  const perRequest = (cpuSeconds: number) => (cpuSeconds / Math.max(1, result.requests)) * 1e6;
  const percent = (cpuSeconds: number) => (cpuSeconds / m.seconds) * 100;
  const unattributed =
    m.busyCpuSeconds -
    (proxyUsage?.cpuSeconds ?? 0) -
    upstreamUsage.cpuSeconds -
    result.loadgenCpuSeconds -
    harnessSeconds -
    m.othersCpuSeconds;
  return {
    load: result,
    ...(traced &&
      proxy && { gc: summarizeGcTrace(readFrom(proxy.proc.logFile, logFrom), result.durationSeconds) }),
    ...(proxyUsage && {
      proxy: {
        cpuSeconds: proxyUsage.cpuSeconds,
        cpuUsPerRequest: perRequest(proxyUsage.cpuSeconds),
        systemUsPerRequest: perRequest(proxyUsage.systemSeconds),
        cpuPercent: (proxyUsage.cpuSeconds / result.durationSeconds) * 100,
        peakRssBytes: proxyUsage.peakRssBytes,
        processes: proxyUsage.processes,
      },
    }),
    upstream: {
      cpuSeconds: upstreamUsage.cpuSeconds,
      cpuUsPerRequest: perRequest(upstreamUsage.cpuSeconds),
      cpuPercent: (upstreamUsage.cpuSeconds / result.durationSeconds) * 100,
    },
    tcpSegmentsPerRequest: m.tcpSegments / Math.max(1, result.requests),
    machineBusy: m.busyCpuSeconds / (m.seconds * availableParallelism()),
    loadgen: { cpuSeconds: result.loadgenCpuSeconds, cpuPercent: percent(result.loadgenCpuSeconds) },
    interferencePercent: percent(m.othersCpuSeconds),
    others: m.others.map((o) => ({ pid: o.pid, comm: o.comm, cpuPercent: percent(o.cpuSeconds) })),
    unattributedPercent: percent(Math.max(0, unattributed)),
    before,
  };
}

async function startProxy(ctx: Context, spec: RowSpec, cpuProfDir?: string): Promise<Server | undefined> {
  switch (spec.server) {
    case 'upstream':
      return undefined;
    case 'nginx':
      return startNginxProxy(ctx.dir, ctx.upstream.port);
    case 'nginx-lua':
      return startNginxLua(ctx.dir, ctx.upstream.port);
    case 'node-floor':
      return startNodeFloor(ctx.dir, ctx.upstream.port);
    case 'lambda-ingress':
      return startLambdaIngress({
        dir: ctx.dir,
        manifests: ctx.manifests,
        name: `lambda-ingress-${spec.id}`,
        ...(spec.workers !== undefined && { workers: spec.workers }),
        ...(spec.noAccessLog && { noAccessLog: true }),
        ...(spec.nodeFlags && { nodeFlags: spec.nodeFlags }),
        ...(cpuProfDir !== undefined && { cpuProfDir }),
      });
  }
}

/** A row's proxy started, checked and warmed up, ready to be measured. */
interface PreparedRow {
  spec: RowSpec;
  rate: number | undefined;
  proxy: Server | undefined;
  load: LoadSpec;
  runs: Measured[];
  discarded: Measured[];
}

/** A row that cannot run here (no --workers, no rate for a fixed row), or undefined. */
function unavailable(ctx: Context, spec: RowSpec): RowResult | undefined {
  if (spec.workers !== undefined && !hasWorkersFlag()) {
    return { spec, status: 'skipped', reason: '--workers not available' };
  }
  if (spec.mode === 'fixed' && rateOf(ctx, spec) === undefined) {
    return {
      spec,
      status: 'skipped',
      reason: 'no rate: run the signed row in the same run, or pass --max-rps',
    };
  }
  return undefined;
}

async function quiet(ctx: Context): Promise<Measured['before']> {
  const before = await waitQuiet(ctx.options.quietWait * 1000);
  if (before.busyCores >= 0.25) {
    process.stderr.write(
      `  machine still busy (${fmt(before.busyCores, 2)} cores) after waiting; measuring anyway\n`,
    );
  }
  return before;
}

/** Starts the row's proxy, checks one request and warms it up; the proxy is stopped if that fails. */
async function prepareRow(ctx: Context, spec: RowSpec): Promise<PreparedRow> {
  const { options } = ctx;
  const rate = rateOf(ctx, spec);
  const proxy = await startProxy(ctx, spec);
  try {
    const url = `http://127.0.0.1:${(proxy ?? ctx.upstream).port}${spec.path}`;
    await check(url, spec);
    const load: LoadSpec = {
      url,
      method: spec.method,
      bodyBytes: spec.bodyBytes,
      seconds: options.duration,
      connections: options.connections,
      threads: options.threads,
    };
    if (options.warmup > 0) {
      if (spec.mode === 'fixed')
        await vegeta({ ...load, seconds: options.warmup, rate: rate!, workDir: ctx.vegetaDir });
      else await wrk({ ...load, seconds: options.warmup });
    }
    return { spec, rate, proxy, load, runs: [], discarded: [] };
  } catch (error) {
    await stopServer(proxy);
    throw error;
  }
}

/**
 * Adds one run to the row. A run disturbed by other processes (> NOISY_PERCENT
 * of a core) is measured again, up to --retries times in all for the row.
 */
async function measureRun(ctx: Context, row: PreparedRow): Promise<void> {
  for (;;) {
    const measured = await measureOnce(ctx, row.spec, row.load, row.proxy, await quiet(ctx));
    if (measured.interferencePercent > NOISY_PERCENT && row.discarded.length < ctx.options.retries) {
      process.stderr.write(
        `  disturbed: other processes used ${Math.round(measured.interferencePercent)}% of a core; measuring again\n`,
      );
      row.discarded.push(measured);
      continue;
    }
    row.runs.push(measured);
    await sleep(500);
    return;
  }
}

/** The row's result: the median of its runs (by p99 for fixed-rate rows, by requests/s otherwise). */
function rowResult(row: PreparedRow): RowResult {
  const { spec, runs, discarded, rate } = row;
  const result =
    spec.mode === 'fixed' ? median(runs, (r) => r.load.latencyMs.p99) : median(runs, (r) => r.load.rps);
  const errorRate = result.load.errors / Math.max(1, result.load.requests);
  return {
    spec,
    status: errorRate > 0.001 ? 'failed' : 'ok',
    ...(errorRate > 0.001 && {
      reason: `${result.load.errors} errors: ${JSON.stringify(result.load.errorDetail)}`,
    }),
    ...(rate !== undefined && { rate }),
    result,
    runs,
    ...(discarded.length > 0 && { discarded }),
  };
}

/** The signed row's max is what the fixed-rate rows take fractions of (unless --max-rps gave one). */
function noteMaxRps(ctx: Context, row: RowResult): void {
  if (row.spec.id === 'signed' && row.status === 'ok' && ctx.maxRps === undefined)
    ctx.maxRps = row.result!.load.rps;
}

function reportRun(spec: RowSpec, r: Measured): void {
  const others = r.others.map((o) => `${o.comm} ${Math.round(o.cpuPercent)}%`).join(', ');
  process.stderr.write(
    `  ${spec.id}: ${Math.round(r.load.rps)} req/s, p99 ${fmt(r.load.latencyMs.p99, 2)} ms, proxy ${r.proxy ? `${fmt(r.proxy.cpuUsPerRequest)} µs/req` : '–'}, load generator ${Math.round(r.loadgen.cpuPercent)}%, unattributed ${Math.round(r.unattributedPercent)}%, other processes ${Math.round(r.interferencePercent)}% of a core${others ? ` (${others})` : ''}\n`,
  );
}

const failedRow = (spec: RowSpec, error: unknown): RowResult => ({
  spec,
  status: 'failed',
  reason: (error as Error).message.split('\n')[0],
});

/** One row on its own: its proxy started, measured --repeat times, stopped. */
async function runRow(ctx: Context, spec: RowSpec): Promise<RowResult> {
  const skipped = unavailable(ctx, spec);
  if (skipped) return skipped;
  let row: PreparedRow | undefined;
  try {
    row = await prepareRow(ctx, spec);
    while (row.runs.length < ctx.options.repeat) await measureRun(ctx, row);
    return rowResult(row);
  } catch (error) {
    return failedRow(spec, error);
  } finally {
    await stopServer(row?.proxy);
    await sleep(300); // let sockets in TIME_WAIT and the CPU settle between rows
  }
}

/**
 * --interleave: the rows' proxies run side by side and are measured in turns,
 * --repeat rounds (every other round in reverse order), so that a machine
 * slower in one minute than in the next weighs on every row alike and the
 * ratios between rows hold. Proxies not being measured are idle.
 */
async function runInterleaved(ctx: Context, specs: RowSpec[]): Promise<RowResult[]> {
  const results = new Map<RowSpec, RowResult>();
  const prepared: PreparedRow[] = [];
  try {
    for (const spec of specs) {
      const skipped = unavailable(ctx, spec);
      if (skipped) results.set(spec, skipped);
      else {
        process.stderr.write(`row ${spec.id}: ${spec.label}: starting\n`);
        await prepareRow(ctx, spec).then(
          (row) => prepared.push(row),
          (error) => results.set(spec, failedRow(spec, error)),
        );
      }
    }
    let live = prepared;
    for (let round = 0; round < ctx.options.repeat; round++) {
      process.stderr.write(`round ${round + 1} of ${ctx.options.repeat}\n`);
      for (const row of round % 2 === 0 ? live : [...live].reverse()) {
        try {
          await measureRun(ctx, row);
          reportRun(row.spec, row.runs.at(-1)!);
        } catch (error) {
          results.set(row.spec, failedRow(row.spec, error));
        }
      }
      live = live.filter((row) => !results.has(row.spec));
    }
    for (const row of live) results.set(row.spec, rowResult(row));
  } finally {
    for (const row of prepared) await stopServer(row.proxy);
  }
  return specs.map((spec) => results.get(spec)!);
}

async function runSignMicro(): Promise<SignMicro> {
  const { stdout, stderr, code } = await run(process.execPath, [join(REPO, 'bench/sign.ts')], {
    timeoutMs: 300_000,
  });
  if (code !== 0) throw new Error(`bench/sign.ts failed: ${stderr}`);
  const us = (re: RegExp) => {
    const m = re.exec(stdout);
    return m ? Number(m[1]!.replace(/,/g, '')) : undefined;
  };
  return {
    emptyUs: us(/RouteSigner\.sign \(src\/aws\/sigv4\.ts\), empty body \| ([\d.,]+) µs/),
    oneKbUs: us(/RouteSigner\.sign \(src\/aws\/sigv4\.ts\), 1 KB body \| ([\d.,]+) µs/),
    oneMbUs: us(/RouteSigner\.sign \(src\/aws\/sigv4\.ts\), 1 MB body \| ([\d.,]+) µs/),
    smithyEmptyUs: us(
      /SignatureV4\.sign, node:crypto \(bench\/node-sha256\.ts\), empty body \| ([\d.,]+) µs/,
    ),
    output: stdout,
  };
}

async function runProfile(ctx: Context, resultsDir: string, stamp: string) {
  const spec = ROWS.find((r) => r.id === 'signed')!;
  const profDir = join(ctx.dir, 'cpu-prof');
  mkdirSync(profDir, { recursive: true });
  const proxy = await startProxy(ctx, spec, profDir);
  let requests = 1; // the check
  try {
    const url = `http://127.0.0.1:${proxy!.port}${spec.path}`;
    await check(url, spec);
    const load = {
      url,
      method: spec.method,
      bodyBytes: 0,
      connections: ctx.options.connections,
      threads: ctx.options.threads,
    };
    if (ctx.options.warmup > 0) requests += (await wrk({ ...load, seconds: ctx.options.warmup })).requests;
    const measured = await wrk({ ...load, seconds: ctx.options.duration });
    requests += measured.requests;
    process.stderr.write(`  profiled signed row: ${Math.round(measured.rps)} req/s under --cpu-prof\n`);
  } finally {
    await stopServer(proxy); // the profile is written when the process exits
  }
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0)
    throw new Error('node --cpu-prof wrote no profile (did lambda-ingress exit cleanly?)');
  // With workers there would be several; the benchmark profiles the single-process row.
  const file = join(resultsDir, `dataplane-${stamp}-signed.cpuprofile`);
  copyFileSync(join(profDir, files[0]!), file);
  const summary = summarize(loadProfile(file));
  process.stderr.write(`\n${renderSummary(summary, 25)}\n\n`);
  return {
    file: relative(REPO, file),
    requests,
    totalMs: summary.totalMs,
    busyMs: summary.busyMs,
    samples: summary.samples,
    top: summary.functions.slice(0, 40),
  };
}

function fmt(x: number, digits = 1): string {
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function evaluateTargets(result: BenchResult): Target[] {
  const targets: Target[] = [];
  const nginx = rowById(result, 'nginx');
  const lua = rowById(result, 'nginx-lua');
  const floor = rowById(result, 'node-floor');
  const signed = rowById(result, 'signed');
  const signedNoLog = rowById(result, 'signed-nolog');
  const unsigned = rowById(result, 'unsigned');
  const fn = rowById(result, 'function');
  const directFixed = rowById(result, 'direct-fixed');
  const signedFixed = rowById(result, 'signed-fixed');
  const rps = (m: Measured) => Math.round(m.load.rps);
  /** A throughput ratio target: `of` over `to`, at least `goal`. */
  const ratioTarget = (
    name: string,
    of: Measured | undefined,
    to: Measured | undefined,
    goal: number,
    needs: string,
  ) => {
    const ratio = of && to ? of.load.rps / to.load.rps : undefined;
    targets.push({
      name,
      goal: `≥ ${fmt(goal, 2)}x`,
      measured:
        ratio === undefined
          ? `needs the ${needs} rows`
          : `${fmt(ratio, 2)}x (${rps(of!)} vs ${rps(to!)} req/s)`,
      status: ratio === undefined ? 'n/a' : ratio >= goal ? 'pass' : 'fail',
    });
  };

  ratioTarget(
    '(issue 13) signed, default flags (access log on), vs the Node floor',
    signed,
    floor,
    0.7,
    'signed and node-floor',
  );
  ratioTarget(
    '(issue 13) signed, --no-access-log, vs the Node floor',
    signedNoLog,
    floor,
    0.8,
    'signed-nolog and node-floor',
  );

  const cpuDelta =
    signed?.proxy && unsigned?.proxy
      ? signed.proxy.cpuUsPerRequest - unsigned.proxy.cpuUsPerRequest
      : undefined;
  targets.push({
    name: '(issue 13) signing cost per small request: CPU time signed − unsigned, same run',
    goal: '≤ 4 µs',
    measured:
      cpuDelta === undefined
        ? 'needs the signed and unsigned rows'
        : `${fmt(cpuDelta, 1)} µs (${fmt(signed!.proxy!.cpuUsPerRequest, 1)} − ${fmt(unsigned!.proxy!.cpuUsPerRequest, 1)} µs)`,
    status: cpuDelta === undefined ? 'n/a' : cpuDelta <= 4 ? 'pass' : 'fail',
  });

  const fixedRow = result.rows.find((r) => r.spec.id === 'signed-fixed');
  const added =
    directFixed && signedFixed ? signedFixed.load.latencyMs.p99 - directFixed.load.latencyMs.p99 : undefined;
  const nginxFixed = rowById(result, 'nginx-fixed');
  const nginxAdded =
    directFixed && nginxFixed ? nginxFixed.load.latencyMs.p99 - directFixed.load.latencyMs.p99 : undefined;
  targets.push({
    name: `(issue 13) p99 added over direct at ${fmt((result.options.fixedFraction as number) * 100, 0)}% of the signed max (vegeta, fixed rate)`,
    goal: '≤ 2 ms',
    measured:
      added === undefined
        ? 'needs the direct-fixed and signed-fixed rows'
        : `+${fmt(added, 2)} ms (p99 ${fmt(signedFixed!.load.latencyMs.p99, 2)} vs ${fmt(directFixed!.load.latencyMs.p99, 2)} ms at ${Math.round(fixedRow?.rate ?? 0)} req/s)${nginxAdded === undefined ? '' : `; nginx adds ${fmt(nginxAdded, 2)} ms at that rate`}${signedFixed!.gc ? `; GC max pause ${fmt(signedFixed!.gc.maxMs, 1)} ms` : ''}`,
    status: added === undefined ? 'n/a' : added <= 2 ? 'pass' : 'fail',
  });
  const direct25 = rowById(result, 'direct-fixed-25');
  const signed25 = rowById(result, 'signed-fixed-25');
  if (direct25 && signed25) {
    const added25 = signed25.load.latencyMs.p99 - direct25.load.latencyMs.p99;
    const rate25 = result.rows.find((r) => r.spec.id === 'signed-fixed-25')?.rate ?? 0;
    targets.push({
      name: '(for reference) p99 added over direct at 25% of the signed max',
      goal: '≤ 2 ms',
      measured: `+${fmt(added25, 2)} ms (p99 ${fmt(signed25.load.latencyMs.p99, 2)} vs ${fmt(direct25.load.latencyMs.p99, 2)} ms at ${Math.round(rate25)} req/s)`,
      status: added25 <= 2 ? 'pass' : 'fail',
    });
  }

  ratioTarget(
    '(issue 13) function (Invoke, payload 2.0) within 15% of url signed',
    fn,
    signed,
    0.85,
    'function and signed',
  );

  targets.push({
    name: '(issue 13) the nginx + LuaJIT row (APISIX-equivalent) is reported with its ratio',
    goal: 'reported',
    measured: lua
      ? `${rps(lua)} req/s: ${nginx ? `${fmt(lua.load.rps / nginx.load.rps, 2)}x nginx` : 'no nginx row'}, ${floor ? `${fmt(lua.load.rps / floor.load.rps, 2)}x the Node floor` : 'no floor row'}${signed ? `; lambda-ingress signed is ${fmt(signed.load.rps / lua.load.rps, 2)}x it` : ''}`
      : 'needs the nginx-lua row',
    status: lua ? 'pass' : 'n/a',
  });

  ratioTarget(
    '(benchmarks) one process, SigV4-signed, vs nginx proxying the same upstream',
    signed,
    nginx,
    0.5,
    'nginx and signed',
  );
  const micro = result.signMicro?.emptyUs;
  targets.push({
    name: '(benchmarks) signing cost per request, small body: npm run bench:sign (RouteSigner, empty body)',
    goal: '≤ 10 µs',
    measured: micro === undefined ? 'not run (--only sign, or a full run)' : `${fmt(micro, 1)} µs`,
    status: micro === undefined ? 'n/a' : micro <= 10 ? 'pass' : 'fail',
  });
  // A target computed from disturbed rows says more about the machine than about lambda-ingress.
  const disturbed = result.rows.filter((r) => (r.result?.interferencePercent ?? 0) > NOISY_PERCENT);
  if (disturbed.length > 0) {
    targets.push({
      name: `rows measured while other processes used more than ${NOISY_PERCENT}% of a core (⚠): the targets above that use them are not evaluations`,
      goal: 'none',
      measured: disturbed.map((r) => r.spec.id).join(', '),
      status: 'n/a',
    });
  }
  return targets;
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (options.help) {
    process.stdout.write(HELP);
    return;
  }
  if (options.report) {
    process.stdout.write(`${render(JSON.parse(readFileSync(options.report, 'utf8')) as BenchResult)}\n`);
    return;
  }
  const selected = ROWS.filter((r) => (options.only.length === 0 ? true : options.only.includes(r.id)));
  const resultsDir = join(REPO, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const startedAt = new Date();
  const stamp = startedAt
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d+Z$/, 'Z');
  const dir = mkdtempSync(join(tmpdir(), 'lambda-ingress-bench-'));
  registerTempDir(dir, options.keepTmp);
  if (options.keepTmp) process.stderr.write(`temp dir (kept): ${dir}\n`);

  const machine = machineInfo();
  const needsVegeta = selected.some((r) => r.mode === 'fixed');
  if (needsVegeta && machine.vegeta === 'not installed') {
    // Go and its module proxy are part of the development machine: build vegeta into a cache dir.
    process.stderr.write(`vegeta not found at ${VEGETA}: go install ${VEGETA_MODULE} (once)\n`);
    const built = await run('go', ['install', VEGETA_MODULE], {
      env: { ...process.env, GOBIN: dirname(VEGETA) },
      timeoutMs: 600_000,
    }).catch((error: Error) => ({ code: -1, stderr: error.message }));
    if (built.code !== 0) {
      throw new Error(
        `could not install vegeta (${built.stderr.trim()}); install it with GOBIN=${dirname(VEGETA)} go install ${VEGETA_MODULE}, set BENCH_VEGETA, or leave out the fixed-rate rows with --only`,
      );
    }
    Object.assign(machine, machineInfo());
  }
  const result: BenchResult = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    command: `node bench/dataplane.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    options: {
      duration: options.duration,
      warmup: options.warmup,
      connections: options.connections,
      threads: options.threads,
      repeat: options.repeat,
      interleave: options.interleave,
      retries: options.retries,
      fixedFraction: options.fixedFraction,
      maxRps: options.maxRps,
      loadGenerators: 'wrk (max rows), vegeta (fixed-rate rows)',
    },
    rows: [],
    targets: [],
  };

  const upstream = await startUpstream(dir);
  const vegetaDir = join(dir, 'vegeta');
  mkdirSync(vegetaDir);
  const ctx: Context = { options, dir, upstream, manifests: writeManifests(dir, upstream.port), vegetaDir };
  if (options.maxRps !== undefined) ctx.maxRps = options.maxRps;
  try {
    // Fixed-rate rows take their rate from the signed row's max: they come after the others.
    const maxRows = selected.filter((spec) => spec.mode === 'max');
    if (options.interleave) {
      result.rows.push(...(await runInterleaved(ctx, maxRows)));
      for (const row of result.rows) noteMaxRps(ctx, row);
    }
    for (const spec of options.interleave ? selected.filter((s) => s.mode === 'fixed') : selected) {
      process.stderr.write(
        `row ${spec.id}: ${spec.label}${rateOf(ctx, spec) ? ` @ ${rateOf(ctx, spec)} req/s` : ''}\n`,
      );
      const row = await runRow(ctx, spec);
      result.rows.push(row);
      if (row.status === 'ok') reportRun(spec, row.result!);
      else process.stderr.write(`  ${row.status}: ${row.reason}\n`);
      noteMaxRps(ctx, row);
    }
    if (options.sign) {
      process.stderr.write('npm run bench:sign (node bench/sign.ts)\n');
      result.signMicro = await runSignMicro();
    }
    if (options.profile) {
      process.stderr.write('profile: signed row under node --cpu-prof\n');
      result.profile = await runProfile(ctx, resultsDir, stamp);
    }
  } finally {
    await stopServer(upstream);
  }
  result.finishedAt = new Date().toISOString();
  result.targets = evaluateTargets(result);
  const output = options.output ?? join(resultsDir, `dataplane-${stamp}.json`);
  writeFileSync(output, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${render(result)}\n\nJSON: ${relative(process.cwd(), output)}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});
