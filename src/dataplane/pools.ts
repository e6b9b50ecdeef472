// One undici Pool per upstream origin and connection settings, shared by
// every route that uses them; pools no route uses any more are closed after a
// table swap (their in-flight requests finish first).
import type { Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import type { ConnectionSettings } from '../compile/route.ts';

export const poolKey = (origin: string, settings: ConnectionSettings): string =>
  `${origin} ${JSON.stringify(settings)}`;

/** A pool, and the upstream it connects to as the access log names it. */
export interface Upstream {
  readonly pool: Pool;
  /** host:port, as the access log names the upstream of a failed call. */
  readonly address: string;
}

export function createUpstream(origin: string, settings: ConnectionSettings): Upstream {
  const connect = buildConnector({
    rejectUnauthorized: !settings.insecureSkipVerify,
    timeout: settings.timeoutMs,
    // undici 8 would negotiate HTTP/2 with TLS upstreams that offer it; the relay and its header
    // rules are HTTP/1.1's, and Node's HTTP/2 session can buffer without bound when a peer stops
    // reading (see sources/kube-connections.ts).
    allowH2: false,
  });
  const pool = new Pool(origin, {
    connections: settings.maxConnections ?? null,
    // pipelining 0 disables keep-alive in undici; 1 is keep-alive without
    // pipelining, which would let one aborted request abort the others.
    pipelining: settings.keepalive ? 1 : 0,
    keepAliveTimeout: settings.idleTimeoutMs,
    keepAliveMaxTimeout: settings.idleTimeoutMs,
    allowH2: false,
    connect: (options, callback) =>
      connect(options, (error, socket) => {
        socket?.prependListener('error', noteBytesRead);
        (callback as (error: Error | null, socket: Socket | null) => void)(error, socket);
      }),
  });
  const url = new URL(origin);
  return { pool, address: url.port ? url.host : `${url.host}:${url.protocol === 'https:' ? 443 : 80}` };
}

/**
 * undici's own socket errors carry the connection's byte counts (`error.socket`);
 * a system error (ECONNRESET, EPIPE) gets the same here, so that a failure can
 * tell a reused connection from a new one (errors.ts, lostReusedConnection).
 */
function noteBytesRead(this: Socket, error: Error & { socket?: { bytesRead: number } }): void {
  error.socket ??= { bytesRead: this.bytesRead };
}
