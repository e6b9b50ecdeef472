// npm run bench:control-plane: how fast LambdaRoute changes reach serving, and
// initial sync time and memory at scale, against a real local kube-apiserver
// + etcd (hack/cluster.ts) and the controller as a separate process.
//
//   node bench/control-plane.ts [--quick] [--sizes 10,1000,10000] [--skip <phase>,...]
//                               [--node-options "<flags>"] [--heap-snapshot] [--profile] [--no-wait-idle]
//
//   --quick          smaller counts (10/100/1,000 routes, 5 changes each): a smoke test
//   --sizes          the population steps (default 10,1000,10000); the last is the cold start's size
//   --skip           phases to leave out: creation, changes, cold, bursts, info
//   --node-options   Node flags for the controller process (default: those of the deploy/ pod, see
//                    POD_NODE_OPTIONS; --node-options= for none)
//   --heap-snapshot  write controller heap snapshots (bench/results/*.heapsnapshot) at each
//                    settled point; summarize one with node bench/heap-summary.ts <file>
//   --profile        run the controller with --cpu-prof; profiles go to bench/results/
//   --no-wait-idle   do not wait for the data-plane benchmark (wrk, nginx) to finish first
//
// Measured (issue targets in parentheses):
// - controller RSS settled after each population step, while it watched the
//   objects being created (< 120 MB with 10 routes; < 350 MB at 10,000);
// - one route change (kubectl apply -f -, and the client-node create path) to
//   its first 200 through the data plane, with 10, 1,000 and 10,000 routes
//   present: p50/p99 over 20 changes (p99 < 1 s at 10,000);
// - a cold controller start with 10,000 routes and 10,000 Secrets: /readyz,
//   a sample of routes served (< 10 s), RSS settled (< 250 MB) and after
//   every route was served once (< 275 MB), /metrics then (< 3 MB, scraped
//   in < 100 ms);
// - 1,000 routes applied in a burst: time until the last one is served;
// - how fast objects can be created (client-node vs kubectl), for context.
//
// Results: printed as markdown and written to bench/results/control-plane.md
// (control-plane-quick.md with --quick).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { type ClusterInfo, clusterDown, clusterUp, ETCD_VERSION } from '../hack/cluster.ts';
import { freePorts, listenLoopback } from '../hack/lib/ports.ts';
import { memoryMaps, processStat, residentMemory } from '../hack/lib/procfs.ts';
import { GROUP, PLURAL, VERSION } from '../src/api/types.ts';
import { benchObjects, inParallel, range } from './kube-objects.ts';

const execFileP = promisify(execFile);
const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const CLUSTER_DIR = path.join(REPO_ROOT, '.cluster', 'bench-control-plane');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

const PHASES = ['creation', 'changes', 'cold', 'bursts', 'info'] as const;
const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    skip: { type: 'string', default: '' },
    'node-options': { type: 'string' },
    'heap-snapshot': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'wait-idle': { type: 'boolean', default: true },
  },
  allowNegative: true,
});
const QUICK = flags.quick === true;
const CONFIG = QUICK
  ? { sizes: [10, 100, 1000], changes: 5, namespaces: 5, createRate: 200, burst: 100, sample: 50 }
  : { sizes: [10, 1000, 10_000], changes: 20, namespaces: 20, createRate: 1000, burst: 1000, sample: 100 };
if (flags.sizes) CONFIG.sizes = flags.sizes.split(',').map(Number);
if (CONFIG.sizes.some((n, i) => !(Number.isInteger(n) && n > 0 && n > (CONFIG.sizes[i - 1] ?? 0))))
  throw new Error(`--sizes ${flags.sizes}: increasing positive integers, e.g. 10,1000,10000`);
const SKIP = new Set(flags.skip.split(',').filter(Boolean));
for (const phase of SKIP)
  if (!(PHASES as readonly string[]).includes(phase))
    throw new Error(`--skip ${phase}: not a phase (${PHASES.join(', ')})`);
const runs = (phase: (typeof PHASES)[number]) => !SKIP.has(phase);
/**
 * The heap the controller has in the deploy/ pod: the image's NODE_OPTIONS (its Dockerfile's ENV line),
 * and the old generation Node sizes from the container's memory limit (V8's ConfigureDefaults: a
 * quarter of it, times two on 64-bit), which on this machine, with no limit, would be 4 GB: a heap
 * that big grows up to 4x its live size between full GCs.
 */
function podNodeOptions(): string {
  const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const image = /^ENV NODE_OPTIONS="?([^"\n]*)"?$/m.exec(read('Dockerfile'))?.[1] ?? '';
  const limitMi = /limits:\n(?:[ \t]+\S+: .*\n)*?[ \t]+memory: (\d+)Mi$/m.exec(
    read('deploy/deployment.yaml'),
  )?.[1];
  return `${image} ${limitMi ? `--max-old-space-size=${Number(limitMi) / 2}` : ''}`.trim();
}
const NODE_OPTIONS = (flags['node-options'] ?? podNodeOptions()).split(/\s+/).filter(Boolean);
const LARGEST = CONFIG.sizes.at(-1)!;
/** Issue 15's targets. */
const TARGET = {
  rssFewRoutes: 120 * 2 ** 20,
  rssSettled: 250 * 2 ** 20,
  rssServed: 275 * 2 ** 20,
  rssWatched: 350 * 2 ** 20,
  metricsBytes: 3 * 2 ** 20,
  metricsMs: 100,
  changeP99Ms: 1000,
  startToServingMs: 10_000,
};
const CONCURRENCY = 32;
const POLL_MS = 10;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();
const log = (msg: string) =>
  process.stderr.write(`[control-plane ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (n: number) => (n >= 10_000 ? `${fmt(n / 1000, 1)} s` : `${fmt(n)} ms`);
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20)} MB`;
const kb = (bytes: number) =>
  bytes >= 2 ** 20 ? `${fmt(bytes / 2 ** 20, 1)} MB` : `${fmt(bytes / 1024)} KB`;

// ---------------------------------------------------------------------------------------------------
// Objects

let upstreamUrl = '';
const { ns, secret, route } = benchObjects(CONFIG.namespaces, () => upstreamUrl);
const baseRoute = (i: number) => route(`r-${i}`, i, `/r/${i}`, 'base');

type Obj = ReturnType<typeof secret> | ReturnType<typeof route>;

// ---------------------------------------------------------------------------------------------------
// Kubernetes clients

let cluster: ClusterInfo;
let kubectlCache = '';
let custom: CustomObjectsApi;
let core: CoreV1Api;

const crd = { group: GROUP, version: VERSION, plural: PLURAL };

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = spawn(
    'kubectl',
    [...args, '--kubeconfig', cluster.kubeconfigPath, '--cache-dir', kubectlCache],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  child.stdin.end(input ?? '');
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${code}): ${err.trim()}`);
  return out;
}

async function create(obj: Obj): Promise<string> {
  const namespace = obj.metadata.namespace;
  const created =
    obj.kind === 'Secret'
      ? await core.createNamespacedSecret({ namespace, body: obj })
      : await custom.createNamespacedCustomObject({ ...crd, namespace, body: obj });
  return (created as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion ?? '';
}

const list = (items: Obj[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

async function deleteRoutes(label: string): Promise<void> {
  await inParallel(range(0, CONFIG.namespaces), 8, (n) =>
    custom.deleteCollectionNamespacedCustomObject({
      ...crd,
      namespace: `bench-${n}`,
      labelSelector: `bench=${label}`,
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Upstream and data plane probes

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // A scrape of 10,000 routes on a busy machine can take seconds: this is not the target check.
    const req = http.get(url, { agent, timeout: 60_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

/** Polls `url` every POLL_MS until it answers 200; resolves with the time (performance.now()) of that answer. */
async function until200(url: string, timeoutMs: number): Promise<number> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if ((await probe(url)) === 200) return now();
    if (now() > deadline) throw new Error(`${url} not served within ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

/**
 * Polls every URL (a round at a time, `limit` in flight) until all answer 200; resolves with when the
 * last round ended and how many rounds it took.
 */
async function all200(
  urls: string[],
  timeoutMs: number,
  limit = 16,
): Promise<{ last: number; rounds: number }> {
  const deadline = now() + timeoutMs;
  let pending = urls;
  let last = now();
  let rounds = 0;
  while (pending.length) {
    const statuses = await inParallel(pending, limit, probe);
    last = now();
    rounds++;
    pending = pending.filter((_, i) => statuses[i] !== 200);
    if (!pending.length) break;
    if (now() > deadline) throw new Error(`${pending.length} routes not served, e.g. ${pending[0]}`);
    await sleep(POLL_MS);
  }
  return { last, rounds };
}

async function startUpstream(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  upstreamUrl = `http://127.0.0.1:${await listenLoopback(server)}/`;
  return server;
}

// ---------------------------------------------------------------------------------------------------
// The controller process

/** utime + stime of `pid`, in ms. */
const cpuMs = (pid: number): number => (processStat(pid)?.cpuSeconds ?? 0) * 1000;

interface Metrics {
  tableVersion: number;
  compileSeconds: number;
  ready: number;
  notReady: number;
  statusWrites: number;
  heapUsed: number;
}

/**
 * Where a controller's RSS is at one settled point: V8's heap (committed,
 * resident and used, per space), ArrayBuffers and other external memory
 * (malloc'd), and the rest of the anonymous memory (malloc arenas, thread
 * stacks), from the controller's own /metrics (process.memoryUsage(),
 * v8.getHeapSpaceStatistics()) and /proc/<pid>/smaps_rollup.
 */
interface MemoryBreakdown {
  point: string;
  rss: number;
  /** Resident file-backed pages: the node binary, shared libraries. */
  fileBacked: number;
  v8Committed: number;
  v8Resident: number;
  v8Used: number;
  /** Per V8 space (new, old, code, large_object, ...). */
  spaces: Map<string, { committed: number; resident: number; used: number }>;
  external: number;
  arrayBuffers: number;
  /** Anonymous resident memory outside V8's resident heap: malloc (external included), stacks. */
  nativeAnonymous: number;
}

class Controller {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly dataUrl: string;
  readonly adminUrl: string;
  readonly startedAt: number;
  readonly logPath: string;
  #exited: Promise<void>;
  #sampler: NodeJS.Timeout;
  peakSampledRss = 0;

  readonly name: string;

  private constructor(
    child: ChildProcess,
    dataPort: number,
    adminPort: number,
    logPath: string,
    name: string,
  ) {
    this.child = child;
    this.name = name;
    this.pid = child.pid!;
    this.startedAt = now();
    this.dataUrl = `http://127.0.0.1:${dataPort}`;
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    this.logPath = logPath;
    this.#exited = new Promise((resolve) => child.on('exit', () => resolve()));
    this.#sampler = setInterval(() => {
      this.peakSampledRss = Math.max(this.peakSampledRss, residentMemory(this.pid).rssBytes);
    }, 50);
  }

  static async start(name: string, logDir: string, logLevel = 'warn'): Promise<Controller> {
    const [dataPort, adminPort] = await freePorts(2);
    const logPath = path.join(logDir, `controller-${name}.log`);
    const out = createWriteStream(logPath);
    await new Promise((resolve) => out.on('open', resolve));
    const nodeFlags = [
      ...NODE_OPTIONS,
      ...(flags.profile
        ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS_DIR}`, `--cpu-prof-name=control-plane-${name}.cpuprofile`]
        : []),
      ...(flags['heap-snapshot'] ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${RESULTS_DIR}`] : []),
    ];
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        path.join(REPO_ROOT, 'bin', 'lambda-ingress'),
        'controller',
        '--kubeconfig',
        cluster.kubeconfigPath,
        '--host',
        '127.0.0.1',
        '--port',
        String(dataPort),
        '--admin-port',
        String(adminPort),
        '--lease-namespace',
        'default',
        '--log-level',
        logLevel,
        '--no-access-log',
      ],
      { stdio: ['ignore', out, out] },
    );
    running.add(child);
    child.on('exit', () => running.delete(child));
    return new Controller(child, dataPort, adminPort, logPath, name);
  }

  /**
   * With --heap-snapshot: a heap snapshot of the controller now, renamed to control-plane-<name>-<label>,
   * then the memory breakdown again: the snapshot's full GC leaves only what is live.
   */
  async heapSnapshot(label: string): Promise<void> {
    if (!flags['heap-snapshot']) return;
    const before = new Set(readdirSync(RESULTS_DIR));
    this.child.kill('SIGUSR2');
    // Node writes Heap.<date>.<pid>...heapsnapshot; it is complete once the process answers again.
    for (let i = 0; i < 600; i++) {
      await sleep(500);
      const written = readdirSync(RESULTS_DIR).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
      if (written && (await probe(`${this.adminUrl}/healthz`)) === 200) {
        const target = `control-plane-${this.name}-${label}.heapsnapshot`;
        renameSync(path.join(RESULTS_DIR, written), path.join(RESULTS_DIR, target));
        log(`heap snapshot: bench/results/${target}`);
        await this.memory('… after the full GC of a heap snapshot');
        return;
      }
    }
    throw new Error('no heap snapshot written');
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async metrics(): Promise<Metrics> {
    const text = await fetchText(`${this.adminUrl}/metrics`);
    const sum = (re: RegExp) => {
      let total = 0;
      for (const m of text.matchAll(re)) total += Number(m[1]);
      return total;
    };
    return {
      tableVersion: sum(/^lambda_ingress_table_version (\S+)$/gm),
      compileSeconds: sum(/^lambda_ingress_last_compile_duration_seconds (\S+)$/gm),
      ready: sum(/^lambda_ingress_routes\{state="ready"\} (\S+)$/gm),
      notReady: sum(/^lambda_ingress_routes\{state="not_ready"\} (\S+)$/gm),
      statusWrites: sum(/^lambda_ingress_status_writes_total\{[^}]*\} (\S+)$/gm),
      heapUsed: sum(/^lambda_ingress_nodejs_heap_size_used_bytes (\S+)$/gm),
    };
  }

  /** The memory breakdown now (see MemoryBreakdown), logged and kept for the report. */
  async memory(point: string): Promise<MemoryBreakdown> {
    const text = await fetchText(`${this.adminUrl}/metrics`);
    const value = (name: string) =>
      Number(new RegExp(`^lambda_ingress_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    const spaces: MemoryBreakdown['spaces'] = new Map();
    const field = { total: 'committed', resident: 'resident', used: 'used' } as const;
    for (const m of text.matchAll(
      /^lambda_ingress_nodejs_heap_space_size_(total|resident|used)_bytes\{space="([^"]+)"\} (\S+)$/gm,
    )) {
      const space = spaces.get(m[2]!) ?? { committed: 0, resident: 0, used: 0 };
      space[field[m[1] as keyof typeof field]] = Number(m[3]);
      spaces.set(m[2]!, space);
    }
    const maps = memoryMaps(this.pid);
    const rss = maps?.rssBytes ?? residentMemory(this.pid).rssBytes;
    const v8Resident = [...spaces.values()].reduce((sum, space) => sum + space.resident, 0);
    const breakdown: MemoryBreakdown = {
      point,
      rss,
      fileBacked: maps ? rss - maps.anonymousBytes : 0,
      v8Committed: value('nodejs_heap_size_total_bytes'),
      v8Resident,
      v8Used: value('nodejs_heap_size_used_bytes'),
      spaces,
      external: value('nodejs_external_memory_bytes'),
      arrayBuffers: value('nodejs_array_buffers_bytes'),
      nativeAnonymous: maps ? maps.anonymousBytes - v8Resident : 0,
    };
    memoryPoints.push(breakdown);
    log(`memory at ${point}: ${describeMemory(breakdown)}`);
    return breakdown;
  }

  /** Resolves with the time /readyz first answered 200, and when the admin port first answered at all. */
  async waitReady(timeoutMs: number): Promise<{ adminUp: number; ready: number }> {
    const deadline = now() + timeoutMs;
    let adminUp = 0;
    for (;;) {
      if (!this.alive) throw new Error(`controller exited: ${this.logTail()}`);
      const status = await probe(`${this.adminUrl}/readyz`);
      if (status !== 0 && !adminUp) adminUp = now();
      if (status === 200) return { adminUp, ready: now() };
      if (now() > deadline) throw new Error(`controller not ready after ${timeoutMs} ms: ${this.logTail()}`);
      await sleep(POLL_MS);
    }
  }

  /** Waits until `ready` routes are ready (per /metrics). */
  async waitRoutes(ready: number, timeoutMs: number): Promise<void> {
    const deadline = now() + timeoutMs;
    for (;;) {
      const m = await this.metrics();
      if (m.ready === ready && m.notReady === 0) return;
      if (now() > deadline)
        throw new Error(`expected ${ready} ready routes, have ${m.ready} ready and ${m.notReady} not ready`);
      await sleep(250);
    }
  }

  /**
   * Waits until the controller is quiet: for a window of `quietMs`, under 10% CPU in every 250 ms
   * slice, and no new table and no status write between the start and the end of the window (status
   * writes after a large change take a while). /metrics is read only at the window's edges, outside
   * the CPU slices: with per-route request series it can be large. Resolves with how long it took.
   */
  async settle(quietMs = 1500, timeoutMs = 300_000): Promise<number> {
    const started = now();
    let reason = '';
    for (;;) {
      const before = await this.metrics();
      let quiet = true;
      for (let t = 0; t < quietMs && quiet; t += 250) {
        const cpu = cpuMs(this.pid);
        const at = now();
        await sleep(250);
        const share = (cpuMs(this.pid) - cpu) / (now() - at);
        if (share > 0.1) {
          quiet = false;
          reason = `CPU ${fmt(share * 100)}%`;
        }
      }
      if (quiet) {
        const after = await this.metrics();
        if (after.statusWrites === before.statusWrites && after.tableVersion === before.tableVersion)
          return now() - started - quietMs;
        reason = `status writes ${before.statusWrites} -> ${after.statusWrites}, table ${before.tableVersion} -> ${after.tableVersion}`;
      }
      if (now() - started > timeoutMs) throw new Error(`controller did not settle (${reason})`);
    }
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Log lines at warn or above. */
  warnings(): string[] {
    return this.logLines().filter((line) => Number(/"level":(\d+)/.exec(line)?.[1] ?? 50) >= 40);
  }

  logLines(): string[] {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#sampler);
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------
// Environment

const running = new Set<ChildProcess>();
const memoryPoints: MemoryBreakdown[] = [];

/** A space's resident size, and how much of it is used. */
const spaceText = (b: MemoryBreakdown, name: string) => {
  const space = b.spaces.get(name);
  return space ? `${mb(space.resident)} (${mb(space.used)})` : '–';
};

function describeMemory(b: MemoryBreakdown): string {
  return (
    `RSS ${mb(b.rss)} = file-backed ${mb(b.fileBacked)} + V8 resident ${mb(b.v8Resident)} ` +
    `(committed ${mb(b.v8Committed)}, used ${mb(b.v8Used)}; new ${spaceText(b, 'new')}, old ${spaceText(b, 'old')}) + ` +
    `other anonymous ${mb(b.nativeAnonymous)} (external ${mb(b.external)}, of which ArrayBuffers ${mb(b.arrayBuffers)})`
  );
}

/** Waits while the data-plane benchmark (wrk or nginx) runs: the machine has 2 cores. Returns whether it was busy. */
async function waitIdle(what: string): Promise<boolean> {
  if (!flags['wait-idle']) return false;
  const busy = async () => {
    const { stdout } = await execFileP('pgrep', ['-fa', 'wrk|nginx']).catch(() => ({ stdout: '' }));
    return stdout.trim();
  };
  let found = await busy();
  if (!found) return false;
  log(`waiting for the data-plane benchmark to finish before ${what}:\n${found}`);
  for (let idle = 0; idle < 3; ) {
    await sleep(2000);
    found = await busy();
    idle = found ? 0 : idle + 1;
  }
  return true;
}

async function contended(): Promise<boolean> {
  const { stdout } = await execFileP('pgrep', ['-fa', 'wrk|nginx']).catch(() => ({ stdout: '' }));
  return stdout.trim() !== '';
}

async function machineInfo() {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const server = await kc.makeApiClient(VersionApi).getCode();
  const kubectlVersion = await execFileP('kubectl', ['version', '--client', '-o', 'json'])
    .then(
      ({ stdout }) =>
        (JSON.parse(stdout) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion,
    )
    .catch(() => 'unknown');
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory: `${fmt(os.totalmem() / 2 ** 30, 1)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    apiserver: server.gitVersion,
    etcd: ETCD_VERSION,
    kubectl: kubectlVersion,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)!, min: sorted[0]! };
}

// ---------------------------------------------------------------------------------------------------
// Phases

interface RateResult {
  method: string;
  objects: number;
  ms: number;
}

/** Creation rate of LambdaRoutes by several clients (no controller running). */
async function measureCreation(): Promise<RateResult[]> {
  const n = CONFIG.createRate;
  const results: RateResult[] = [];
  const objects = (m: string) =>
    range(0, n).map((i) => route(`c-${m}-${i}`, i, `/c/${m}/${i}`, `create-${m}`));
  // Warm-up: the apiserver's first writes of a new CRD (and the clients' first connections) are slower.
  await inParallel(objects('warmup').slice(0, 50), 8, create);
  await deleteRoutes('create-warmup');
  const timed = async (method: string, label: string, fn: (items: Obj[]) => Promise<unknown>) => {
    const items = objects(label);
    const started = now();
    await fn(items);
    results.push({ method, objects: n, ms: now() - started });
    log(`created ${n} routes with ${method} in ${ms(now() - started)}`);
    await deleteRoutes(`create-${label}`);
  };
  await timed(`client-node create, ${CONCURRENCY} in flight`, 'cn32', (items) =>
    inParallel(items, CONCURRENCY, create),
  );
  await timed('client-node create, 1 in flight', 'cn1', (items) => inParallel(items, 1, create));
  await timed('kubectl create -f (one List)', 'kcreate', (items) =>
    kubectl(['create', '-f', '-'], list(items)),
  );
  await timed('kubectl apply -f (one List, client-side apply)', 'kapply', (items) =>
    kubectl(['apply', '-f', '-'], list(items)),
  );
  await timed('kubectl apply --server-side -f (one List)', 'kssa', (items) =>
    kubectl(['apply', '--server-side', '-f', '-'], list(items)),
  );
  return results;
}

interface ChangeResult {
  size: number;
  method: 'kubectl' | 'client-node';
  served: number[];
  /** kubectl: when the kubectl process exited; client-node: when the create call returned. */
  acknowledged: number[];
  compileMs: number[];
}

/** One new route at a time: from just before the apply/create to its first 200. */
async function measureChanges(
  ctrl: Controller,
  size: number,
  method: 'kubectl' | 'client-node',
): Promise<ChangeResult> {
  const result: ChangeResult = { size, method, served: [], acknowledged: [], compileMs: [] };
  const label = `lat-${method === 'kubectl' ? 'k' : 'c'}`;
  // A kubectl warm-up: its first run fills the discovery cache.
  if (method === 'kubectl') await kubectl(['get', 'lambdaroutes', '-n', ns(0), '-o', 'name']);
  for (let j = 0; j < CONFIG.changes; j++) {
    const k = j % size;
    const routePath = `/${label}/${size}/${j}`;
    const obj = route(`${label}-${size}-${j}`, k, routePath, label);
    const url = `${ctrl.dataUrl}${routePath}`;
    if ((await probe(url)) !== 404) throw new Error(`${url} answers before the change`);
    const started = now();
    const acknowledged =
      method === 'kubectl'
        ? kubectl(['apply', '-f', '-'], JSON.stringify(obj)).then(now)
        : create(obj).then(now);
    const served = until200(url, 30_000);
    const [ack, done] = await Promise.all([acknowledged, served]);
    result.served.push(done - started);
    result.acknowledged.push(ack - started);
    result.compileMs.push((await ctrl.metrics()).compileSeconds * 1000);
    // Let the status write for this route and its watch event pass, then a random offset.
    await sleep(300 + randomInt(200));
    await ctrl.settle(300, 30_000);
  }
  await deleteRoutes(label);
  return result;
}

interface SyncResult {
  routes: number;
  secrets: number;
  adminUpMs: number;
  readyMs: number;
  sampleServedMs: number;
  rssAtReady: number;
  hwmAtReady: number;
  settleMs: number;
  rssSettled: number;
  hwmSettled: number;
  heapSettled: number;
  sweepMs: number;
  metricsBefore: { bytes: number; ms: number };
  metricsAfter: { bytes: number; ms: number };
  rssAfterSweep: number;
  hwmAfterSweep: number;
  cpuMsToReady: number;
}

/** Size of /metrics and how long one scrape takes (median of 3). */
async function scrape(ctrl: Controller): Promise<{ bytes: number; ms: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) {
    const started = now();
    bytes = Buffer.byteLength(await fetchText(`${ctrl.adminUrl}/metrics`));
    times.push(now() - started);
  }
  return { bytes, ms: stats(times).p50 };
}

async function measureColdSync(
  logDir: string,
  routes: number,
): Promise<{ ctrl: Controller; sync: SyncResult }> {
  const ctrl = await Controller.start('cold-sync', logDir);
  const { adminUp, ready } = await ctrl.waitReady(120_000);
  const atReady = residentMemory(ctrl.pid);
  const cpuMsToReady = cpuMs(ctrl.pid);
  const sample = Array.from({ length: CONFIG.sample }, () => randomInt(routes));
  const { last: sampleServed } = await all200(
    sample.map((i) => `${ctrl.dataUrl}/r/${i}`),
    120_000,
  );
  log(
    `cold sync: ready after ${ms(ready - ctrl.startedAt)}, sample served after ${ms(sampleServed - ctrl.startedAt)}`,
  );
  const settleMs = await ctrl.settle();
  const settled = residentMemory(ctrl.pid);
  const heapSettled = (await ctrl.metrics()).heapUsed;
  const metricsBefore = await scrape(ctrl);
  await ctrl.memory(`cold start, ${fmt(routes)} routes, settled`);
  await ctrl.heapSnapshot('settled');
  // Every route, once (validation, and what serving them all costs in memory).
  const sweepStarted = now();
  await all200(
    range(0, routes).map((i) => `${ctrl.dataUrl}/r/${i}`),
    300_000,
  );
  const sweepMs = now() - sweepStarted;
  // Settled again: the sweep's garbage is not what the target is about.
  await ctrl.settle();
  const afterSweep = residentMemory(ctrl.pid);
  const metricsAfter = await scrape(ctrl);
  await ctrl.memory('… after serving every route once');
  await ctrl.heapSnapshot('served');
  return {
    ctrl,
    sync: {
      routes,
      secrets: routes,
      adminUpMs: adminUp - ctrl.startedAt,
      readyMs: ready - ctrl.startedAt,
      sampleServedMs: sampleServed - ctrl.startedAt,
      rssAtReady: atReady.rssBytes,
      hwmAtReady: atReady.peakRssBytes,
      settleMs,
      rssSettled: settled.rssBytes,
      hwmSettled: settled.peakRssBytes,
      heapSettled,
      sweepMs,
      metricsBefore,
      metricsAfter,
      rssAfterSweep: afterSweep.rssBytes,
      hwmAfterSweep: afterSweep.peakRssBytes,
      cpuMsToReady,
    },
  };
}

interface InfoSyncResult {
  readyMs: number;
  sampleServedMs: number;
  cpuMsToReady: number;
  rssAtReady: number;
  logLines: number;
  logBytes: number;
}

/**
 * The cold start again at the default --log-level info: the first table logs "route ready" for every
 * route, and each application log line is scrubbed of every known secret value (src/util/log.ts).
 */
async function measureColdInfo(logDir: string, routes: number): Promise<InfoSyncResult> {
  const ctrl = await Controller.start('cold-sync-info', logDir, 'info');
  try {
    const { ready } = await ctrl.waitReady(300_000);
    const rssAtReady = residentMemory(ctrl.pid).rssBytes;
    const cpuMsToReady = cpuMs(ctrl.pid);
    const sample = Array.from({ length: CONFIG.sample }, () => randomInt(routes));
    const { last } = await all200(
      sample.map((i) => `${ctrl.dataUrl}/r/${i}`),
      300_000,
    );
    await ctrl.settle();
    const lines = ctrl.logLines();
    log(`cold sync at --log-level info: ready after ${ms(ready - ctrl.startedAt)}`);
    return {
      readyMs: ready - ctrl.startedAt,
      sampleServedMs: last - ctrl.startedAt,
      cpuMsToReady,
      rssAtReady,
      logLines: lines.length,
      logBytes: lines.reduce((n, l) => n + l.length + 1, 0),
    };
  } finally {
    await ctrl.stop();
  }
}

interface BurstResult {
  method: string;
  routes: number;
  present: number;
  createdMs: number;
  servedMs: number;
  settleMs: number;
}

async function measureBurst(
  ctrl: Controller,
  present: number,
  method: 'kubectl' | 'client-node',
): Promise<BurstResult> {
  const n = CONFIG.burst;
  const label = `burst-${method === 'kubectl' ? 'k' : 'c'}`;
  const items = range(0, n).map((j) => route(`${label}-${j}`, j % present, `/${label}/${j}`, label));
  const urls = items.map((o) => `${ctrl.dataUrl}${o.spec.match.path}`);
  const started = now();
  let marker: string;
  if (method === 'kubectl') {
    // kubectl creates the items one after the other: the last is the newest.
    await kubectl(['apply', '-f', '-'], list(items));
    marker = urls.at(-1)!;
  } else {
    const versions = await inParallel(items, CONCURRENCY, create);
    let newest = 0;
    for (let i = 1; i < versions.length; i++)
      if (BigInt(versions[i]!) > BigInt(versions[newest]!)) newest = i;
    marker = urls[newest]!;
  }
  const created = now();
  // The watch delivers in resourceVersion order and tables are whole snapshots: once the newest
  // route is served, all should be. Check all of them, and keep polling any that are not.
  const markerServed = await until200(marker, 120_000);
  const sweep = await all200(urls, 120_000);
  const servedAt = sweep.rounds === 1 ? markerServed : sweep.last;
  const settleMs = await ctrl.settle();
  log(`burst (${method}): created in ${ms(created - started)}, last served after ${ms(servedAt - started)}`);
  const result: BurstResult = {
    method:
      method === 'kubectl'
        ? `kubectl apply -f (one List of ${fmt(n)})`
        : `client-node create, ${CONCURRENCY} in flight`,
    routes: n,
    present,
    createdMs: created - started,
    servedMs: servedAt - started,
    settleMs,
  };
  await deleteRoutes(label);
  await ctrl.waitRoutes(present, 120_000);
  await ctrl.settle();
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Report

interface Report {
  info: Awaited<ReturnType<typeof machineInfo>>;
  creation: RateResult[];
  population: { size: number; objects: number; ms: number }[];
  changes: ChangeResult[];
  steady: {
    size: number;
    rss: number;
    heap: number;
    tables: number;
    settleMs: number;
    apiserverRss: number;
  }[];
  sync?: SyncResult;
  syncInfo?: InfoSyncResult;
  bursts: BurstResult[];
  contended: string[];
  warnings: string[];
  profiles: string[];
}

function render(r: Report): string {
  const out: string[] = [];
  const command = ['node bench/control-plane.ts', ...process.argv.slice(2)].join(' ');
  out.push(`## Control plane: route changes to serving, sync time and memory${QUICK ? ' (--quick)' : ''}`);
  out.push('');
  out.push(`Command: \`${command}\` (${new Date().toISOString().slice(0, 16)}Z)`);
  out.push('');
  out.push(
    `Machine: ${r.info.cpu}, ${r.info.cores} cores, ${r.info.memory} RAM, ${r.info.kernel}; Node ${r.info.node}; ` +
      `kube-apiserver ${r.info.apiserver} + etcd ${r.info.etcd} on loopback (hack/cluster.ts, etcd --unsafe-no-fsync); ` +
      `kubectl ${r.info.kubectl}. Everything (apiserver, etcd, controller, upstream, the probes) shares the cores.`,
  );
  out.push('');
  out.push(
    `Setup: ${CONFIG.namespaces} namespaces; each route \`/r/<i>\` has its own Secret (distinct IAM keys) and targets a ` +
      `\`node:http\` upstream answering 200; the controller runs as \`node ${NODE_OPTIONS.map((o) => `${o} `).join('')}` +
      `bin/lambda-ingress controller --log-level warn --no-access-log\` (the compiled dist/, built first). A change is a new LambdaRoute (referencing an existing Secret); latency is ` +
      `from just before \`kubectl apply -f -\` (or the client-node create call) to the first 200 from the data plane, ` +
      `polled every ${POLL_MS} ms. p99 of ${CONFIG.changes} samples is the worst sample.`,
  );
  out.push('');

  const largest = r.changes.find((c) => c.size === LARGEST && c.method === 'kubectl');
  const sync = r.sync;
  const verdict = (value: number, limit: number) => (value < limit ? '**pass**' : '**FAIL**');
  const row = (target: string, result: string, value: number, limit: number) =>
    out.push(`| ${target} | ${result} | ${verdict(value, limit)} |`);
  out.push('### Targets');
  out.push('');
  out.push('| target | result | |');
  out.push('| --- | --- | --- |');
  const few = r.steady[0];
  if (few)
    row(`RSS < 120 MB with ${fmt(few.size)} routes (settled)`, mb(few.rss), few.rss, TARGET.rssFewRoutes);
  if (sync) {
    row(
      `RSS < 250 MB with ${fmt(sync.routes)} routes + ${fmt(sync.secrets)} Secrets, settled after a cold start`,
      mb(sync.rssSettled),
      sync.rssSettled,
      TARGET.rssSettled,
    );
    row(
      'RSS < 275 MB after serving every route once (settled)',
      mb(sync.rssAfterSweep),
      sync.rssAfterSweep,
      TARGET.rssServed,
    );
  }
  const watched = r.steady.find((s) => s.size === LARGEST);
  if (watched && watched !== few)
    row(
      `RSS < 350 MB for a controller that watched all ${fmt(LARGEST)} routes + Secrets being created (settled)`,
      mb(watched.rss),
      watched.rss,
      TARGET.rssWatched,
    );
  if (sync) {
    row(
      '`/metrics` < 3 MB after every route was served once',
      kb(sync.metricsAfter.bytes),
      sync.metricsAfter.bytes,
      TARGET.metricsBytes,
    );
    row(
      '… scraped in < 100 ms (median of 3)',
      ms(sync.metricsAfter.ms),
      sync.metricsAfter.ms,
      TARGET.metricsMs,
    );
  }
  if (largest) {
    const p99 = stats(largest.served).p99;
    row(
      `route change applied to serving, p99 < 1 s with ${fmt(LARGEST)} routes (kubectl apply)`,
      ms(p99),
      p99,
      TARGET.changeP99Ms,
    );
  }
  const clientNode = r.changes.find((c) => c.size === LARGEST && c.method === 'client-node');
  if (clientNode) {
    const p99 = stats(clientNode.served).p99;
    row('same, client-node create', ms(p99), p99, TARGET.changeP99Ms);
  }
  if (sync) {
    row(
      `${fmt(sync.routes)} routes + ${fmt(sync.secrets)} Secrets synced and served < 10 s (start to ${CONFIG.sample} random routes answering 200)`,
      ms(sync.sampleServedMs),
      sync.sampleServedMs,
      TARGET.startToServingMs,
    );
    out.push(`| (peak RSS during the cold start, VmHWM) | ${mb(sync.hwmSettled)} | |`);
  }
  if (QUICK)
    out.push(
      '',
      '(--quick: counts are smaller than the targets assume; the verdicts apply to the full run.)',
    );
  out.push('');

  if (r.changes.length) {
    out.push('### One route change to first 200');
    out.push('');
    out.push('| routes present | client | p50 | p99 | min | acknowledged (p50) | compile (p50) |');
    out.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
    for (const c of r.changes) {
      const s = stats(c.served);
      out.push(
        `| ${fmt(c.size)} | ${c.method === 'kubectl' ? '`kubectl apply -f -`' : 'client-node create'} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.min)} | ${ms(stats(c.acknowledged).p50)} | ${fmt(stats(c.compileMs).p50, 1)} ms |`,
      );
    }
    out.push('');
    out.push(
      '"acknowledged": kubectl exited / the create call returned. "compile": `lambda_ingress_last_compile_duration_seconds` ' +
        'after the change (compile() only; building handlers and swapping the table come on top). The source debounces ' +
        'changes by 100 ms.',
    );
    out.push('');
  }

  if (sync) {
    out.push(`### Cold start with ${fmt(sync.routes)} routes and ${fmt(sync.secrets)} Secrets`);
    out.push('');
    out.push('| measurement | result |');
    out.push('| --- | ---: |');
    out.push(`| process start to admin port answering | ${ms(sync.adminUpMs)} |`);
    out.push(`| process start to /readyz 200 | ${ms(sync.readyMs)} |`);
    out.push(
      `| process start to ${CONFIG.sample} random routes answering 200 | ${ms(sync.sampleServedMs)} |`,
    );
    out.push(`| controller CPU time until ready | ${ms(sync.cpuMsToReady)} |`);
    out.push(`| RSS at ready (peak so far) | ${mb(sync.rssAtReady)} (${mb(sync.hwmAtReady)}) |`);
    out.push(`| settled after (status writes, CPU idle) | ${ms(sync.settleMs)} after ready |`);
    out.push(`| RSS settled (peak, VmHWM) | ${mb(sync.rssSettled)} (${mb(sync.hwmSettled)}) |`);
    out.push(`| V8 heap used, settled | ${mb(sync.heapSettled)} |`);
    out.push(`| every route requested once (16 in flight), all 200 | ${ms(sync.sweepMs)} |`);
    out.push(`| RSS after that, settled (peak) | ${mb(sync.rssAfterSweep)} (${mb(sync.hwmAfterSweep)}) |`);
    if (r.syncInfo) {
      const i = r.syncInfo;
      out.push(
        `| same start at the default \`--log-level info\`: /readyz 200; ${CONFIG.sample} routes served; CPU until ready | ${ms(i.readyMs)}; ${ms(i.sampleServedMs)}; ${ms(i.cpuMsToReady)} |`,
      );
      out.push(
        `| … its log until settled; RSS at ready | ${fmt(i.logLines)} lines, ${kb(i.logBytes)}; ${mb(i.rssAtReady)} |`,
      );
    }
    out.push(
      `| /metrics size and scrape time, before → after every route served once | ${kb(sync.metricsBefore.bytes)}, ${ms(sync.metricsBefore.ms)} → ${kb(sync.metricsAfter.bytes)}, ${ms(sync.metricsAfter.ms)} |`,
    );
    out.push('');
  }

  if (r.bursts.length) {
    out.push(`### Burst of ${fmt(CONFIG.burst)} new routes`);
    out.push('');
    out.push('| client | routes present | all created | last one served | settled (status writes) after |');
    out.push('| --- | ---: | ---: | ---: | ---: |');
    for (const b of r.bursts)
      out.push(
        `| ${b.method} | ${fmt(b.present)} | ${ms(b.createdMs)} | ${ms(b.servedMs)} | ${ms(b.settleMs)} |`,
      );
    out.push('');
    out.push('Times from the start of the burst.');
    out.push('');
  }

  out.push('### Steady state after each population step (controller running throughout)');
  out.push('');
  out.push(
    '| routes (+ Secrets) | objects created | creation time | settled after | tables compiled so far | controller RSS | V8 heap used | kube-apiserver RSS |',
  );
  out.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of r.steady) {
    const p = r.population.find((x) => x.size === s.size);
    out.push(
      `| ${fmt(s.size)} | ${fmt(p?.objects ?? 0)} | ${p ? ms(p.ms) : ''} | ${ms(s.settleMs)} | ${fmt(s.tables)} | ${mb(s.rss)} | ${mb(s.heap)} | ${mb(s.apiserverRss)} |`,
    );
  }
  out.push('');
  out.push(
    `Objects are created with client-node, ${CONCURRENCY} in flight, while the controller watches; "settled" is ` +
      'how long after creation the controller kept compiling or writing status.',
  );
  out.push('');

  if (memoryPoints.length) {
    out.push('### Where the RSS is, at the settled points');
    out.push('');
    out.push(
      '| point | RSS | file-backed | V8 resident (committed; used) | new space | old space | large objects | code | other anonymous | external (ArrayBuffers) |',
    );
    out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const b of memoryPoints)
      out.push(
        `| ${b.point} | ${mb(b.rss)} | ${mb(b.fileBacked)} | ${mb(b.v8Resident)} (${mb(b.v8Committed)}; ${mb(b.v8Used)}) | ${spaceText(b, 'new')} | ${spaceText(b, 'old')} | ${spaceText(b, 'large_object')} | ${spaceText(b, 'code')} | ${mb(b.nativeAnonymous)} | ${mb(b.external)} (${mb(b.arrayBuffers)}) |`,
      );
    out.push('');
    out.push(
      "From the controller's /metrics (`process.memoryUsage()`; `v8.getHeapSpaceStatistics()`: per space, " +
        'resident (used)) and /proc/<pid>/smaps_rollup. "Other anonymous" is resident anonymous memory outside ' +
        'V8\'s resident heap: malloc (external memory and ArrayBuffers included), thread stacks; "file-backed" is ' +
        'the node binary and shared libraries.',
    );
    out.push('');
  }

  if (r.creation.length) {
    out.push(`### Creating ${fmt(CONFIG.createRate)} LambdaRoutes (no controller running)`);
    out.push('');
    out.push('| client | time | objects/s |');
    out.push('| --- | ---: | ---: |');
    for (const c of r.creation) out.push(`| ${c.method} | ${ms(c.ms)} | ${fmt(c.objects / (c.ms / 1000))} |`);
    out.push('');
  }

  if (r.contended.length)
    out.push(`Note: the data-plane benchmark was running during: ${r.contended.join(', ')}.`, '');
  if (r.warnings.length) {
    out.push(`Controller log lines at warn or above (${r.warnings.length}), first ones:`, '');
    out.push('```', ...r.warnings.slice(0, 5).map((w) => w.slice(0, 300)), '```', '');
  }
  if (r.profiles.length) out.push(`CPU profiles: ${r.profiles.join(', ')}`, '');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'lambda-ingress-bench-cp-'));
  kubectlCache = path.join(logDir, 'kubectl-cache');
  let upstream: http.Server | undefined;
  let ctrl: Controller | undefined;
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await ctrl?.stop().catch(() => {});
    for (const child of running) child.kill('SIGKILL');
    upstream?.closeAllConnections();
    upstream?.close();
    agent.destroy();
    await clusterDown({ dir: CLUSTER_DIR, log: () => {} }).catch((e: Error) =>
      log(`cluster down: ${e.message}`),
    );
    rmSync(CLUSTER_DIR, { recursive: true, force: true });
    rmSync(logDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  const report: Report = {
    info: undefined as never,
    creation: [],
    population: [],
    changes: [],
    steady: [],
    bursts: [],
    contended: [],
    warnings: [],
    profiles: [],
  };
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    await waitIdle(name);
    log(`${name}...`);
    const result = await fn();
    if (await contended()) report.contended.push(name);
    return result;
  };

  try {
    await waitIdle('starting');
    // The image runs dist/: measured from the sources, the controller would carry the type stripper (~30 MB).
    log('npm run build (the controller runs the compiled dist/, as the image does)');
    await execFileP('npm', ['run', 'build'], { cwd: REPO_ROOT });
    mkdirSync(RESULTS_DIR, { recursive: true });
    rmSync(CLUSTER_DIR, { recursive: true, force: true });
    log(`starting kube-apiserver + etcd in ${CLUSTER_DIR}`);
    cluster = await clusterUp({ dir: CLUSTER_DIR, log: () => {} });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    await kubectl(['apply', '-f', path.join(REPO_ROOT, 'crds', 'lambdaroute.yaml')]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/lambdaroutes.lambda-ingress.io',
    ]);
    report.info = await machineInfo();
    upstream = await startUpstream();
    await inParallel(range(0, CONFIG.namespaces), 8, (n) =>
      core.createNamespace({ body: { metadata: { name: `bench-${n}` } } }),
    );
    // The CRD's endpoints can take a moment after Established.
    for (let i = 0; ; i++) {
      try {
        await custom.listNamespacedCustomObject({ ...crd, namespace: ns(0) });
        break;
      } catch (e) {
        if (i > 50) throw e;
        await sleep(100);
      }
    }

    if (runs('creation')) report.creation = await phase('creation rates', measureCreation);

    let present = 0;
    for (const size of CONFIG.sizes) {
      await phase(`populating ${fmt(size)} routes`, async () => {
        const started = now();
        await inParallel(
          range(present, size).map((i) => secret(i, 'base')),
          CONCURRENCY,
          create,
        );
        await inParallel(range(present, size).map(baseRoute), CONCURRENCY, create);
        report.population.push({ size, objects: 2 * (size - present), ms: now() - started });
        present = size;
      });
      if (!ctrl) {
        ctrl = await Controller.start('steady', logDir);
        await ctrl.waitReady(120_000);
      }
      const c = ctrl;
      await c.waitRoutes(size, 600_000);
      const settleMs = await c.settle();
      const m = await c.metrics();
      report.steady.push({
        size,
        rss: residentMemory(c.pid).rssBytes,
        heap: m.heapUsed,
        tables: m.tableVersion,
        settleMs,
        apiserverRss: residentMemory(cluster.apiserverPid).rssBytes,
      });
      log(
        `steady with ${fmt(size)} routes: RSS ${mb(residentMemory(c.pid).rssBytes)}, heap ${mb(m.heapUsed)}`,
      );
      await c.memory(`watched ${fmt(size)} routes being created`);
      await c.heapSnapshot(`${size}`);
      for (const method of runs('changes') ? (['kubectl', 'client-node'] as const) : []) {
        const result = await phase(`${CONFIG.changes} changes with ${fmt(size)} routes (${method})`, () =>
          measureChanges(c, size, method),
        );
        const s = stats(result.served);
        log(`  p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`);
        report.changes.push(result);
        await c.waitRoutes(size, 120_000);
        await c.settle();
      }
    }
    report.warnings.push(...ctrl!.warnings());
    await ctrl!.stop();
    ctrl = undefined;

    if (runs('cold') || runs('bursts')) {
      const cold = await phase(`cold start with ${fmt(present)} routes`, () =>
        measureColdSync(logDir, present),
      );
      ctrl = cold.ctrl;
      if (runs('cold')) report.sync = cold.sync;
      for (const method of runs('bursts') ? (['kubectl', 'client-node'] as const) : []) {
        const c = ctrl;
        report.bursts.push(
          await phase(`burst of ${CONFIG.burst} (${method})`, () => measureBurst(c, present, method)),
        );
      }
      report.warnings.push(...ctrl.warnings());
      await ctrl.stop();
      ctrl = undefined;
    }

    if (runs('info'))
      report.syncInfo = await phase(`cold start with ${fmt(present)} routes, --log-level info`, () =>
        measureColdInfo(logDir, present),
      );
    if (flags.profile)
      report.profiles.push(
        ...['steady', 'cold-sync', 'cold-sync-info'].map(
          (n) => `bench/results/control-plane-${n}.cpuprofile`,
        ),
      );

    const markdown = render(report);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const partial = flags.sizes !== undefined || SKIP.size > 0;
    const file = path.join(
      RESULTS_DIR,
      QUICK ? 'control-plane-quick.md' : partial ? 'control-plane-partial.md' : 'control-plane.md',
    );
    writeFileSync(file, `${markdown}\n`);
    process.stdout.write(`${markdown}\n`);
    log(`written to ${path.relative(REPO_ROOT, file)}`);
  } catch (error) {
    if (ctrl) log(`controller log tail:\n${ctrl.logTail()}`);
    throw error;
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `control-plane benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
  );
  process.exitCode = 1;
});
