// --workers 2: both processes serve the same port, a configuration change
// reaches both, /metrics adds them up (--route-histograms reaches the workers), a crashed worker is replaced, and
// SIGTERM drains everything and exits 0.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts } from '../../hack/lib/ports.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { lambdaRoute } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';

let emulator: Emulator;
let dir: string;
let proc: RunningProcess;
let base: string;
let admin: string;

const route = (name: string, path: string) =>
  lambdaRoute(name, `match: {path: ${path}}\ntarget: {url: "${emulator.url}/"}`);

beforeAll(async () => {
  emulator = await startEmulator({
    endpoints: [
      { kind: 'execute-api', path: '/', auth: 'none', handler: () => ({ status: 200, body: 'ok' }) },
    ],
  });
  dir = mkdtempSync(join(tmpdir(), 'workers-'));
  writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
  const [port, adminPort] = await freePorts(2);
  base = `http://127.0.0.1:${port}`;
  admin = `http://127.0.0.1:${adminPort}`;
  proc = startCli([
    'standalone',
    '--manifests',
    dir,
    '--workers',
    '2',
    '--route-histograms',
    ...listenOn(port, adminPort),
  ]);
  await waitFor200(`${admin}/readyz`, 20_000, proc);
});
afterAll(async () => {
  await proc?.stop('SIGKILL');
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Requests on fresh connections, so the kernel gets to pick a worker for each. */
async function hit(path: string, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const dispatcher = new Agent({ pipelining: 0 });
    const response = await request(`${base}${path}`, { dispatcher });
    await response.body.dump();
    statuses.push(response.statusCode);
    await dispatcher.close();
  }
  return statuses;
}

const servedBy = () =>
  new Set([...proc.output().matchAll(/"worker":(\d+)[^\n]*"msg":"request"/g)].map((m) => m[1]));

it('serves from both workers and adds their metrics up', async () => {
  expect(await hit('/a', 40)).toEqual(Array(40).fill(200));
  // Access lines are buffered: each worker writes its own within half a second.
  const deadline = Date.now() + 3000;
  while (servedBy().size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(servedBy().size).toBe(2);
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  expect(metrics).toContain(
    'lambda_ingress_requests_total{route="a",namespace="default",method="GET",code="200"} 40',
  );
  expect(metrics).toContain(
    'lambda_ingress_request_duration_seconds_count{route="a",namespace="default"} 40',
  );
});

it('sends configuration changes to every worker', async () => {
  writeFileSync(join(dir, 'b.yaml'), route('b', '/b'));
  const deadline = Date.now() + 5000;
  let statuses: number[] = [];
  while (Date.now() < deadline) {
    statuses = await hit('/b', 10);
    if (statuses.every((s) => s === 200)) break;
  }
  expect(statuses).toEqual(Array(10).fill(200));
});

it('replaces a worker that dies', async () => {
  const workers = execFileSync('pgrep', ['-P', String(proc.child.pid)])
    .toString()
    .trim()
    .split('\n');
  expect(workers).toHaveLength(2);
  process.kill(Number(workers[0]), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  await waitFor200(`${admin}/readyz`, 10_000, proc);
  expect(await hit('/a', 20)).toEqual(Array(20).fill(200));
  expect(proc.output()).toContain('worker exited; starting a new one');
});

it('drains and exits 0 on SIGTERM', async () => {
  proc.child.kill('SIGTERM');
  expect(await proc.exited).toBe(0);
});
