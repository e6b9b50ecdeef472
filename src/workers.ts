// --workers N: N processes serve (node:cluster, each listening on the same
// port with SO_REUSEPORT so the kernel spreads connections), while the
// primary keeps the one control loop: the source, compile for status and
// /debug, leader election and status writes, the admin port. The primary
// sends each snapshot to the workers, which compile it themselves (compile is
// pure and fast); they report back what they found while serving (health),
// their metrics on request, and when they have drained.
import cluster, { type Worker } from 'node:cluster';
import type { FastifyBaseLogger } from 'fastify';
import type { ServingReason } from './api/failure.ts';
import type { Snapshot } from './api/snapshot.ts';
import { compile } from './compile/compile.ts';
import {
  type Compiled,
  DataPlane,
  type DataPlaneOptions,
  type ServingBackend,
} from './dataplane/data-plane.ts';
import { RouteHealth } from './dataplane/health.ts';
import { aggregateMetrics, Metrics, type ProcessMetrics } from './metrics/metrics.ts';
import { CertificateStore } from './tls/store.ts';

type Problems = [routeKey: string, reason: ServingReason, message: string][];

type ToWorker =
  | { type: 'snapshot'; version: number; snapshot: Snapshot }
  | { type: 'metrics'; id: number }
  | { type: 'drain'; graceMs: number };

type ToPrimary =
  | { type: 'listening' }
  | { type: 'applied'; version: number }
  | { type: 'health'; problems: Problems }
  | { type: 'metrics'; id: number; metrics: ProcessMetrics };

interface WorkerState {
  worker: Worker;
  listening: boolean;
  applied: number;
  problems: Problems;
}

/** The primary's serving backend: forwards tables to the workers and watches over them. */
export class WorkerPool implements ServingBackend {
  readonly health = new RouteHealth();
  /**
   * The certificates the workers serve, for status, /debug/routes and the
   * expiry gauge: fed the same compile results in the same order, it keeps
   * the same last good certificates they do.
   */
  readonly certificates = new CertificateStore();
  readonly #count: number;
  readonly #log: FastifyBaseLogger;
  /** The primary's own metrics (the control loop's), added to the workers'. */
  readonly #metrics: Metrics;
  readonly #workers = new Map<number, WorkerState>();
  readonly #pendingMetrics = new Map<number, (metrics: ProcessMetrics) => void>();
  #latest: { version: number; snapshot: Snapshot } | undefined;
  #nextId = 0;
  #closing = false;

  constructor(count: number, log: FastifyBaseLogger, metrics: Metrics) {
    this.#count = count;
    this.#log = log;
    this.#metrics = metrics;
  }

  async start(): Promise<void> {
    // Structured clone over IPC: snapshots hold Maps and Buffers.
    cluster.setupPrimary({ serialization: 'advanced' });
    for (let i = 0; i < this.#count; i++) this.#fork();
  }

  serve({ table, certificates }: Compiled, snapshot: Snapshot): void {
    this.certificates.update(certificates);
    this.#latest = { version: table.version, snapshot };
    for (const { worker } of this.#workers.values()) send(worker, { type: 'snapshot', ...this.#latest });
  }

  /** Every worker is listening and has a table. */
  get ready(): boolean {
    const states = [...this.#workers.values()];
    return states.length === this.#count && states.every((s) => s.listening && s.applied > 0);
  }

  /** The workers' metrics aggregated (counters summed) with the primary's own. */
  async metrics(): Promise<string> {
    const replies = await Promise.all(
      [...this.#workers.values()].map(({ worker }) => this.#askMetrics(worker)),
    );
    const all = [await this.#metrics.snapshot(), ...replies.filter((r) => r !== undefined)];
    return aggregateMetrics(all);
  }

  /** Tells every worker to drain and waits for them to exit (killing stragglers after the grace period). */
  async drain(graceMs: number): Promise<void> {
    this.#closing = true;
    const exits = [...this.#workers.values()].map(
      ({ worker }) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          worker.once('exit', () => resolve());
          send(worker, { type: 'drain', graceMs });
        }),
    );
    const timer = setTimeout(() => {
      for (const { worker } of this.#workers.values()) if (!worker.isDead()) worker.kill('SIGKILL');
    }, graceMs + 2000);
    await Promise.all(exits);
    clearTimeout(timer);
  }

  #fork(): void {
    const worker = cluster.fork();
    const state: WorkerState = { worker, listening: false, applied: 0, problems: [] };
    this.#workers.set(worker.id, state);
    worker.on('message', (message: ToPrimary) => this.#receive(state, message));
    worker.on('exit', (code, signal) => {
      this.#workers.delete(worker.id);
      this.#mergeHealth();
      if (this.#closing) return;
      this.#log.error({ worker: worker.id, code, signal }, 'worker exited; starting a new one');
      this.#fork();
    });
    if (this.#latest) send(worker, { type: 'snapshot', ...this.#latest });
  }

  #receive(state: WorkerState, message: ToPrimary): void {
    switch (message.type) {
      case 'listening':
        state.listening = true;
        break;
      case 'applied':
        state.applied = message.version;
        break;
      case 'health':
        state.problems = message.problems;
        this.#mergeHealth();
        break;
      case 'metrics':
        this.#pendingMetrics.get(message.id)?.(message.metrics);
        break;
    }
  }

  /** A route has a problem when any worker sees it. */
  #mergeHealth(): void {
    const seen = new Map<string, Problems[number]>();
    for (const { problems } of this.#workers.values()) {
      for (const problem of problems) seen.set(`${problem[0]}\n${problem[1]}`, problem);
    }
    this.health.assign([...seen.values()]);
  }

  #askMetrics(worker: Worker): Promise<ProcessMetrics | undefined> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pendingMetrics.delete(id);
        resolve(undefined); // a busy or dying worker must not block the scrape
      }, 2000);
      this.#pendingMetrics.set(id, (metrics) => {
        clearTimeout(timer);
        this.#pendingMetrics.delete(id);
        resolve(metrics);
      });
      send(worker, { type: 'metrics', id });
    });
  }
}

function send(target: Worker | NodeJS.Process, message: ToWorker | ToPrimary): void {
  // The channel may already be closed by an exiting peer (the callback takes the error); its exit handler does the rest.
  const channel = target as {
    send(message: unknown, handle: undefined, options: object, callback: () => void): boolean;
  };
  channel.send(message, undefined, {}, () => {});
}

/** A worker process: a data plane fed by the primary. Resolves when it has drained. */
export async function runWorker(
  options: Omit<DataPlaneOptions, 'metrics' | 'reusePort'> & {
    shutdownGraceMs: number;
    routeHistograms: boolean;
  },
): Promise<void> {
  const metrics = new Metrics({ routeHistograms: options.routeHistograms });
  const dataPlane = new DataPlane({ ...options, metrics, reusePort: true });
  const log = options.loggers.app;
  dataPlane.health.onChange(() => send(process, { type: 'health', problems: dataPlane.health.list() }));
  let draining: Promise<void> | undefined;
  const drain = (graceMs: number) => {
    // Every access line is written before the worker goes (its exit is the end of the disconnect).
    draining ??= dataPlane
      .drain(graceMs)
      .then(() => options.loggers.flush())
      .then(() => process.disconnect());
    return draining;
  };
  process.on('message', async (message: ToWorker) => {
    switch (message.type) {
      case 'snapshot':
        dataPlane.serve(
          compile(message.snapshot, message.version, { defaultCertificate: options.defaultCertificate }),
        );
        send(process, { type: 'applied', version: message.version });
        break;
      case 'metrics':
        send(process, {
          type: 'metrics',
          id: message.id,
          metrics: await metrics.snapshot(),
        });
        break;
      case 'drain':
        await drain(message.graceMs);
        break;
    }
  });
  // Ctrl-C reaches every process of the group; the primary's drain message may follow.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void drain(options.shutdownGraceMs));
  }
  await dataPlane.start();
  log.info({ url: dataPlane.url }, 'worker serving');
  send(process, { type: 'listening' });
}
