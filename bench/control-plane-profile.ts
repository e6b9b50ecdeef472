// Where the controller's time and memory go at scale: a helper of
// bench/control-plane.ts for when a target is missed.
//
//   node bench/control-plane-profile.ts [--routes 10000] [--changes 10] [--growth 2000]
//
// Populates a local kube-apiserver (hack/cluster.ts) with N LambdaRoutes and N
// Secrets, starts the controller under the inspector (paused at its first line),
// and reports, from the inspector:
// - a CPU profile of the cold sync (process start to /readyz 200), and one of
//   K single-route changes (create, wait until served): self time by function,
//   and inclusive time of the project's own functions (src/);
// - memory at ready, after a forced GC, per V8 heap space, and where the live
//   heap was allocated (sampling heap profiler, attributed to the innermost
//   src/ frame);
// - RSS growth while M more routes arrive, each with a Secret of its own
//   (so the controller fetches each Secret with a targeted GET), then M more
//   that reference Secrets already cached, with a forced GC after each step.
// Profiles are written to bench/results/control-plane-profile-*.{cpuprofile,heapprofile}.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { type ClusterInfo, clusterDown, clusterUp } from '../hack/cluster.ts';
import { freePorts, listenLoopback } from '../hack/lib/ports.ts';
import { memoryMaps } from '../hack/lib/procfs.ts';
import { GROUP, PLURAL, VERSION } from '../src/api/types.ts';
import { benchObjects, inParallel, range } from './kube-objects.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const CLUSTER_DIR = path.join(REPO_ROOT, '.cluster', 'bench-control-plane-profile');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
const { values } = parseArgs({
  options: {
    routes: { type: 'string', default: '10000' },
    changes: { type: 'string', default: '10' },
    growth: { type: 'string', default: '2000' },
    namespaces: { type: 'string', default: '20' },
    /** KEY=VALUE for the controller's environment only (e.g. LD_PRELOAD=…, MALLOC_ARENA_MAX=2). */
    'controller-env': { type: 'string', multiple: true, default: [] },
  },
});
const N = Number(values.routes);
const K = Number(values.changes);
const M = Number(values.growth);
const NS = Number(values.namespaces);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();
const log = (msg: string) => process.stderr.write(`[profile] ${msg}\n`);
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const crd = { group: GROUP, version: VERSION, plural: PLURAL };

let cluster: ClusterInfo;
let custom: CustomObjectsApi;
let core: CoreV1Api;
let upstreamUrl = '';

const { ns, secret, route } = benchObjects(NS, () => upstreamUrl);

const createSecret = (i: number) => core.createNamespacedSecret({ namespace: ns(i), body: secret(i) });
const createRoute = (body: ReturnType<typeof route>) =>
  custom.createNamespacedCustomObject({ ...crd, namespace: body.metadata.namespace, body });

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!(await fn())) {
    if (now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------------------------------
// Inspector client (CDP over the global WebSocket)

class Inspector {
  readonly #ws: WebSocket;
  #id = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener('message', (event) => {
      const msg = JSON.parse(String(event.data)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
      };
      if (msg.id === undefined) return;
      const p = this.#pending.get(msg.id);
      this.#pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    });
    return new Inspector(ws);
  }

  // biome-ignore lint/suspicious/noExplicitAny: CDP results
  send(method: string, params: object = {}): Promise<any> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.#pending.set(id, { resolve, reject }));
  }

  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true });
    return r.result.value as T;
  }

  close(): void {
    this.#ws.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Profile summaries

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
const shortUrl = (url: string) =>
  url
    .replace(`file://${REPO_ROOT}/`, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^node:/, 'node:');
const frameKey = (f: CallFrame) =>
  `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`;
const isSrc = (f: CallFrame) => f.url.startsWith(`file://${REPO_ROOT}/src/`);

interface CpuNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function summarizeCpu(profile: CpuProfile, top: number, divide = 1): string {
  const parent = new Map<number, number>();
  const byId = new Map<number, CpuNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const leaf = byId.get(profile.samples[i]!)!;
    const name = leaf.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') continue;
    busy += dt;
    const key = frameKey(leaf.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (!isSrc(frame)) continue;
      const k = frameKey(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const rows = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `| ${(v / divide).toFixed(1)} ms | ${((v / busy) * 100).toFixed(1)}% | \`${k}\` |`);
  const per = divide === 1 ? '' : ` (per change, /${divide})`;
  return [
    `profile ${total.toFixed(0)} ms, busy (not idle) ${busy.toFixed(0)} ms${divide === 1 ? '' : `, ${(busy / divide).toFixed(1)} ms per change`}`,
    '',
    `Self time${per}:`,
    '',
    '| self | % of busy | function |',
    '| ---: | ---: | --- |',
    ...rows(self),
    '',
    `Inclusive time of src/ functions${per}:`,
    '',
    '| inclusive | % of busy | function |',
    '| ---: | ---: | --- |',
    ...rows(inclusive),
  ].join('\n');
}

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

function summarizeHeap(head: HeapNode, top: number): string {
  const bySite = new Map<string, number>();
  const bySrc = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, stack: CallFrame[]) => {
    const frames = [...stack, node.callFrame];
    if (node.selfSize) {
      total += node.selfSize;
      const key = frameKey(node.callFrame);
      bySite.set(key, (bySite.get(key) ?? 0) + node.selfSize);
      const src = frames.findLast(isSrc);
      const srcKey = src ? frameKey(src) : '(no src/ frame)';
      bySrc.set(srcKey, (bySrc.get(srcKey) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, frames);
  };
  walk(head, []);
  const rows = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `| ${mb(v)} | ${((v / total) * 100).toFixed(1)}% | \`${k}\` |`);
  return [
    `live sampled heap: ${mb(total)}`,
    '',
    'By innermost src/ frame on the allocation stack:',
    '',
    '| live | % | src/ frame |',
    '| ---: | ---: | --- |',
    ...rows(bySrc),
    '',
    'By allocating function:',
    '',
    '| live | % | function |',
    '| ---: | ---: | --- |',
    ...rows(bySite),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Memory

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  spaces: { space_name: string; space_used_size: number; space_size: number }[];
  anon: number;
  file: number;
  /** RSS of the [heap] mapping: glibc malloc's main arena (native allocations of the main thread). */
  brk: number;
}

async function memory(inspector: Inspector, pid: number): Promise<Memory> {
  const js = await inspector.evaluate<string>(
    "JSON.stringify({ mu: process.memoryUsage(), spaces: process.getBuiltinModule('v8').getHeapSpaceStatistics() })",
  );
  const { mu, spaces } = JSON.parse(js) as { mu: NodeJS.MemoryUsage; spaces: Memory['spaces'] };
  const maps = memoryMaps(pid);
  if (!maps) throw new Error(`controller (pid ${pid}) is gone`);
  return {
    brk: maps.heapBytes,
    rss: mu.rss,
    heapUsed: mu.heapUsed,
    heapTotal: mu.heapTotal,
    external: mu.external,
    arrayBuffers: mu.arrayBuffers,
    spaces,
    anon: maps.anonymousBytes,
    file: maps.rssBytes - maps.anonymousBytes,
  };
}

const memoryLine = (m: Memory) =>
  `RSS ${mb(m.rss)} (anonymous ${mb(m.anon)}, file-backed ${mb(m.file)}); V8 heap used ${mb(m.heapUsed)} of ${mb(m.heapTotal)}; external ${mb(m.external)} (array buffers ${mb(m.arrayBuffers)}); outside the V8 heap and buffers: ${mb(m.rss - m.heapTotal - m.external)}, of which malloc's main arena ([heap]) ${mb(m.brk)}`;

async function gc(inspector: Inspector): Promise<void> {
  await inspector.send('HeapProfiler.collectGarbage');
  await inspector.send('HeapProfiler.collectGarbage');
}

// ---------------------------------------------------------------------------------------------------

/** Top request kinds the controller made since the last call (and resets the count). */
const TAKE_REQUESTS =
  '(() => { const r = [...globalThis.__benchRequests].sort((a, b) => b[1] - a[1]).slice(0, 10); globalThis.__benchRequests.clear(); return r; })()';

/** Waits until lambda_ingress_status_writes_total stops moving (2 s apart); resolves with the total. */
async function statusWritesDone(adminUrl: string): Promise<number> {
  let last = -1;
  for (;;) {
    await sleep(2000);
    const { body } = await get(`${adminUrl}/metrics`);
    const writes = [...body.matchAll(/^lambda_ingress_status_writes_total\{[^}]*\} (\S+)$/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
    if (writes === last) return writes;
    last = writes;
  }
}

async function main(): Promise<void> {
  const out: string[] = [
    `# Controller profile: ${N} routes + ${N} Secrets`,
    '',
    `Command: \`node bench/control-plane-profile.ts --routes ${N} --changes ${K} --growth ${M}${values['controller-env']!.map((kv) => ` --controller-env ${kv}`).join('')}\``,
    '',
  ];
  let child: ChildProcess | undefined;
  let inspector: Inspector | undefined;
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  try {
    rmSync(CLUSTER_DIR, { recursive: true, force: true });
    cluster = await clusterUp({ dir: CLUSTER_DIR, log: () => {} });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    const crdYaml = readFileSync(path.join(REPO_ROOT, 'crds', 'lambdaroute.yaml'), 'utf8');
    const { parse } = await import('yaml');
    const { ApiextensionsV1Api } = await import('@kubernetes/client-node');
    await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: parse(crdYaml) });
    upstreamUrl = `http://127.0.0.1:${await listenLoopback(upstream)}/`;
    await inParallel(range(0, NS), 8, (n) =>
      core.createNamespace({ body: { metadata: { name: `bench-${n}` } } }),
    );
    await until(
      () =>
        custom.listNamespacedCustomObject({ ...crd, namespace: ns(0) }).then(
          () => true,
          () => false,
        ),
      30_000,
      'CRD served',
    );
    log(`populating ${N} routes + ${N} Secrets`);
    await inParallel(range(0, N), 32, createSecret);
    await inParallel(
      range(0, N).map((i) => route(`r-${i}`, i, `/r/${i}`)),
      32,
      createRoute,
    );

    const [port, adminPort] = await freePorts(2);
    const dataUrl = `http://127.0.0.1:${port}`;
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    child = spawn(
      process.execPath,
      [
        '--inspect-brk=127.0.0.1:0',
        path.join(REPO_ROOT, 'bin', 'lambda-ingress'),
        'controller',
        ...['--kubeconfig', cluster.kubeconfigPath, '--host', '127.0.0.1', '--port', String(port)],
        ...['--admin-port', String(adminPort), '--lease-namespace', 'default'],
        ...['--log-level', 'warn', '--no-access-log'],
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          ...Object.fromEntries(
            values['controller-env']!.map((kv) => [
              kv.slice(0, kv.indexOf('=')),
              kv.slice(kv.indexOf('=') + 1),
            ]),
          ),
        },
      },
    );
    const pid = child.pid!;
    let stderr = '';
    const wsUrl = await new Promise<string>((resolve, reject) => {
      child!.stderr!.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        const m = /ws:\/\/\S+/.exec(stderr);
        if (m) resolve(m[0]);
      });
      child!.on('exit', () => reject(new Error(`controller exited: ${stderr}`)));
    });
    inspector = await Inspector.connect(wsUrl);
    await inspector.send('Profiler.enable');
    await inspector.send('Profiler.setSamplingInterval', { interval: 250 });
    await inspector.send('HeapProfiler.enable');
    await inspector.send('HeapProfiler.startSampling', { samplingInterval: 16384 });
    await inspector.send('Profiler.start');
    await inspector.send('Runtime.enable');
    const started = now();
    // Count new connections the controller opens (undici publishes them on diagnostics_channel).
    await inspector.evaluate(
      `globalThis.__benchConnections = 0; globalThis.__benchRequests = new Map();
      const dc = process.getBuiltinModule('diagnostics_channel');
      dc.subscribe('undici:client:connected', () => globalThis.__benchConnections++);
      dc.subscribe('undici:request:create', ({ request }) => {
        const key = request.method + ' ' + request.origin + request.path.replace(/[?].*/, '').replace(/[0-9]+/g, 'N');
        globalThis.__benchRequests.set(key, (globalThis.__benchRequests.get(key) ?? 0) + 1);
      });
      0`,
    );
    await inspector.send('Runtime.runIfWaitingForDebugger');
    await until(async () => (await get(`${adminUrl}/readyz`)).status === 200, 120_000, 'readyz');
    const readyMs = now() - started;
    const connections = () => inspector!.evaluate<number>('globalThis.__benchConnections');
    const syncConnections = await connections();
    const { profile: syncProfile } = (await inspector.send('Profiler.stop')) as { profile: CpuProfile };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(
      path.join(RESULTS_DIR, 'control-plane-profile-sync.cpuprofile'),
      JSON.stringify(syncProfile),
    );
    const atReady = await memory(inspector, pid);
    // The first reconcile writes the status of every route (a fresh cluster): time it, profile it.
    await inspector.send('Profiler.start');
    const writesStarted = now();
    const connectionsBeforeWrites = await connections();
    const writes = await statusWritesDone(adminUrl);
    const writesMs = now() - writesStarted - 2000;
    const writeConnections = (await connections()) - connectionsBeforeWrites;
    const { profile: writesProfile } = (await inspector.send('Profiler.stop')) as { profile: CpuProfile };
    writeFileSync(
      path.join(RESULTS_DIR, 'control-plane-profile-status.cpuprofile'),
      JSON.stringify(writesProfile),
    );
    const writeRequests = await inspector.evaluate<[string, number][]>(TAKE_REQUESTS);
    await gc(inspector);
    const afterGc = await memory(inspector, pid);
    const { profile: heapProfile } = (await inspector.send('HeapProfiler.getSamplingProfile')) as {
      profile: { head: HeapNode };
    };
    writeFileSync(
      path.join(RESULTS_DIR, 'control-plane-profile-sync.heapprofile'),
      JSON.stringify(heapProfile),
    );
    out.push(
      `## Cold sync (under the inspector: ready after ${readyMs.toFixed(0)} ms; ${syncConnections} connections opened to the apiserver)`,
      '',
    );
    out.push(summarizeCpu(syncProfile, 25), '');
    out.push(
      `## Initial status writes (${writes} writes done about ${(writesMs / 1000).toFixed(1)} s after ready; ${writeConnections} connections opened)`,
      '',
    );
    out.push(...writeRequests.map(([k, v]) => `- ${v} × \`${k}\``), '');
    out.push(summarizeCpu(writesProfile, 15), '');
    out.push('## Memory after sync', '');
    out.push(`- at ready: ${memoryLine(atReady)}`);
    out.push(`- after the status writes and a forced GC: ${memoryLine(afterGc)}`);
    out.push(
      `- V8 spaces after GC (used / size): ${afterGc.spaces.map((s) => `${s.space_name} ${mb(s.space_used_size)} / ${mb(s.space_size)}`).join(', ')}`,
      '',
    );
    out.push(summarizeHeap(heapProfile.head, 25), '');

    // K single-route changes under the CPU profiler.
    await inspector.send('Profiler.start');
    const connectionsBefore = await connections();
    const latencies: number[] = [];
    for (let j = 0; j < K; j++) {
      const p = `/change/${j}`;
      const t0 = now();
      await createRoute(route(`change-${j}`, j, p));
      await until(async () => (await get(`${dataUrl}${p}`)).status === 200, 30_000, p);
      latencies.push(now() - t0);
      await sleep(700);
    }
    const { profile: changeProfile } = (await inspector.send('Profiler.stop')) as { profile: CpuProfile };
    writeFileSync(
      path.join(RESULTS_DIR, 'control-plane-profile-changes.cpuprofile'),
      JSON.stringify(changeProfile),
    );
    const changeConnections = (await connections()) - connectionsBefore;
    const requests = await inspector.evaluate<[string, number][]>(TAKE_REQUESTS);
    latencies.sort((a, b) => a - b);
    out.push(
      `## ${K} single-route changes (client-node create to first 200: median ${latencies[Math.floor(K / 2)]!.toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms; ${changeConnections} connections opened to the apiserver meanwhile)`,
      '',
    );
    out.push('Requests the controller made since ready (undici:request:create), by path:', '');
    out.push(...requests.map(([k, v]) => `- ${v} × \`${k}\``), '');
    out.push(summarizeCpu(changeProfile, 25, K), '');

    // Growth: M routes with new Secrets (targeted GETs), then M routes with cached Secrets.
    out.push('## Memory growth (forced GC before each reading)', '');
    await gc(inspector);
    const base = await memory(inspector, pid);
    out.push(`- start: ${memoryLine(base)}`);
    const metric = async (name: string) => {
      const { body } = await get(`${adminUrl}/metrics`);
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1] ?? 0);
    };
    const grow = async (what: string, from: number, withSecrets: boolean) => {
      const t0 = now();
      const opened = await connections();
      if (withSecrets) await inParallel(range(from, from + M), 32, createSecret);
      await inParallel(
        range(from, from + M).map((i) => route(`g-${i}`, withSecrets ? i : i % N, `/g/${i}`)),
        32,
        createRoute,
      );
      const expected = N + K + (withSecrets ? M : 2 * M);
      await until(
        async () => (await metric('lambda_ingress_routes{state="ready"}')) === expected,
        600_000,
        `${expected} ready routes`,
      );
      const servedMs = now() - t0;
      await statusWritesDone(adminUrl);
      const before = await memory(inspector!, pid);
      await gc(inspector!);
      const after = await memory(inspector!, pid);
      out.push(
        `- +${M} routes ${what} (all ready after ${(servedMs / 1000).toFixed(1)} s, ${(await connections()) - opened} connections opened): before GC RSS ${mb(before.rss)}, heap used ${mb(before.heapUsed)}; after GC: ${memoryLine(after)}`,
      );
    };
    await grow('each with a new Secret (targeted GET per Secret)', N, true);
    await grow('referencing cached Secrets', N + M, false);
    out.push('');
    const text = out.join('\n');
    writeFileSync(path.join(RESULTS_DIR, 'control-plane-profile.md'), `${text}\n`);
    process.stdout.write(`${text}\n`);
  } finally {
    inspector?.close();
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.on('exit', resolve));
    }
    upstream.close();
    agent.destroy();
    await clusterDown({ dir: CLUSTER_DIR, log: () => {} }).catch(() => {});
    rmSync(CLUSTER_DIR, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`profile failed: ${error instanceof Error ? error.stack : error}\n`);
  process.exitCode = 1;
});
