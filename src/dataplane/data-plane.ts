// The serving half of a process: the HTTP server, the router and the runtime
// behind it, and the per-request metrics and access log. A single process
// runs one next to the control half (Gateway); with --workers every worker
// runs one and the primary runs the control half alone.
import type { AddressInfo } from 'node:net';
import type { Snapshot } from '../api/snapshot.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { RouteTable } from '../model/table.ts';
import { listenUrl } from '../util/listen-url.ts';
import type { Loggers } from '../util/log.ts';
import { ClientIpResolver } from './client-ip.ts';
import { ERROR_STATUS } from './errors.ts';
import type { RouteHealth } from './health.ts';
import { type RoutedExchange, Router } from './router.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import { createDataPlaneServer } from './server.ts';

/** Defaults are in src/config.ts. */
export interface DataPlaneOptions extends RuntimeOptions {
  loggers: Loggers;
  metrics: Metrics;
  host: string;
  port: number;
  /** Several worker processes listen on the same port (SO_REUSEPORT; the kernel spreads connections). */
  reusePort: boolean;
  /** One JSON line per request. */
  accessLog: boolean;
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client and whose X-Forwarded-* are kept. */
  trustedProxies: readonly string[];
}

/** What serves the compiled tables: this process's data plane, or (--workers) the worker processes. */
export interface ServingBackend {
  /** Starts serving: listens, or starts the worker processes. */
  start(): Promise<void>;
  /** Serves `table`; worker processes compile `snapshot` themselves, to the same table. */
  serve(table: RouteTable, snapshot: Snapshot): void;
  /** Every serving process is listening (and, for workers, has a table). */
  readonly ready: boolean;
  /** Problems found while serving (credentials, missing functions). */
  readonly health: RouteHealth;
  /** The Prometheus text of every serving process, the control half's metrics included. */
  metrics(): Promise<string>;
  /** Stops accepting connections and lets in-flight requests finish, up to `graceMs`. */
  drain(graceMs: number): Promise<void>;
}

export class DataPlane implements ServingBackend {
  readonly router: Router;
  readonly runtime: Runtime;
  readonly #options: DataPlaneOptions;
  readonly #server;

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    this.router = new Router(new ClientIpResolver(options.trustedProxies));
    this.runtime = new Runtime(options);
    this.#server = createDataPlaneServer({
      router: this.router,
      logger: options.loggers.app,
      onExchange: (exchange, durationMs) => this.#observe(exchange, durationMs),
      onUncaught: () => options.metrics.uncaughtErrors.inc(),
    });
  }

  get health(): RouteHealth {
    return this.runtime.health;
  }

  /** Listening for connections. */
  get ready(): boolean {
    return this.#server.server.listening;
  }

  serve(table: RouteTable): void {
    this.router.swap(this.runtime.build(table));
    this.#options.metrics.retainRoutes(table.routes);
  }

  /** Listens for connections. */
  async start(): Promise<void> {
    const { host, port, reusePort } = this.#options;
    await this.#server.listen({
      host,
      port,
      ...(reusePort && { exclusive: true, reusePort: true }),
    } as { host: string; port: number });
  }

  metrics(): Promise<string> {
    return this.#options.metrics.registry.metrics();
  }

  get url(): string {
    return listenUrl(this.#server.server.address() as AddressInfo);
  }

  /**
   * Stops accepting connections and lets in-flight requests finish, up to
   * `graceMs`; then closes what is left, the pools and credential refreshes.
   */
  async drain(graceMs: number): Promise<void> {
    const server = this.#server.server;
    // Keep-alive connections whose request has finished would hold close() open: close them as they go idle.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const timedOut = await Promise.race([this.#server.close().then(() => false), expired]);
    clearTimeout(timer);
    clearInterval(sweep);
    if (timedOut) {
      this.#options.loggers.app.warn('grace period over: closing the remaining connections');
      server.closeAllConnections();
    }
    await this.runtime.close();
  }

  #observe(exchange: RoutedExchange, durationMs: number): void {
    // The client went away before its response was complete (nginx's 499): whatever status had
    // been chosen, it never got it whole. A handler records that; a response left unfinished on a
    // connection that is gone, with no upstream failure to explain it, is the same.
    // A handler that threw is counted as the 500 it tried to give, even when its response was already under way.
    const { res } = exchange;
    if (!exchange.failure && exchange.upstreamError === undefined && res.destroyed && !res.writableEnded) {
      exchange.upstreamError = 'client_closed';
    }
    const status = exchange.failure
      ? ERROR_STATUS.internal_error
      : exchange.upstreamError === 'client_closed'
        ? CLIENT_CLOSED
        : res.statusCode;
    this.#options.metrics.observeRequest({
      route: exchange.routeName,
      namespace: exchange.namespace,
      method: exchange.method,
      status,
      durationMs,
      upstreamMs: exchange.upstreamMs,
      upstreamError: exchange.upstreamError,
    });
    if (!this.#options.accessLog) return;
    // Only fields that cannot carry credentials: no headers, no query string.
    this.#options.loggers.access.info(
      {
        requestId: exchange.requestId,
        route: exchange.routeName,
        namespace: exchange.namespace,
        method: exchange.method,
        path: exchange.path,
        status,
        durationMs: round(durationMs),
        upstreamMs: exchange.upstreamMs === undefined ? undefined : round(exchange.upstreamMs),
        upstreamError: exchange.upstreamError,
        upstream: exchange.upstream,
        upstreamRequestId: exchange.upstreamRequestId,
        clientIp: exchange.clientIp,
      },
      'request',
    );
  }
}

/** The status logged and counted for a request whose client closed the connection first. */
const CLIENT_CLOSED = 499;

const round = (ms: number) => Math.round(ms * 1000) / 1000;
