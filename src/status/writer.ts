// Writes LambdaRoute status from compile() diagnostics, on the leader only.
//
// - Every replica calls update() after each compile; only the Lease holder
//   writes. On becoming leader it reconciles every route at once.
// - A route is written only when its desired status differs from the status
//   observed in the source's cache (no GETs), through the status subresource as
//   a JSON merge patch carrying metadata.resourceVersion: the server refuses it
//   (409) when the cache was stale, so lastTransitionTime is always computed
//   from the status it replaces. 409 and 404 (deleted meanwhile) are quiet; the
//   next watch event brings the route back here. Other failures are retried with
//   backoff.
// - A Warning Event is created when a route newly fails (Ready turns False or
//   changes reason), judged from the observed status, so recompiles, restarts
//   and leader changes do not repeat it.
import { GROUP, PLURAL, VERSION } from '../api/types.ts';
import type { BackoffOptions } from '../kube/backoff.ts';
import { type KubeClient, MERGE_PATCH } from '../kube/client.ts';
import { describeError, isTransient, statusOf } from '../kube/errors.ts';
import { LeaderElector } from '../kube/leader.ts';
import { type Log, silentLog } from '../kube/log.ts';
import { KeyedRetry } from '../kube/retry.ts';
import type { RouteStatusView } from '../kube/route-status.ts';
import type { RouteDiagnostic } from '../model/compile-result.ts';
import { desiredStatus, newFailure, sameStatus } from './conditions.ts';
import { EventRecorder } from './kube-events.ts';

export interface StatusWriterObserver {
  /** A status PATCH succeeded. */
  written?(key: string): void;
  /** A status PATCH failed (404 and 409 included). */
  failed?(key: string, status: number): void;
  leaderChanged?(leader: boolean): void;
}

export interface StatusWriterOptions {
  client: KubeClient;
  /** Namespace of the leader Lease: the controller's own (POD_NAMESPACE). */
  namespace: string;
  /** The observed routes (a KubernetesSource). */
  routes: RouteStatusView;
  /** Lease holder identity (default: POD_NAME or host name + random suffix). */
  identity?: string;
  /** Lease name (default lambda-ingress-leader). */
  leaseName?: string;
  /** Lease timings (defaults 15 s / 10 s / 2 s). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Create Events for new failures (default true). */
  events?: boolean;
  /** Parallel status writes (default 4). */
  concurrency?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** Retry backoff (default 500 ms doubling to 30 s, with jitter). */
  backoff?: BackoffOptions;
  log?: Log;
  observer?: StatusWriterObserver;
}

export class StatusWriter {
  readonly #routes: RouteStatusView;
  readonly #client: KubeClient;
  readonly #elector: LeaderElector;
  readonly #recorder: EventRecorder | undefined;
  readonly #log: Log;
  readonly #observer: StatusWriterObserver;
  readonly #concurrency: number;
  readonly #timeoutMs: number;

  #desired = new Map<string, RouteDiagnostic>();
  readonly #queue = new Set<string>();
  readonly #active = new Set<string>();
  readonly #again = new Set<string>();
  readonly #retries: KeyedRetry;
  /** Per route, the resourceVersion our last successful write was based on. */
  readonly #writtenOver = new Map<string, string | undefined>();
  #unsubscribe: (() => void) | undefined;
  #idle: (() => void) | undefined;
  #stopped = false;
  #writes = 0;

  constructor(options: StatusWriterOptions) {
    this.#routes = options.routes;
    this.#client = options.client;
    this.#log = options.log ?? silentLog;
    this.#observer = options.observer ?? {};
    this.#concurrency = options.concurrency ?? 4;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#retries = new KeyedRetry(options.backoff ?? {}, (key) => this.#enqueue(key));
    this.#elector = new LeaderElector({
      client: options.client,
      namespace: options.namespace,
      ...(options.leaseName && { name: options.leaseName }),
      ...(options.identity && { identity: options.identity }),
      ...(options.leaseDurationMs && { leaseDurationMs: options.leaseDurationMs }),
      ...(options.renewDeadlineMs && { renewDeadlineMs: options.renewDeadlineMs }),
      ...(options.retryPeriodMs && { retryPeriodMs: options.retryPeriodMs }),
      log: this.#log,
      onStartedLeading: () => {
        this.#observer.leaderChanged?.(true);
        this.#enqueueAll();
      },
      onStoppedLeading: () => {
        this.#observer.leaderChanged?.(false);
        this.#queue.clear();
        this.#retries.clearAll();
      },
    });
    if (options.events ?? true) {
      this.#recorder = new EventRecorder({
        client: options.client,
        instance: this.#elector.identity,
        log: this.#log,
        requestTimeoutMs: this.#timeoutMs,
      });
    }
  }

  get isLeader(): boolean {
    return this.#elector.isLeader;
  }

  get identity(): string {
    return this.#elector.identity;
  }

  /** The current Lease holder as last observed. */
  get leader(): string | undefined {
    return this.#elector.holder;
  }

  /** Successful status writes so far. */
  get writes(): number {
    return this.#writes;
  }

  /** Joins the leader election and follows route changes; returns at once. */
  start(): void {
    if (this.#unsubscribe || this.#stopped) return;
    this.#unsubscribe = this.#routes.onObservedRouteChange((key) => {
      if (!this.#routes.observedRoute(key)) this.#forget(key);
      if (this.#desired.has(key) && this.#elector.isLeader) this.#enqueue(key);
    });
    this.#elector.start();
  }

  /**
   * The diagnostics of the latest compile (all routes). Writes what changed, when leading. A
   * route whose diagnostic is the same object as before is not looked at again: compile hands
   * over the same one while the route is unchanged, and what else would make it worth writing
   * (a watch event, a failed write's retry) enqueues it itself.
   */
  update(diagnostics: readonly RouteDiagnostic[]): void {
    if (this.#stopped) return;
    const previous = this.#desired;
    const desired = new Map(diagnostics.map((d) => [d.key, d]));
    for (const key of previous.keys()) if (!desired.has(key)) this.#forget(key);
    this.#desired = desired;
    if (!this.#elector.isLeader) return;
    for (const [key, diagnostic] of desired) if (previous.get(key) !== diagnostic) this.#enqueue(key);
  }

  /** Stops writing, waits for writes in flight, and releases the Lease. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#queue.clear();
    this.#retries.clearAll();
    if (this.#active.size) await new Promise<void>((resolve) => (this.#idle = resolve));
    await this.#elector.stop();
  }

  // -------------------------------------------------------------------------------------------------

  #enqueueAll(): void {
    for (const key of this.#desired.keys()) this.#enqueue(key);
  }

  #enqueue(key: string): void {
    if (this.#stopped) return;
    if (this.#active.has(key)) {
      this.#again.add(key);
      return;
    }
    this.#queue.add(key);
    this.#pump();
  }

  #pump(): void {
    while (this.#active.size < this.#concurrency && this.#queue.size) {
      const key = this.#queue.values().next().value as string;
      this.#queue.delete(key);
      this.#active.add(key);
      this.#reconcile(key)
        .catch((error: unknown) => this.#log.error({ route: key, error: describeError(error) }, 'status bug'))
        .finally(() => {
          this.#active.delete(key);
          if (this.#again.delete(key) && !this.#stopped) this.#queue.add(key);
          if (this.#stopped && !this.#active.size) this.#idle?.();
          this.#pump();
        });
    }
  }

  #forget(key: string): void {
    this.#writtenOver.delete(key);
    this.#retries.clear(key);
  }

  async #reconcile(key: string): Promise<void> {
    if (!this.#elector.isLeader || this.#stopped) return;
    const diagnostic = this.#desired.get(key);
    const observed = this.#routes.observedRoute(key);
    if (!diagnostic || !observed) return;
    // The cache holds another generation than the one compiled: the next compile will bring it.
    if (diagnostic.generation !== observed.generation) return;
    // Our last write is not in the cache yet: wait for the watch event rather than write blind.
    if (this.#writtenOver.has(key) && this.#writtenOver.get(key) === observed.resourceVersion) return;
    const status = desiredStatus(diagnostic, observed.status, new Date());
    if (sameStatus(observed.status, status)) {
      this.#retries.clear(key);
      return;
    }
    const route = `${observed.namespace}/${observed.name}`;
    let written: { metadata?: { resourceVersion?: string } } | undefined;
    try {
      const path = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(observed.namespace)}/${PLURAL}/${encodeURIComponent(observed.name)}/status`;
      written = await this.#client.send(
        'PATCH',
        `${path}?fieldManager=lambda-ingress`,
        { metadata: observed.resourceVersion ? { resourceVersion: observed.resourceVersion } : {}, status },
        { timeoutMs: this.#timeoutMs, contentType: MERGE_PATCH },
      );
    } catch (error) {
      const code = statusOf(error);
      this.#observer.failed?.(key, code);
      if (code === 404) {
        this.#log.debug({ route }, 'route deleted before its status was written');
        this.#forget(key);
        return;
      }
      if (code === 409) {
        this.#log.debug({ route }, 'route changed since observed (409); will retry on the next event');
      } else {
        const level = isTransient(error) ? 'info' : 'warn';
        this.#log[level]({ route, error: describeError(error) }, 'status write failed; will retry');
      }
      if (this.#elector.isLeader) this.#retries.schedule(key);
      return;
    }
    this.#writes++;
    // Until the cache shows a newer version, don't write this route again. (A write the server
    // found to change nothing keeps the resourceVersion: no event will come, so don't wait for one.)
    if (written?.metadata?.resourceVersion !== observed.resourceVersion) {
      this.#writtenOver.set(key, observed.resourceVersion);
    } else {
      this.#writtenOver.delete(key);
    }
    this.#retries.clear(key);
    this.#observer.written?.(key);
    const ready = status.conditions.find((c) => c.type === 'Ready');
    this.#log.debug({ route, ready: ready?.status, reason: ready?.reason }, 'status written');
    const failure = newFailure(observed.status, status);
    if (failure && this.#recorder) {
      await this.#recorder.record(observed, {
        type: 'Warning',
        reason: failure.reason,
        message: failure.message,
      });
    }
  }
}
