// --workers with --shutdown-grace: a worker process that gets Ctrl-C itself
// (SIGINT reaches every process of the terminal's group) drains for the
// grace period it was given, not for the default 25 s.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../hack/lib/ports.ts';
import { lambdaRoute } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';

let upstream: Server;
let dir: string;
let proc: RunningProcess;
let base: string;

beforeAll(async () => {
  // Holds every request: only the grace period ends them.
  upstream = createServer(() => {});
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const { port: upstreamPort } = upstream.address() as { port: number };
  dir = mkdtempSync(join(tmpdir(), 'workers-grace-'));
  writeFileSync(
    join(dir, 'route.yaml'),
    lambdaRoute(
      'hold',
      `match: {path: /hold}\ntarget: {url: "http://127.0.0.1:${upstreamPort}/"}\ntimeout: 60s`,
    ),
  );
  const [port, adminPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  proc = startCli([
    'standalone',
    '--manifests',
    dir,
    '--workers',
    '2',
    '--shutdown-grace',
    '1s',
    ...listenOn(port, adminPort),
  ]);
  await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 20_000, proc);
});
afterAll(async () => {
  await proc?.stop('SIGKILL');
  upstream?.closeAllConnections();
  upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a worker given SIGINT closes what is still in flight once --shutdown-grace is over', async () => {
  // Fresh connections, so that the kernel spreads them over both workers.
  const inFlight = Array.from({ length: 6 }, async () => {
    const dispatcher = new Agent({ pipelining: 0 });
    try {
      await request(`${base}/hold`, { dispatcher, headersTimeout: 60_000 });
      return 'answered';
    } catch {
      return 'closed';
    } finally {
      void dispatcher.destroy();
    }
  });
  await new Promise((r) => setTimeout(r, 500)); // every request is at the upstream now
  const workers = execFileSync('pgrep', ['-P', String(proc.child.pid)])
    .toString()
    .trim()
    .split('\n');
  expect(workers).toHaveLength(2);
  for (const pid of workers) process.kill(Number(pid), 'SIGINT');

  const settled = Promise.all(inFlight);
  const late = new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), 10_000));
  expect(await Promise.race([settled, late])).toEqual(Array(6).fill('closed'));
  expect(proc.output()).toContain('grace period over: closing the remaining connections');
});
