// The free-port helper of tests, benchmarks and hack/, over real sockets.
import { createServer } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { freePort, freePorts, listenLoopback } from '../../../hack/lib/ports.ts';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const server = () => {
  const s = createServer((_req, res) => res.end('here'));
  servers.push(s);
  return s;
};

it('listens on a loopback port of its own and resolves with it', async () => {
  const port = await listenLoopback(server());
  expect(port).toBeGreaterThan(0);
  expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('here');
});

it('rejects, rather than hangs, when the server cannot listen', async () => {
  const s = server();
  await listenLoopback(s);
  await expect(listenLoopback(s)).rejects.toThrow(/called more than once/);
});

it('hands out distinct ports that a server can then listen on', async () => {
  const ports = await freePorts(5);
  expect(new Set(ports).size).toBe(5);
  for (const port of [...ports, await freePort()]) {
    const s = server();
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('here');
  }
});
