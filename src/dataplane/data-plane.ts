// The serving half of a process: the HTTP server, the router and the runtime
// behind it, and the per-request metrics and access log. A single process
// runs one next to the control half (Gateway); with --workers every worker
// runs one and the primary runs the control half alone.
import type { AddressInfo } from 'node:net';
import type { Snapshot } from '../api/snapshot.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { CompileResult } from '../model/compile-result.ts';
import { CertificateStore } from '../tls/store.ts';
import { listenUrl } from '../util/listen-url.ts';
import type { AccessLog, Loggers } from '../util/log.ts';
import { accessLogMembers } from './access-line.ts';
import { ClientIpResolver } from './client-ip.ts';
import { ERROR_STATUS } from './errors.ts';
import type { RouteHealth } from './health.ts';
import { type HttpsRedirect, type RoutedExchange, Router } from './router.ts';
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
  /** The HTTPS listener's port, on `host`; it listens once a certificate is known. */
  tlsPort: number;
  /** "namespace/name" of the Secret served to TLS clients no host's certificate covers; the HTTPS listener opens at start. */
  defaultCertificate: string | undefined;
  /** Plain HTTP for a host with a certificate of its own is answered 308 to https. */
  redirectHttp: boolean;
}

/** What a serving process serves of a compile result. */
export type Compiled = Pick<CompileResult, 'table' | 'certificates'>;

/** What serves the compiled tables: this process's data plane, or (--workers) the worker processes. */
export interface ServingBackend {
  /** Starts serving: listens, or starts the worker processes. */
  start(): Promise<void>;
  /** Serves `compiled`; worker processes compile `snapshot` themselves, to the same result. */
  serve(compiled: Compiled, snapshot: Snapshot): void;
  /** Every serving process is listening (and, for workers, has a table). */
  readonly ready: boolean;
  /** Problems found while serving (credentials, missing functions). */
  readonly health: RouteHealth;
  /** The certificates served over TLS (with --workers, the same as every worker serves). */
  readonly certificates: CertificateStore;
  /** The Prometheus text of every serving process, the control half's metrics included. */
  metrics(): Promise<string>;
  /** Stops accepting connections and lets in-flight requests finish, up to `graceMs`. */
  drain(graceMs: number): Promise<void>;
}

type Server = ReturnType<typeof createDataPlaneServer>;

export class DataPlane implements ServingBackend {
  readonly router: Router;
  readonly runtime: Runtime;
  readonly certificates = new CertificateStore();
  readonly #options: DataPlaneOptions;
  /** Where each request's line goes; undefined with --no-access-log or below level info. */
  readonly #accessLog: AccessLog | undefined;
  readonly #server: Server;
  readonly #redirect: HttpsRedirect | undefined;
  /** The HTTPS listener, once it is opened: at start with a default certificate, else with the first certificate. */
  #tlsServer: Server | undefined;
  #tlsListening: Promise<void> | undefined;
  #draining = false;

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    const { access } = options.loggers;
    this.#accessLog = options.accessLog && access.enabled ? access : undefined;
    this.#redirect = options.redirectHttp
      ? { certificates: this.certificates, tlsPort: options.tlsPort }
      : undefined;
    this.router = new Router(new ClientIpResolver(options.trustedProxies), this.#redirect);
    this.runtime = new Runtime(options);
    this.#server = this.#createServer();
  }

  #createServer(certificates?: CertificateStore): Server {
    return createDataPlaneServer({
      router: this.router,
      logger: this.#options.loggers.app,
      onExchange: (exchange, durationMs) => this.#observe(exchange, durationMs),
      onUncaught: () => this.#options.metrics.uncaughtErrors.inc(),
      certificates,
    });
  }

  get health(): RouteHealth {
    return this.runtime.health;
  }

  /** Listening for connections. */
  get ready(): boolean {
    return this.#server.server.listening;
  }

  /** Swaps in the table, then the certificates: a handshake after the swap finds the new table's. */
  serve({ table, certificates }: Compiled): void {
    this.router.swap(this.runtime.build(table));
    this.#options.metrics.retainRoutes(table.routes);
    this.certificates.update(certificates);
    if (!this.certificates.empty && !this.#draining) void this.#listenTls().catch(() => {});
  }

  /** Listens for connections (and over TLS when there is a default certificate). */
  async start(): Promise<void> {
    await this.#listen(this.#server, this.#options.port);
    if (this.#options.defaultCertificate !== undefined) await this.#listenTls();
  }

  /** Opens the HTTPS listener, once; a failure (the port is taken) is logged and tried again on the next table. */
  #listenTls(): Promise<void> {
    this.#tlsListening ??= (async () => {
      const server = this.#createServer(this.certificates);
      this.#tlsServer = server;
      try {
        await this.#listen(server, this.#options.tlsPort);
      } catch (error) {
        this.#tlsServer = undefined;
        this.#tlsListening = undefined;
        await server.close();
        this.#options.loggers.app.error(
          { err: error },
          `cannot listen for HTTPS on port ${this.#options.tlsPort}`,
        );
        throw error;
      }
      // Port 0 (tests): redirects name the port it got.
      if (this.#redirect) this.#redirect.tlsPort = (server.server.address() as AddressInfo).port;
      this.#options.loggers.app.info({ url: this.tlsUrl }, 'serving HTTPS');
    })();
    return this.#tlsListening;
  }

  #listen(server: Server, port: number): Promise<string> {
    const { host, reusePort } = this.#options;
    return server.listen({
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

  /** The HTTPS listener's URL, once it listens. */
  get tlsUrl(): string | undefined {
    const address = this.#tlsServer?.server.address();
    return address ? listenUrl(address as AddressInfo, 'https') : undefined;
  }

  /**
   * Stops accepting connections and lets in-flight requests finish, up to
   * `graceMs`; then closes what is left, the pools and credential refreshes.
   */
  async drain(graceMs: number): Promise<void> {
    this.#draining = true;
    this.router.close();
    await this.#tlsListening?.catch(() => {});
    const servers = [this.#server, ...(this.#tlsServer ? [this.#tlsServer] : [])];
    // Keep-alive connections whose request has finished would hold close() open: close them as they go idle.
    const sweep = setInterval(() => {
      for (const { server } of servers) server.closeIdleConnections();
    }, 100);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const closed = Promise.all(servers.map((app) => app.close())).then(() => false);
    const timedOut = await Promise.race([closed, expired]);
    clearTimeout(timer);
    clearInterval(sweep);
    if (timedOut) {
      this.#options.loggers.app.warn('grace period over: closing the remaining connections');
      for (const { server } of servers) server.closeAllConnections();
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
    this.#accessLog?.write(accessLogMembers(exchange, status, durationMs));
  }
}

/** The status logged and counted for a request whose client closed the connection first. */
const CLIENT_CLOSED = 499;
