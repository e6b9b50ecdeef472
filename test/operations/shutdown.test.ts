// SIGTERM with slow requests in flight: they finish with 200, readiness turns
// 503, new connections are refused, a request arriving on a kept-alive
// connection gets 503 shutting_down and the connection closes, and the
// process exits 0 before the grace period is over.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts, listenLoopback } from '../../hack/lib/ports.ts';
import { lambdaRoute } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';

const SLOW_MS = 1500;
const GRACE_S = 20;
let upstream: Server;
let dir: string;
let proc: RunningProcess;
let port: number;
let adminPort: number;

beforeAll(async () => {
  upstream = createServer((_req, res) => setTimeout(() => res.end('slow ok'), SLOW_MS));
  const upstreamPort = await listenLoopback(upstream);
  dir = mkdtempSync(join(tmpdir(), 'shutdown-'));
  writeFileSync(
    join(dir, 'route.yaml'),
    lambdaRoute(
      'slow',
      `match: {path: /slow}
target: {url: "http://127.0.0.1:${upstreamPort}/"}
timeout: 10s`,
    ),
  );
  [port, adminPort] = await freePorts(2);
  proc = startCli([
    'standalone',
    '--manifests',
    dir,
    ...listenOn(port, adminPort),
    '--shutdown-grace',
    `${GRACE_S}s`,
  ]);
  await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 15_000, proc);
});
afterAll(async () => {
  await proc?.stop('SIGKILL');
  upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

const canConnect = (p: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(p, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A kept-alive connection with one slow request in flight; `send` writes more on it, `text` is all it got until closed. */
function keptAlive() {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => {
    text += chunk;
  });
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  const request = 'GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n';
  socket.write(request);
  return { send: () => socket.write(request), closed };
}

it('drains in-flight requests on SIGTERM, refuses new connections and exits 0 early', async () => {
  const inFlight = Array.from({ length: 5 }, () =>
    fetch(`http://127.0.0.1:${port}/slow`).then(async (r) => [r.status, await r.text()]),
  );
  const connection = keptAlive();
  await new Promise((r) => setTimeout(r, 300)); // all six are at the upstream now
  const signalledAt = Date.now();
  proc.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  connection.send(); // after SIGTERM, on the connection whose first request is still in flight

  expect((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status).toBe(503);
  expect(await canConnect(port)).toBe(false);

  expect(await Promise.all(inFlight)).toEqual(Array(5).fill([200, 'slow ok']));
  const answers = await connection.closed;
  expect(answers).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*slow ok/);
  const late = answers.slice(answers.indexOf('slow ok'));
  expect(late).toMatch(/HTTP\/1\.1 503 Service Unavailable\r\n/);
  expect(late).toMatch(/\r\nconnection: close\r\n/i);
  expect(late).toContain('"error":"shutting_down"');
  expect(await proc.exited).toBe(0);
  const took = Date.now() - signalledAt;
  expect(took).toBeLessThan(GRACE_S * 1000);
  expect(took).toBeGreaterThanOrEqual(SLOW_MS - 400); // it did wait for the requests
  expect(proc.output()).toContain('shutting down');
});
