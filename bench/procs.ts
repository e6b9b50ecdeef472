// Process plumbing for the data-plane benchmark: every process the harness
// starts is spawned in its own process group and registered here, so that it
// (and whatever it forks: nginx workers, cluster workers) is killed on normal
// exit, on an error and on Ctrl-C. Also: readiness polling, and CPU/RSS of
// process trees and of the machine (read through hack/lib/procfs.ts).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  allPids,
  machineCpu,
  processStat,
  processTree,
  residentMemory,
  tcpOutSegments,
} from '../hack/lib/procfs.ts';

const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

function killGroupSync(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Kill everything still running and remove temp dirs; synchronous, so it is safe in an 'exit' handler. */
export function cleanupSync(): void {
  for (const child of running) killGroupSync(child, 'SIGKILL');
  running.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping everything it started\n`);
      cleanupSync();
      process.exit(130);
    });
  }
}

/** Removed by cleanupSync() unless `keep` is set. */
export function registerTempDir(dir: string, keep: boolean): void {
  installHandlers();
  if (!keep) tempDirs.add(dir);
}

export interface Started {
  child: ChildProcess;
  pid: number;
  logFile: string;
  exited: Promise<number | null>;
}

/**
 * Spawn in a new process group, stdout+stderr to `logFile`. The file is the
 * child's own descriptor, as nginx writes its access log itself: a pipe read
 * by this process would put the bench's JavaScript copying every log line on
 * the cores the rows share.
 */
export function start(command: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Started {
  installHandlers();
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  running.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
    child.on('error', (error) => {
      running.delete(child);
      appendFileSync(logFile, `spawn error: ${error.message}\n`);
      resolve(-1);
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return { child, pid: child.pid, logFile, exited };
}

/** SIGTERM (or `signal`), then SIGKILL to the whole group after `graceMs`. */
export async function stop(proc: Started, graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM') {
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
    try {
      process.kill(proc.pid, signal);
    } catch {
      // gone
    }
    const timedOut = await Promise.race([proc.exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) killGroupSync(proc.child, 'SIGKILL');
    await proc.exited;
  }
  // Stragglers in the group (e.g. workers whose primary died) go too.
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // none left
  }
}

/** Run to completion, collecting stdout; stderr is appended to the error on failure. */
export async function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string; code: number | null; pid: number; cpuSeconds: number }> {
  installHandlers();
  const reapedBefore = reapedChildrenCpuSeconds();
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => killGroupSync(child, 'SIGKILL'), options.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).finally(() => {
    clearTimeout(timer);
    running.delete(child);
  });
  // Only correct when no other child of the harness ends meanwhile (true while a load generator runs).
  const cpuSeconds = reapedChildrenCpuSeconds() - reapedBefore;
  return { stdout, stderr, code, pid: child.pid ?? -1, cpuSeconds };
}

/** stdout and stderr of a short command (e.g. `nginx -v`, which prints to stderr). */
export function commandOutput(command: string, args: string[]): string {
  const r = spawnSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** Poll `url` until it answers `status` (default 200) or `timeoutMs` passes. */
export async function waitForHttp(url: string, proc: Started | undefined, timeoutMs = 20_000, status = 200) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`process exited before ${url} was ready:\n${tail(proc.logFile)}`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === status) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(
    `${url} not ready after ${timeoutMs} ms (${last})${proc ? `:\n${tail(proc.logFile)}` : ''}`,
  );
}

export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- CPU and memory of process trees, and of the machine ----

/** CPU seconds of this process's reaped children so far: the delta around a `run()` is that child's CPU time. */
export const reapedChildrenCpuSeconds = (): number => processStat('self')?.childrenCpuSeconds ?? 0;

/** CPU seconds of every process on the machine, by pid (for naming what else ran during a row). */
export function allProcesses(): Map<number, { comm: string; cpuSeconds: number }> {
  const out = new Map<number, { comm: string; cpuSeconds: number }>();
  for (const pid of allPids()) {
    const stat = processStat(pid);
    if (stat) out.set(pid, { comm: stat.comm, cpuSeconds: stat.cpuSeconds });
  }
  return out;
}

export interface TreeSample {
  pids: number[];
  /** user+system CPU seconds, summed over the tree */
  cpuSeconds: number;
  /** of which in the kernel */
  systemSeconds: number;
  rssBytes: number;
}

export function sampleTree(pid: number): TreeSample {
  const pids = processTree(pid);
  let cpuSeconds = 0;
  let systemSeconds = 0;
  let rssBytes = 0;
  for (const p of pids) {
    const stat = processStat(p);
    cpuSeconds += stat?.cpuSeconds ?? 0;
    systemSeconds += stat?.systemSeconds ?? 0;
    rssBytes += residentMemory(p).rssBytes;
  }
  return { pids, cpuSeconds, systemSeconds, rssBytes };
}

/** Waits (up to `maxMs`) until the machine is quiet: less than `cores` busy over a 1 s sample. */
export async function waitQuiet(
  maxMs: number,
  cores = 0.25,
): Promise<{ busyCores: number; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const a = machineCpu();
    await sleep(1000);
    const b = machineCpu();
    const busyCores = (b.busy - a.busy) / ((b.total - a.total) / availableParallelism());
    if (busyCores < cores || Date.now() - started >= maxMs)
      return { busyCores, waitedMs: Date.now() - started };
  }
}

/**
 * Watches a process tree during a measurement window: CPU seconds used in the
 * window and the peak RSS (sum over the tree), sampled every `everyMs`.
 */
export class TreeMonitor {
  readonly #pid: number;
  readonly #start: TreeSample;
  #peakRss: number;
  #pids: Set<number>;
  readonly #timer: NodeJS.Timeout;

  /** `everyMs` 0: no sampling in between (no peak RSS, no short-lived children). */
  constructor(pid: number, everyMs = 250) {
    this.#pid = pid;
    this.#start = sampleTree(pid);
    this.#peakRss = this.#start.rssBytes;
    this.#pids = new Set(this.#start.pids);
    this.#timer = setInterval(
      () => {
        const s = sampleTree(this.#pid);
        this.#peakRss = Math.max(this.#peakRss, s.rssBytes);
        for (const p of s.pids) this.#pids.add(p);
      },
      everyMs > 0 ? everyMs : 2 ** 31 - 1,
    );
  }

  finish(): {
    cpuSeconds: number;
    systemSeconds: number;
    peakRssBytes: number;
    endRssBytes: number;
    processes: number;
    pids: Set<number>;
  } {
    clearInterval(this.#timer);
    const end = sampleTree(this.#pid);
    this.#peakRss = Math.max(this.#peakRss, end.rssBytes);
    return {
      cpuSeconds: end.cpuSeconds - this.#start.cpuSeconds,
      systemSeconds: end.systemSeconds - this.#start.systemSeconds,
      peakRssBytes: this.#peakRss,
      endRssBytes: end.rssBytes,
      processes: end.pids.length,
      pids: new Set([...this.#pids, ...end.pids]),
    };
  }
}

/** Everything the machine did during a window: busy CPU seconds, and the busiest processes not in `ours`. */
export class MachineMonitor {
  readonly #start = machineCpu();
  readonly #segments = tcpOutSegments();
  readonly #procs = allProcesses();
  readonly #started = performance.now();

  /** `ours`: pids of the benchmark's own processes; `loadgen`: command names of load generators. */
  finish(
    ours: Set<number>,
    loadgen: RegExp,
  ): {
    busyCpuSeconds: number;
    seconds: number;
    tcpSegments: number;
    /** CPU seconds of all processes that are not ours (nor load generators) */
    othersCpuSeconds: number;
    others: { pid: number; comm: string; cpuSeconds: number }[];
  } {
    const end = machineCpu();
    const procs = allProcesses();
    const others = [];
    let othersCpuSeconds = 0;
    for (const [pid, p] of procs) {
      if (ours.has(pid) || pid === process.pid || loadgen.test(p.comm)) continue;
      const cpuSeconds = p.cpuSeconds - (this.#procs.get(pid)?.cpuSeconds ?? 0);
      if (cpuSeconds <= 0) continue;
      others.push({ pid, comm: p.comm, cpuSeconds });
      othersCpuSeconds += cpuSeconds;
    }
    others.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
    return {
      busyCpuSeconds: end.busy - this.#start.busy,
      tcpSegments: tcpOutSegments() - this.#segments,
      seconds: (performance.now() - this.#started) / 1000,
      othersCpuSeconds,
      others: others.slice(0, 3),
    };
  }
}
