// GC pauses of a process started with `node --trace-gc`: V8 prints one line
// per collection to stdout, e.g.
//   [123:0x…]   5120 ms: Scavenge 9.1 (12.0) -> 8.2 (13.0) MB, pooled: 0 MB, 0.85 / 0.00 ms  (average mu …) allocation failure;
// The benchmark reads the lines a row's measurement added to the log.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface GcSummary {
  /** Young-generation collections (Scavenge, Minor Mark-Sweep) */
  minor: number;
  /** Full collections (Mark-Compact), their incremental steps not counted */
  major: number;
  /** Sum of the main-thread pauses */
  totalMs: number;
  meanMs: number;
  maxMs: number;
  /** % of the window the main thread was paused for GC */
  pausedPercent: number;
  /**
   * MB per second allocated on the heap: from each collection's heap size
   * before it back to the size the previous one left, over the time between
   * the first and the last collection of the window (per process, summed).
   * Per request, a busy machine does not change it, unlike CPU time.
   */
  allocatedMbPerSecond: number;
}

const LINE =
  /^\[(\d+):[^\]]*\]\s+(\d+) ms: (Scavenge|Minor Mark-Sweep|Mark-Compact)(?: \([a-z ]+\))? ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB.*?, ([\d.]+) \/ [\d.]+ ms/;

export function summarizeGcTrace(text: string, seconds: number): GcSummary {
  let minor = 0;
  let major = 0;
  let totalMs = 0;
  let maxMs = 0;
  /** per process: the heap size the last collection left, and the MB allocated since the first one */
  const processes = new Map<string, { firstMs: number; lastMs: number; left: number; allocated: number }>();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, pid, at, kind, before, left, pause] = m as unknown as string[];
    const ms = Number(pause);
    if (kind === 'Mark-Compact') major++;
    else minor++;
    totalMs += ms;
    maxMs = Math.max(maxMs, ms);
    const p = processes.get(pid!);
    if (p === undefined) {
      processes.set(pid!, { firstMs: Number(at), lastMs: Number(at), left: Number(left), allocated: 0 });
      continue;
    }
    p.allocated += Math.max(0, Number(before) - p.left);
    p.left = Number(left);
    p.lastMs = Number(at);
  }
  let allocatedMbPerSecond = 0;
  for (const p of processes.values()) {
    if (p.lastMs > p.firstMs) allocatedMbPerSecond += p.allocated / ((p.lastMs - p.firstMs) / 1000);
  }
  const n = minor + major;
  return {
    minor,
    major,
    totalMs,
    meanMs: n === 0 ? 0 : totalMs / n,
    maxMs,
    pausedPercent: seconds > 0 ? (totalMs / (seconds * 1000)) * 100 : 0,
    allocatedMbPerSecond,
  };
}

export const fileSize = (file: string): number => statSync(file).size;

/** The bytes of `file` from `from` to its end now. */
export function readFrom(file: string, from: number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(Math.max(0, statSync(file).size - from));
    readSync(fd, buffer, 0, buffer.length, from);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}
