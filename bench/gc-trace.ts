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
}

const LINE = /\d+ ms: (Scavenge|Minor Mark-Sweep|Mark-Compact)\b.*?, ([\d.]+) \/ [\d.]+ ms/;

export function summarizeGcTrace(text: string, seconds: number): GcSummary {
  let minor = 0;
  let major = 0;
  let totalMs = 0;
  let maxMs = 0;
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const ms = Number(m[2]);
    if (m[1] === 'Mark-Compact') major++;
    else minor++;
    totalMs += ms;
    maxMs = Math.max(maxMs, ms);
  }
  const n = minor + major;
  return {
    minor,
    major,
    totalMs,
    meanMs: n === 0 ? 0 : totalMs / n,
    maxMs,
    pausedPercent: seconds > 0 ? (totalMs / (seconds * 1000)) * 100 : 0,
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
