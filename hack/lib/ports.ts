// Loopback ports for tests, benchmarks and hack/. Servers listen on port 0 and
// the kernel picks the port, so that runs sharing the machine never collide on
// a fixed one. Imports only node: test/, bench/ and hack/ all use it.
import net from 'node:net';

/** Starts `server` listening on a free loopback port; resolves with that port. */
export async function listenLoopback(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

/** `N` numbers: `freePorts(2)` gives a `[number, number]` to destructure. */
type Ports<N extends number, T extends number[] = []> = T['length'] extends N ? T : Ports<N, [...T, number]>;

/**
 * `n` loopback ports that were free a moment ago, for a child process told to
 * listen on them. All are held open together, so they are distinct.
 */
export async function freePorts<N extends number>(n: N): Promise<Ports<N>> {
  const servers = Array.from({ length: n }, () => net.createServer());
  const ports = await Promise.all(servers.map(listenLoopback));
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports as Ports<N>;
}

/** One loopback port that was free a moment ago (see freePorts). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
