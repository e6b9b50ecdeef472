// Assembles one lambda-ingress process: pipeline, data plane and admin
// servers, and their orderly shutdown. Standalone and controller mode differ
// only in the source that feeds pipeline.apply().

import type { AddressInfo } from 'node:net';
import { Metrics } from './admin/metrics.ts';
import { createAdminServer } from './admin/server.ts';
import type { RefreshOptions } from './aws/credentials.ts';
import type { CompileResult } from './compile/compile.ts';
import { ClientIpResolver } from './dataplane/client-ip.ts';
import type { RoutedExchange } from './dataplane/router.ts';
import { Router } from './dataplane/router.ts';
import { Runtime } from './dataplane/runtime.ts';
import { createDataPlaneServer } from './dataplane/server.ts';
import type { Loggers } from './log.ts';
import { Pipeline } from './pipeline.ts';

export interface GatewayOptions {
  loggers: Loggers;
  /** One JSON line per request (default true). */
  accessLog?: boolean;
  host?: string;
  port?: number;
  adminHost?: string;
  adminPort?: number;
  /** Largest request body buffered for signing (default 6 MiB). */
  bodyLimit?: number;
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client. */
  trustedProxies?: readonly string[];
  /** Refresh timing of expiring credentials (tests shorten it). */
  credentialRefresh?: RefreshOptions;
  /** How long the pool of a removed upstream stays open for requests already matched (default 30 s). */
  poolCloseDelayMs?: number;
  /** Sources have delivered their first full state (the controller's initial sync). */
  sourcesReady?: () => boolean;
  /** How long in-flight requests may take to finish on shutdown (default 25 s). */
  shutdownGraceMs?: number;
}

export class Gateway {
  readonly pipeline: Pipeline;
  readonly router: Router;
  readonly runtime: Runtime;
  readonly metrics = new Metrics();
  readonly #options: GatewayOptions;
  readonly #dataPlane;
  readonly #admin;
  #closing = false;

  private constructor(options: GatewayOptions) {
    this.#options = options;
    this.router = new Router(new ClientIpResolver(options.trustedProxies));
    this.runtime = new Runtime({
      ...(options.credentialRefresh && { credentialRefresh: options.credentialRefresh }),
      ...(options.bodyLimit !== undefined && { bodyLimit: options.bodyLimit }),
      ...(options.poolCloseDelayMs !== undefined && { poolCloseDelayMs: options.poolCloseDelayMs }),
    });
    const log = options.loggers.app;
    this.pipeline = new Pipeline(this.runtime, this.router, log);
    this.pipeline.onCompiled((result, { compileMs }) => this.#observeCompile(result, compileMs));
    this.pipeline.onDiagnostics(() => this.#observeRoutes());
    this.#dataPlane = createDataPlaneServer({
      router: this.router,
      logger: log,
      onExchange: (exchange, durationMs) => this.#observeExchange(exchange, durationMs),
      onUncaught: () => this.metrics.uncaughtErrors.inc(),
    });
    this.#admin = createAdminServer({
      logger: log,
      pipeline: this.pipeline,
      metrics: this.metrics,
      ready: () => this.ready,
    });
  }

  #observeExchange(exchange: RoutedExchange, durationMs: number): void {
    const status = exchange.res.statusCode;
    this.metrics.observeRequest({
      route: exchange.routeName,
      namespace: exchange.namespace,
      method: exchange.method,
      status,
      durationMs,
      upstreamMs: exchange.upstreamMs,
      upstreamError: exchange.upstreamError,
    });
    if (this.#options.accessLog === false) return;
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
        upstreamRequestId: exchange.upstreamRequestId,
        clientIp: exchange.clientIp,
      },
      'request',
    );
  }

  #observeCompile(result: CompileResult, compileMs: number): void {
    this.metrics.tableVersion.set(result.table.version);
    this.metrics.compileSeconds.set(compileMs / 1000);
    this.metrics.configErrors.set({ kind: 'source' }, result.errors.length);
    const rejected = (reason: string) =>
      result.diagnostics.filter((d) => d.conditions.some((c) => c.type === 'Accepted' && c.reason === reason))
        .length;
    this.metrics.configErrors.set({ kind: 'invalid' }, rejected('Invalid'));
    this.metrics.configErrors.set({ kind: 'conflicted' }, rejected('Conflicted'));
  }

  #observeRoutes(): void {
    const diagnostics = this.pipeline.diagnostics();
    const ready = diagnostics.filter((d) =>
      d.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    this.metrics.routes.set({ state: 'ready' }, ready);
    this.metrics.routes.set({ state: 'not_ready' }, diagnostics.length - ready);
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const gateway = new Gateway(options);
    await gateway.#admin.listen({
      host: options.adminHost ?? options.host ?? '0.0.0.0',
      port: options.adminPort ?? 9091,
    });
    await gateway.#dataPlane.listen({ host: options.host ?? '0.0.0.0', port: options.port ?? 9080 });
    return gateway;
  }

  /** Serving a compiled table, sources synced, and not shutting down. */
  get ready(): boolean {
    return !this.#closing && this.pipeline.current !== undefined && (this.#options.sourcesReady?.() ?? true);
  }

  get url(): string {
    return urlOf(this.#dataPlane.server.address() as AddressInfo);
  }

  get adminUrl(): string {
    return urlOf(this.#admin.server.address() as AddressInfo);
  }

  /**
   * Readiness turns 503 first, then the data plane stops accepting
   * connections and lets in-flight requests finish (up to the grace period),
   * then pools and the admin server close.
   */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const grace = this.#options.shutdownGraceMs ?? 25_000;
    const log = this.#options.loggers.app;
    log.info({ graceMs: grace }, 'shutting down: draining in-flight requests');
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), grace);
    });
    // Keep-alive connections whose request has finished would hold close() open: close them as they go idle.
    const server = this.#dataPlane.server;
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    const timedOut = await Promise.race([this.#dataPlane.close().then(() => false), expired]);
    clearTimeout(timer);
    clearInterval(sweep);
    if (timedOut) {
      log.warn('grace period over: closing the remaining connections');
      server.closeAllConnections();
    }
    await this.runtime.close();
    await this.#admin.close();
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function urlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
}
