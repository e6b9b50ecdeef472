// One undici Pool per upstream origin and connection settings, shared by
// every route that uses them; pools no route uses any more are closed after a
// table swap (their in-flight requests finish first).
import type { Socket } from 'node:net';
import type { ConnectionSettings } from '../model/route.ts';
import { buildConnector, Pool } from '../util/undici.ts';

export const poolKey = (origin: string, settings: ConnectionSettings): string =>
  `${origin} ${JSON.stringify(settings)}`;

/** A pool, and what the handlers sending requests through it need to know of it. */
export interface Upstream {
  readonly pool: Pool;
  /** host:port, as the access log names the upstream of a failed call. */
  readonly address: string;
  /** When its connections are capped (keepalive.maxConnections): the slots that bound the wait for one. */
  readonly slots: ConnectionSlots | undefined;
}

export function createUpstream(origin: string, settings: ConnectionSettings): Upstream {
  const connect = buildConnector({
    rejectUnauthorized: !settings.insecureSkipVerify,
    timeout: settings.timeoutMs,
    allowH2: false, // as for the pool below
  });
  const pool = new Pool(origin, {
    connections: settings.maxConnections ?? null,
    // pipelining 0 disables keep-alive in undici; 1 is keep-alive without
    // pipelining, which would let one aborted request abort the others.
    pipelining: settings.keepalive ? 1 : 0,
    keepAliveTimeout: settings.idleTimeoutMs,
    keepAliveMaxTimeout: settings.idleTimeoutMs,
    // undici 8 would negotiate HTTP/2 with TLS upstreams that offer it; the relay and its header
    // rules are HTTP/1.1's, and Node's HTTP/2 session can buffer without bound when a peer stops
    // reading (see DirectAccess in kube/kubeconfig.ts).
    allowH2: false,
    connect: (options, callback) =>
      connect(options, (error, socket) => {
        socket?.prependListener('error', noteBytesRead);
        (callback as (error: Error | null, socket: Socket | null) => void)(error, socket);
      }),
  });
  const url = new URL(origin);
  return {
    pool,
    address: url.port ? url.host : `${url.host}:${url.protocol === 'https:' ? 443 : 80}`,
    slots: settings.maxConnections === undefined ? undefined : new ConnectionSlots(settings.maxConnections),
  };
}

/**
 * undici's own socket errors carry the connection's byte counts (`error.socket`);
 * a system error (ECONNRESET, EPIPE) gets the same here, so that a failure can
 * tell a reused connection from a new one (errors.ts, lostReusedConnection).
 */
function noteBytesRead(this: Socket, error: Error & { socket?: { bytesRead: number } }): void {
  error.socket ??= { bytesRead: this.bytesRead };
}

/**
 * The requests in flight on a pool whose connections are capped, and those
 * waiting for one. undici's own queue has no deadline: requests wait here
 * instead, each at most its route's timeout, and reach the pool when one of
 * its connections is free.
 */
export class ConnectionSlots {
  readonly #limit: number;
  #busy = 0;
  /** Waiters in arrival order (a Set keeps insertion order and forgets a timed-out one in O(1)). */
  readonly #waiting = new Set<() => void>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Takes a slot if one is free now. */
  tryAcquire(): boolean {
    if (this.#busy >= this.#limit) return false;
    this.#busy++;
    return true;
  }

  /** Resolves true when a slot has been handed over, false when `timeoutMs` passed first (0: no limit). */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const grant = () => {
        clearTimeout(timer);
        resolve(true);
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.#waiting.delete(grant);
          resolve(false);
        }, timeoutMs);
      }
      this.#waiting.add(grant);
    });
  }

  /** Gives the slot to the longest waiter, or frees it. */
  release(): void {
    const next = this.#waiting.values().next();
    if (next.done) {
      this.#busy--;
      return;
    }
    this.#waiting.delete(next.value);
    next.value();
  }
}
