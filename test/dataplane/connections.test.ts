// Connection handling against a plain upstream whose sockets we can count:
// keep-alive on and off, the maxConnections cap, and pools of removed routes
// being closed.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { lambdaRoute } from '../support/manifests.ts';

let upstream: Server;
let upstreamUrl: string;
const sockets = new Set<Socket>();
let connections = 0;
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const delay = req.url?.startsWith('/slow') ? 100 : 0;
    setTimeout(() => {
      inFlight--;
      res.end('ok');
    }, delay);
  });
  upstream.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  upstreamUrl = `http://127.0.0.1:${await listenLoopback(upstream)}`;
});
afterAll(() => new Promise((r) => upstream.close(r)));

const route = (name: string, path: string, keepalive: string) =>
  lambdaRoute(
    name,
    `match: {path: ${path}, pathType: Prefix}
target: {url: "${upstreamUrl}", forwardSubpath: true}
keepalive: ${keepalive}`,
  );

describe('upstream connections', () => {
  let gw: TestGateway;
  afterAll(() => gw?.close());

  it('reuses connections when keep-alive is on, and opens one per request when it is off', async () => {
    gw = await startTestGateway(
      {
        'keep.yaml': route('keep', '/keep', '{enabled: true, idleTimeout: 30s}'),
        'nokeep.yaml': route('nokeep', '/nokeep', '{enabled: false}'),
      },
      { poolCloseDelayMs: 50 },
    );
    connections = 0;
    for (let i = 0; i < 5; i++) expect((await send(gw.url, { path: '/keep/x' })).status).toBe(200);
    expect(connections).toBe(1);
    connections = 0;
    for (let i = 0; i < 5; i++) expect((await send(gw.url, { path: '/nokeep/x' })).status).toBe(200);
    expect(connections).toBe(5);
  });

  it('never opens more than maxConnections to one upstream', async () => {
    gw.write('capped.yaml', route('capped', '/capped', '{maxConnections: 2}'));
    await gw.nextVersion();
    maxInFlight = 0;
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => send(gw.url, { path: '/capped/slow' })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(maxInFlight).toBe(2);
  });

  it('closes the pool of a removed route', async () => {
    expect((await send(gw.url, { path: '/keep/x' })).status).toBe(200);
    const open = sockets.size;
    expect(open).toBeGreaterThan(0);
    const version = gw.gateway.pipeline.current!.table.version;
    gw.remove('keep.yaml');
    gw.remove('capped.yaml');
    await gw.nextVersion(version);
    expect((await send(gw.url, { path: '/keep/x' })).status).toBe(404);
    const deadline = Date.now() + 3000;
    while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sockets.size).toBe(0);
    expect(gw.gateway.dataPlane!.runtime.poolCount).toBe(1); // only the nokeep route's pool is left
  });
});
