// One undici Pool per upstream origin and connection settings, shared by
// every route that uses them; pools no route uses any more are closed after a
// table swap (their in-flight requests finish first).
import { Pool } from 'undici';
import type { ConnectionSettings } from '../compile/route.ts';

export const poolKey = (origin: string, settings: ConnectionSettings): string =>
  `${origin} ${JSON.stringify(settings)}`;

export const closePool = (pool: Pool): void => void pool.close();

export function createPool(origin: string, settings: ConnectionSettings): Pool {
  return new Pool(origin, {
    connections: settings.maxConnections ?? null,
    // pipelining 0 disables keep-alive in undici; 1 is keep-alive without
    // pipelining, which would let one aborted request abort the others.
    pipelining: settings.keepalive ? 1 : 0,
    keepAliveTimeout: settings.idleTimeoutMs,
    keepAliveMaxTimeout: settings.idleTimeoutMs,
    // undici 8 would negotiate HTTP/2 with TLS upstreams that offer it; the relay and its header
    // rules are HTTP/1.1's, and Node's HTTP/2 session can buffer without bound when a peer stops
    // reading (see kube/connections.ts).
    allowH2: false,
    connect: { rejectUnauthorized: !settings.insecureSkipVerify, timeout: settings.timeoutMs },
  });
}
