// The access log is buffered (src/util/log.ts): a SIGTERM right after a burst
// of requests must still leave one line per request on stdout, from a single
// process and from --workers processes alike.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts, listenLoopback } from '../../hack/lib/ports.ts';
import { lambdaRoute } from '../support/manifests.ts';
import { listenOn, startCli, waitFor200 } from '../support/process.ts';

const N = 500;
let upstream: Server;
let dir: string;

beforeAll(async () => {
  upstream = createServer((_req, res) => res.end('ok'));
  const upstreamPort = await listenLoopback(upstream);
  dir = mkdtempSync(join(tmpdir(), 'access-log-'));
  writeFileSync(
    join(dir, 'route.yaml'),
    lambdaRoute('fast', `match: {path: /fast}\ntarget: {url: "http://127.0.0.1:${upstreamPort}/"}`),
  );
});
afterAll(() => {
  upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function burstThenTerm(extra: string[]) {
  const [port, adminPort] = await freePorts(2);
  const proc = startCli(['standalone', '--manifests', dir, ...listenOn(port, adminPort), ...extra]);
  try {
    await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 20_000, proc);
    // Fresh connections now and then, so that with --workers the kernel hands requests to both.
    const dispatcher = new Agent({ connections: 8, maxRequestsPerClient: 50 });
    const statuses: number[] = [];
    const next = { i: 0 };
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next.i++ < N) {
          const response = await request(`http://127.0.0.1:${port}/fast`, { dispatcher });
          await response.body.dump();
          statuses.push(response.statusCode);
        }
      }),
    );
    await dispatcher.close();
    proc.child.kill('SIGTERM'); // at once: the last lines are still in the buffer
    expect(await proc.exited).toBe(0);
    expect(statuses).toEqual(Array(N).fill(200));
    const lines = proc
      .output()
      .split('\n')
      .filter((line) => line.includes('"log":"access"'));
    return lines.map((line) => JSON.parse(line) as { requestId: string; status: number; worker?: number });
  } finally {
    await proc.stop('SIGKILL');
  }
}

it('writes every access line before exiting on SIGTERM', async () => {
  const lines = await burstThenTerm([]);
  expect(lines).toHaveLength(N);
  expect(new Set(lines.map((l) => l.requestId)).size).toBe(N);
  expect(lines.every((l) => l.status === 200)).toBe(true);
});

it('with --workers 2, every worker writes its lines before it goes', async () => {
  const lines = await burstThenTerm(['--workers', '2']);
  expect(lines).toHaveLength(N);
  expect(new Set(lines.map((l) => l.requestId)).size).toBe(N);
  expect(new Set(lines.map((l) => l.worker)).size).toBe(2);
}, 30_000);
