// Assembles the control half of a lambda-ingress process: the pipeline that
// compiles snapshots, the admin server, readiness, compile metrics and the
// orderly shutdown. The serving half is a backend: this process's own
// DataPlane, or with --workers the WorkerPool. Standalone and controller mode
// differ only in the source that feeds pipeline.apply().
import type { AddressInfo } from 'node:net';
import { createAdminServer } from './admin/server.ts';
import type { NotAcceptedReason } from './api/failure.ts';
import { DataPlane, type DataPlaneOptions, type ServingBackend } from './dataplane/data-plane.ts';
import { Metrics } from './metrics/metrics.ts';
import { type CompileResult, describeResult } from './model/compile-result.ts';
import { Pipeline } from './pipeline.ts';
import { listenUrl } from './util/listen-url.ts';
import { WorkerPool } from './workers.ts';

/** Defaults are in config.ts. */
export interface GatewayOptions extends Omit<DataPlaneOptions, 'metrics' | 'reusePort'> {
  /** Probes and scrapes come from this machine, or (in a pod) to the pod's IP. */
  adminHost: string;
  adminPort: number;
  /** Serve /debug/routes (upstreams, function ARNs, account ids, file names). */
  debugRoutes: boolean;
  /** A latency histogram per route instead of one for all routes (series per route: README, Metrics). */
  routeHistograms: boolean;
  /** Serving processes (1: this process serves). */
  workers: number;
  /** How long in-flight requests may take to finish on shutdown. */
  shutdownGraceMs: number;
  /** Sources have delivered their first full state (the controller's initial sync); absent, they have. */
  sourcesReady?: () => boolean;
}

/** The lambda_ingress_config_errors kind of the routes not accepted for each reason. */
const NOT_ACCEPTED_KINDS: Record<NotAcceptedReason, string> = {
  Invalid: 'invalid',
  Conflicted: 'conflicted',
};

export class Gateway {
  readonly pipeline: Pipeline;
  readonly metrics: Metrics;
  /** This process's data plane; undefined when worker processes serve. */
  readonly dataPlane: DataPlane | undefined;
  readonly #backend: ServingBackend;
  readonly #options: GatewayOptions;
  readonly #admin;
  #closing = false;

  private constructor(options: GatewayOptions) {
    this.#options = options;
    this.metrics = new Metrics({ routeHistograms: options.routeHistograms });
    if (options.workers > 1) {
      this.#backend = new WorkerPool(options.workers, options.loggers.app, this.metrics);
    } else {
      this.dataPlane = new DataPlane({ ...options, metrics: this.metrics, reusePort: false });
      this.#backend = this.dataPlane;
    }
    const log = options.loggers.app;
    this.pipeline = new Pipeline(this.#backend, log, { defaultCertificate: options.defaultCertificate });
    this.pipeline.onCompiled((result, { compileMs }) => this.#observeCompile(result, compileMs));
    this.pipeline.onDiagnostics(() => this.#observeRoutes());
    const { pipeline } = this;
    this.#admin = createAdminServer({
      logger: log,
      metrics: () => this.#backend.metrics(),
      ready: () => this.ready,
      debugRoutes: options.debugRoutes
        ? () =>
            pipeline.current && {
              ...(describeResult(pipeline.current, pipeline.diagnostics()) as object),
              // What each host is served over TLS: subject, SANs, validity, fingerprint; never a key.
              certificates: this.#backend.certificates.report(),
            }
        : undefined,
    });
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const gateway = new Gateway(options);
    await gateway.#admin.listen({
      host: options.adminHost,
      port: options.adminPort,
    });
    await gateway.#backend.start();
    return gateway;
  }

  /** Serving a compiled table in every serving process, sources synced, and not shutting down. */
  get ready(): boolean {
    return (
      !this.#closing &&
      this.pipeline.current !== undefined &&
      this.#backend.ready &&
      (this.#options.sourcesReady?.() ?? true)
    );
  }

  /** The data plane's URL (single process only; workers listen on the configured port). */
  get url(): string {
    return this.dataPlane?.url ?? `http://127.0.0.1:${this.#options.port}`;
  }

  /** The HTTPS listener's URL once it listens (single process only). */
  get tlsUrl(): string | undefined {
    return this.dataPlane?.tlsUrl;
  }

  get adminUrl(): string {
    return listenUrl(this.#admin.server.address() as AddressInfo);
  }

  /**
   * Readiness turns 503 first, then the data plane stops accepting
   * connections and lets in-flight requests finish (up to the grace period),
   * then pools and the admin server close.
   */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const grace = this.#options.shutdownGraceMs;
    this.#options.loggers.app.info({ graceMs: grace }, 'shutting down: draining in-flight requests');
    await this.#backend.drain(grace);
    await this.#admin.close();
  }

  #observeCompile(result: CompileResult, compileMs: number): void {
    this.metrics.tableVersion.set(result.table.version);
    this.metrics.compileSeconds.set(compileMs / 1000);
    this.metrics.configErrors.set({ kind: 'source' }, result.errors.length);
    this.metrics.certificatesServed(this.#backend.certificates.served());
    for (const [reason, kind] of Object.entries(NOT_ACCEPTED_KINDS) as [NotAcceptedReason, string][]) {
      const count = result.diagnostics.filter((d) =>
        d.conditions.some((c) => c.type === 'Accepted' && c.reason === reason),
      ).length;
      this.metrics.configErrors.set({ kind }, count);
    }
  }

  #observeRoutes(): void {
    const diagnostics = this.pipeline.diagnostics();
    const ready = diagnostics.filter((d) =>
      d.conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    this.metrics.routes.set({ state: 'ready' }, ready);
    this.metrics.routes.set({ state: 'not_ready' }, diagnostics.length - ready);
  }
}
