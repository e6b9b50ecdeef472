// The /proc readers of tests, benchmarks and hack/, against real processes.
import { spawn } from 'node:child_process';
import { afterEach, expect, it } from 'vitest';
import {
  commandLine,
  hasProcfs,
  memoryMaps,
  processStat,
  processTree,
  residentMemory,
} from '../../../hack/lib/procfs.ts';

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

it.runIf(hasProcfs())('reads a process: its state, parent, command line, CPU time and memory', () => {
  const stat = processStat(process.pid)!;
  expect(stat.ppid).toBe(process.ppid);
  expect(stat.state).toMatch(/^[RS]$/);
  expect(stat.cpuSeconds).toBeGreaterThan(0);
  expect(processStat('self')?.ppid).toBe(process.ppid);
  expect(commandLine(process.pid)?.[0]).toBe(process.execPath);
  const memory = residentMemory(process.pid);
  expect(memory.rssBytes).toBeGreaterThan(1024 * 1024);
  expect(memory.peakRssBytes).toBeGreaterThanOrEqual(memory.rssBytes);
  const maps = memoryMaps(process.pid)!;
  expect(maps.anonymousBytes).toBeGreaterThan(0);
  expect(maps.rssBytes).toBeGreaterThanOrEqual(maps.anonymousBytes);
});

it.runIf(hasProcfs())('finds the descendants of a process, and says when a process is gone', async () => {
  // sh starts a sleep of its own and prints its pid.
  const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const grandchild = Number(await new Promise<string>((resolve) => child.stdout!.once('data', resolve)));
  expect(processTree(child.pid!)).toEqual([child.pid, grandchild]);
  expect(commandLine(grandchild)).toEqual(['sleep', '30']);

  process.kill(grandchild, 'SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  expect(processStat(child.pid!)).toBeUndefined();
  expect(commandLine(child.pid!)).toBeUndefined();
  expect(residentMemory(child.pid!)).toEqual({ rssBytes: 0, peakRssBytes: 0 });
});
