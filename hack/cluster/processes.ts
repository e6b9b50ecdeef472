// Detached processes that outlive the command that started them (own session,
// output appended to a log file): starting, liveness that survives pid reuse,
// stopping the whole group, and waiting until a probe says ready.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandLine, hasProcfs, processStat } from '../lib/procfs.ts';

/** Alive, not a zombie, and (on Linux) still running `bin` (guards against pid reuse). */
export function isAlive(pid: number, bin: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = processStat(pid)?.state;
  const argv0 = commandLine(pid)?.[0];
  if (state === undefined || argv0 === undefined) return !hasProcfs(); // no procfs (macOS): trust kill(0)
  return state !== 'Z' && argv0 === bin;
}

/** SIGTERM (or SIGKILL when not `graceful`) to the process group; SIGKILL if it outlasts `timeoutMs`. */
export async function stopProcess(
  pid: number,
  bin: string,
  graceful: boolean,
  timeoutMs = 15_000,
): Promise<void> {
  if (!isAlive(pid, bin)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig); // detached => its own process group
    } catch {
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  signal(graceful ? 'SIGTERM' : 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, bin)) {
    if (Date.now() > deadline) {
      signal('SIGKILL');
      await sleep(200);
      if (isAlive(pid, bin)) throw new Error(`process ${pid} (${bin}) did not exit`);
      return;
    }
    await sleep(50);
  }
}

/** Starts `bin` in its own session, stdout and stderr appended to `logPath`; returns its pid. */
export function spawnDetached(bin: string, args: string[], logPath: string): number {
  const fd = openSync(logPath, 'a');
  try {
    writeFileSync(fd, `\n===== ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`failed to spawn ${bin}`);
    child.on('error', () => {}); // reported through the log / liveness checks instead
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

function logTail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `probe` until it is ok; fails (quoting the log's end) when the process exits or time runs out. */
export async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<{ ok: boolean; detail: string }>,
  alive: () => boolean,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await probe();
    if (r.ok) return;
    last = r.detail;
    if (!alive()) {
      throw new Error(`${what} exited during startup. Last lines of ${logFile}:\n${logTail(logFile)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms (last probe: ${last.slice(0, 2000)}).\n` +
          `Last lines of ${logFile}:\n${logTail(logFile)}`,
      );
    }
    await sleep(200);
  }
}
