// Cluster source: LambdaRoutes and the Secrets they reference, followed with
// list+watch (one loop per resource per namespace scope), turned into Snapshots.
// This file wires the parts: reflectors (kube/reflector.ts) feed the store
// (kubernetes-store.ts), which asks the fetcher (kubernetes-fetcher.ts) for
// Secrets it lacks; its changes are debounced into Snapshots.
//
// - Routes are listed first; Secrets only once every route scope is synced, so
//   that the Secret list can already drop what no route references. Only
//   referenced Secrets are kept in memory, and only the data keys routes read;
//   when a route starts referencing a Secret (or a data key) that was dropped
//   before, the Secret is fetched at once (targeted GET).
// - Nothing is emitted before the first full list of both kinds (`synced`).
// - An outage changes nothing in the store: the last good Snapshot stays, and
//   `connected` tells readiness and metrics about it.
// - Bursts of changes are debounced into one emission, with a maximum wait so
//   a steady stream of changes still produces Snapshots.
// - Status-only changes of a route (our own status writes) update the observed
//   status that the status writer reads (RouteStatusView), without a new Snapshot.

import type { Snapshot } from '../api/snapshot.ts';
import { GROUP, PLURAL, VERSION } from '../api/types.ts';
import type { BackoffOptions } from '../kube/backoff.ts';
import type { ApiReader } from '../kube/client.ts';
import { describeError } from '../kube/errors.ts';
import { type Log, silentLog } from '../kube/log.ts';
import { type RawObject, Reflector, type ReflectorHandlers, type RestartReason } from '../kube/reflector.ts';
import type { ObservedRoute, RouteStatusView } from '../kube/route-status.ts';
import { Debounce } from '../util/debounce.ts';
import { keyOf, namespaceOf } from './kubernetes-convert.ts';
import { SecretFetcher } from './kubernetes-fetcher.ts';
import { KubernetesStore } from './kubernetes-store.ts';

export interface KubernetesSourceObserver {
  /** A full list completed (at start, after 410 Gone). */
  listed?(info: { resource: string; namespace?: string; durationMs: number; items: number }): void;
  /** A watch ended and is being re-established. */
  watchRestarted?(info: { resource: string; namespace?: string; reason: RestartReason }): void;
  /** The aggregate `connected` state flipped. */
  connectionChanged?(connected: boolean): void;
  /** A Snapshot was handed to onSnapshot. */
  snapshotEmitted?(info: { routes: number; secrets: number }): void;
}

export interface KubernetesSourceOptions {
  /** Reads the cluster: the controller's KubeClient. */
  reader: ApiReader;
  /** Namespaces to watch (repeatable --namespace); empty or undefined = all namespaces. */
  namespaces?: readonly string[];
  /** Secrets ("namespace/name", in a watched namespace) kept whether or not a route references them. */
  pinnedSecrets?: readonly string[];
  /** Receives every new Snapshot (after the first full sync, debounced). */
  onSnapshot?: (snapshot: Snapshot) => void;
  log?: Log;
  observer?: KubernetesSourceObserver;
  /** Quiet time before emitting after a change (default 100 ms). */
  debounceMs?: number;
  /** Longest delay of an emission under a steady stream of changes (default 1 s). */
  maxWaitMs?: number;
  /** Re-establish a watch that delivered nothing, not even a bookmark, for this long (default 5 min). */
  silentWatchMs?: number;
  /** Timeout of list pages, GETs and watch connects (default 30 s). */
  requestTimeoutMs?: number;
  /** List page size (default 500). */
  pageSize?: number;
  /** Backoff of list/watch retries and Secret fetches (default 500 ms doubling to 30 s, with jitter). */
  backoff?: BackoffOptions;
}

export class KubernetesSource implements RouteStatusView {
  readonly #namespaces: readonly (string | undefined)[];
  readonly #log: Log;
  readonly #observer: KubernetesSourceObserver;
  readonly #onSnapshot: ((snapshot: Snapshot) => void) | undefined;
  readonly #options: KubernetesSourceOptions;

  readonly #store: KubernetesStore;
  readonly #fetcher: SecretFetcher;
  readonly #debounce: Debounce;
  readonly #statusListeners = new Set<(key: string) => void>();

  readonly #routeReflectors: Reflector[] = [];
  readonly #secretReflectors: Reflector[] = [];
  #started = false;
  #stopped = false;
  #synced = false;
  #connected = false;
  #lastSyncTime: Date | undefined;
  #syncWaiters: (() => void)[] = [];

  constructor(options: KubernetesSourceOptions) {
    this.#options = options;
    const namespaces = [...new Set(options.namespaces ?? [])].filter(Boolean);
    this.#namespaces = namespaces.length ? namespaces : [undefined];
    this.#log = options.log ?? silentLog;
    this.#observer = options.observer ?? {};
    this.#onSnapshot = options.onSnapshot;
    this.#store = new KubernetesStore(
      {
        changed: () => this.#changed(),
        routeObserved: (key) => this.#notifyStatus(key),
        // Before the Secret list of its namespace is in, the list itself will bring it.
        fetchSecret: (key) => {
          if (this.#secretsSynced(namespaceOf(key))) this.#fetcher.fetch(key);
        },
        cancelFetch: (key) => this.#fetcher.cancel(key),
      },
      options.pinnedSecrets,
    );
    this.#fetcher = new SecretFetcher({
      reader: options.reader,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      backoff: options.backoff ?? {},
      log: this.#log,
      wanted: (key) => this.#store.lacks(key),
      fetched: (key, raw) => this.#store.secretFetched(key, raw),
    });
    this.#debounce = new Debounce(() => this.#emit(), {
      quietMs: options.debounceMs ?? 100,
      maxWaitMs: options.maxWaitMs ?? 1000,
      // A route that has just started referencing a Secret waits for it (the
      // targeted GET takes milliseconds) rather than flashing SecretNotFound in
      // its status and Events; never longer than the max wait, though.
      ready: () => this.#fetcher.inFlight === 0,
    });
  }

  /** Both kinds were fully listed at least once. Stays true through outages. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Every list/watch loop is currently talking to the apiserver. */
  get connected(): boolean {
    return this.#connected;
  }

  /** The last time data (a list, a watch event or bookmark, an opened watch) came from the apiserver. */
  get lastSyncTime(): Date | undefined {
    return this.#lastSyncTime;
  }

  /** Starts the list/watch loops; returns at once. Snapshots arrive through onSnapshot. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const namespace of this.#namespaces) {
      const reflector = this.#reflector('lambdaroutes', namespace, {
        replace: (items) => this.#store.replaceRoutes(namespace, items),
        event: (type, object) =>
          type === 'DELETED' ? this.#store.deleteRoute(object) : this.#store.upsertRoute(object),
      });
      this.#routeReflectors.push(reflector);
      reflector.start();
    }
  }

  /** Resolves once synced (rejects when `signal` aborts first). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#debounce.cancel();
    this.#fetcher.stop();
    await Promise.all([...this.#routeReflectors, ...this.#secretReflectors].map((r) => r.stop()));
  }

  /** The current state as a Snapshot (routes and Secrets sorted by key). */
  snapshot(): Snapshot {
    return this.#store.snapshot();
  }

  observedRoute(key: string): ObservedRoute | undefined {
    return this.#store.observedRoute(key);
  }

  onObservedRouteChange(listener: (key: string) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  // -------------------------------------------------------------------------------------------------
  // Loops and state

  #reflector(
    resource: 'lambdaroutes' | 'secrets',
    namespace: string | undefined,
    handlers: ReflectorHandlers,
    keep?: (object: RawObject) => boolean,
  ): Reflector {
    const o = this.#options;
    const scope = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    const path =
      resource === 'secrets' ? `/api/v1${scope}/secrets` : `/apis/${GROUP}/${VERSION}${scope}/${PLURAL}`;
    const where = { resource, ...(namespace && { namespace }) };
    return new Reflector({
      reader: o.reader,
      resource,
      namespace,
      path,
      handlers,
      ...(keep && { keep }),
      silentWatchMs: o.silentWatchMs ?? 300_000,
      requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
      pageSize: o.pageSize ?? 500,
      backoff: o.backoff ?? {},
      log: this.#log,
      onStateChange: () => this.#updateState(),
      onContact: () => {
        this.#lastSyncTime = new Date();
      },
      onListed: (durationMs, items) => this.#observer.listed?.({ ...where, durationMs, items }),
      onRestart: (reason) => this.#observer.watchRestarted?.({ ...where, reason }),
    });
  }

  #updateState(): void {
    if (this.#stopped) return;
    if (
      !this.#secretReflectors.length &&
      this.#routeReflectors.every((r) => r.synced) &&
      this.#routeReflectors.length
    ) {
      // Routes are known: list Secrets now, keeping only the referenced ones.
      for (const namespace of this.#namespaces) {
        const reflector = this.#reflector(
          'secrets',
          namespace,
          {
            replace: (items) => {
              for (const key of this.#store.replaceSecrets(namespace, items)) this.#fetcher.fetch(key);
            },
            event: (type, object) => this.#store.secretEvent(type, object),
          },
          (object) => this.#store.isReferenced(keyOf(object)),
        );
        this.#secretReflectors.push(reflector);
        reflector.start();
      }
    }
    const all = [...this.#routeReflectors, ...this.#secretReflectors];
    const connected = all.length > 0 && all.every((r) => r.connected);
    if (connected !== this.#connected) {
      this.#connected = connected;
      // Not logged here: the observer (the controller) says it once, with what it means for serving.
      this.#observer.connectionChanged?.(connected);
    }
    if (
      !this.#synced &&
      this.#secretReflectors.length === this.#namespaces.length &&
      all.every((r) => r.synced)
    ) {
      this.#synced = true;
      this.#log.info(
        { routes: this.#store.routeCount, secrets: this.#store.secretCount },
        'cluster state synced',
      );
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
      this.#changed();
    }
  }

  /** Something in the store changed: emit after the debounce (or the max wait). */
  #changed(): void {
    if (this.#synced && !this.#stopped) this.#debounce.trigger();
  }

  #emit(): void {
    if (this.#stopped) return;
    const snapshot = this.#store.snapshot();
    this.#observer.snapshotEmitted?.({ routes: snapshot.routes.length, secrets: snapshot.secrets.size });
    try {
      this.#onSnapshot?.(snapshot);
    } catch (error) {
      this.#log.error({ error: describeError(error) }, 'onSnapshot failed');
    }
  }

  #notifyStatus(key: string): void {
    for (const listener of this.#statusListeners) {
      try {
        listener(key);
      } catch (error) {
        this.#log.error({ error: describeError(error) }, 'route status listener failed');
      }
    }
  }

  #secretsSynced(namespace: string): boolean {
    const i = this.#namespaces.findIndex((ns) => ns === undefined || ns === namespace);
    return i >= 0 && !!this.#secretReflectors[i]?.synced;
  }
}
