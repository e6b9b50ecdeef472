// Readings from /proc (Linux) for hack/, tests and benchmarks: one process's
// state, command line, CPU time and memory, the process tree, and machine-wide
// CPU and TCP counters. A reader of one process returns undefined (or zeros,
// for memory) when the process is gone. Imports only node.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** False where there is no procfs (macOS): callers fall back to what they can do without it. */
export const hasProcfs = (): boolean => existsSync('/proc/self');

let clockTicks: number | undefined;

/** Clock ticks per second, the unit of the CPU times in /proc. */
function ticksPerSecond(): number {
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
  return clockTicks;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export interface ProcessStat {
  /** The command name (at most 15 characters). */
  comm: string;
  /** R running, S sleeping, Z zombie, ... */
  state: string;
  ppid: number;
  /** user + system CPU seconds */
  cpuSeconds: number;
  /** of which in the kernel */
  systemSeconds: number;
  /** CPU seconds of its reaped (waited-for) children */
  childrenCpuSeconds: number;
}

/** /proc/<pid>/stat. */
export function processStat(pid: number | 'self'): ProcessStat | undefined {
  const text = read(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // The command name (field 2) may contain spaces and parentheses: fields are counted after its last ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
  const ticks = ticksPerSecond();
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / ticks,
    systemSeconds: Number(fields[12]) / ticks,
    childrenCpuSeconds: (Number(fields[13]) + Number(fields[14])) / ticks,
  };
}

/** argv of a process, from /proc/<pid>/cmdline. */
export function commandLine(pid: number): string[] | undefined {
  const args = read(`/proc/${pid}/cmdline`)?.split('\0');
  if (args?.at(-1) === '') args.pop(); // arguments end in NUL; one that rewrote its title may not
  return args;
}

/** Resident memory (VmRSS) and its peak so far (VmHWM), in bytes; zeros for a process that is gone. */
export function residentMemory(pid: number): { rssBytes: number; peakRssBytes: number } {
  const text = read(`/proc/${pid}/status`) ?? '';
  return { rssBytes: kiloBytesField(text, 'VmRSS'), peakRssBytes: kiloBytesField(text, 'VmHWM') };
}

/**
 * Resident memory by kind (/proc/<pid>/smaps_rollup), and the resident part of
 * the [heap] mapping, glibc malloc's main arena (native allocations of the main thread).
 */
export function memoryMaps(
  pid: number,
): { rssBytes: number; anonymousBytes: number; heapBytes: number } | undefined {
  const rollup = read(`/proc/${pid}/smaps_rollup`);
  const smaps = read(`/proc/${pid}/smaps`);
  if (rollup === undefined || smaps === undefined) return undefined;
  const heapMapping = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(smaps);
  return {
    rssBytes: kiloBytesField(rollup, 'Rss'),
    anonymousBytes: kiloBytesField(rollup, 'Anonymous'),
    heapBytes: Number(heapMapping?.[1] ?? 0) * 1024,
  };
}

/** A "Name:   123 kB" line of a /proc file, in bytes (0 when absent). */
const kiloBytesField = (text: string, name: string): number =>
  Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;

/** Every pid on the machine. */
export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** `pid` and all its descendants (nginx workers, cluster workers), found from the parent ids in /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const stat = processStat(p);
    if (!stat) continue;
    const list = children.get(stat.ppid);
    if (list) list.push(p);
    else children.set(stat.ppid, [p]);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Machine-wide busy and total CPU seconds (summed over cores) from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = v[3]! + v[4]!;
  const total = v.reduce((a, b) => a + b, 0);
  const ticks = ticksPerSecond();
  return { busy: (total - idle) / ticks, total: total / ticks };
}

/** TCP segments sent, machine-wide: /proc/net/snmp Tcp OutSegs. */
export function tcpOutSegments(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  return Number(values[names.indexOf('OutSegs')] ?? Number.NaN);
}

/** The CPU's model name from /proc/cpuinfo. */
export function cpuModel(): string | undefined {
  return /^model name\s*:\s*(.*)$/m.exec(read('/proc/cpuinfo') ?? '')?.[1];
}
