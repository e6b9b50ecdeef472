// Cluster source: LambdaRoutes and the Secrets they reference, followed with
// list+watch (one loop per resource per namespace scope), turned into Snapshots.
//
// - Routes are listed first; Secrets only once every route scope is synced, so
//   that the Secret list can already drop what no route references. Only
//   referenced Secrets are kept in memory; when a route starts referencing a
//   Secret that was dropped before, it is fetched at once (targeted GET).
// - Nothing is emitted before the first full list of both kinds (`synced`).
// - An outage changes nothing in the store: the last good Snapshot stays, and
//   `connected` tells readiness and metrics about it.
// - Bursts of changes are debounced into one emission, with a maximum wait so
//   a steady stream of changes still produces Snapshots.
// - Status-only changes of a route (our own status writes) update the observed
//   status that the status writer reads (RouteStatusView), without a new Snapshot.
import type { KubeConfig } from '@kubernetes/client-node';
import {
  API_VERSION,
  GROUP,
  KIND,
  type LambdaRouteObject,
  PLURAL,
  type SecretObject,
  VERSION,
} from '../api/types.ts';
import { objectKey, type Snapshot } from '../compile/snapshot.ts';
import { Backoff, type BackoffOptions } from '../kube/backoff.ts';
import { describeError, statusOf } from '../kube/errors.ts';
import { type Log, silentLog } from '../kube/log.ts';
import { KubeReader } from '../kube/reader.ts';
import { type RawObject, Reflector, type ReflectorHandlers, type RestartReason } from '../kube/reflector.ts';
import type { MetaCondition, ObservedRoute, RouteStatus, RouteStatusView } from '../kube/route-status.ts';

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
  kubeConfig: KubeConfig;
  /** Namespaces to watch (repeatable --namespace); empty or undefined = all namespaces. */
  namespaces?: readonly string[];
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

interface RouteEntry {
  object: LambdaRouteObject;
  /** Keys ("ns/name") of the Secrets this route references in its own namespace. */
  refs: string[];
  observed: ObservedRoute;
}

interface Fetch {
  backoff: Backoff;
  timer?: NodeJS.Timeout;
}

export class KubernetesSource implements RouteStatusView {
  readonly #reader: KubeReader;
  readonly #namespaces: readonly (string | undefined)[];
  readonly #log: Log;
  readonly #observer: KubernetesSourceObserver;
  readonly #onSnapshot: ((snapshot: Snapshot) => void) | undefined;
  readonly #debounceMs: number;
  readonly #maxWaitMs: number;
  readonly #options: KubernetesSourceOptions;

  readonly #routes = new Map<string, RouteEntry>();
  readonly #secrets = new Map<string, SecretObject>();
  /** How many routes reference each Secret key. */
  readonly #refCounts = new Map<string, number>();
  /**
   * Targeted GETs in flight, by Secret key. Any watch event or list for that key
   * replaces the token, and a GET whose token was replaced is ignored: the watch
   * stream is the newer truth.
   */
  readonly #fetching = new Map<string, object>();
  readonly #retries = new Map<string, Fetch>();
  readonly #statusListeners = new Set<(key: string) => void>();

  readonly #routeReflectors: Reflector[] = [];
  readonly #secretReflectors: Reflector[] = [];
  #started = false;
  #stopped = false;
  #synced = false;
  #connected = false;
  #lastSyncTime: Date | undefined;
  #syncWaiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #firstChangeAt: number | undefined;
  #emitted = 0;

  constructor(options: KubernetesSourceOptions) {
    this.#options = options;
    this.#reader = new KubeReader(options.kubeConfig);
    const namespaces = [...new Set(options.namespaces ?? [])].filter(Boolean);
    this.#namespaces = namespaces.length ? namespaces : [undefined];
    this.#log = options.log ?? silentLog;
    this.#observer = options.observer ?? {};
    this.#onSnapshot = options.onSnapshot;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#maxWaitMs = options.maxWaitMs ?? 1000;
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

  /** How many Snapshots were emitted so far. */
  get emitted(): number {
    return this.#emitted;
  }

  /** Starts the list/watch loops; returns at once. Snapshots arrive through onSnapshot. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const namespace of this.#namespaces) {
      const reflector = this.#reflector('lambdaroutes', namespace, {
        replace: (items) => this.#replaceRoutes(namespace, items),
        event: (type, object) => (type === 'DELETED' ? this.#deleteRoute(object) : this.#upsertRoute(object)),
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
    clearTimeout(this.#timer);
    for (const retry of this.#retries.values()) clearTimeout(retry.timer);
    this.#retries.clear();
    this.#fetching.clear();
    await Promise.all([...this.#routeReflectors, ...this.#secretReflectors].map((r) => r.stop()));
  }

  /** The current state as a Snapshot (routes and Secrets sorted by key). */
  snapshot(): Snapshot {
    const routes = [...this.#routes.entries()].sort(byKey).map(([, entry]) => entry.object);
    const secrets = new Map([...this.#secrets.entries()].sort(byKey));
    return { routes, secrets, errors: [] };
  }

  observedRoute(key: string): ObservedRoute | undefined {
    return this.#routes.get(key)?.observed;
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
      reader: this.#reader,
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
            replace: (items) => this.#replaceSecrets(namespace, items),
            event: (type, object) => this.#secretEvent(type, object),
          },
          (object) => this.#isReferenced(keyOf(object)),
        );
        this.#secretReflectors.push(reflector);
        reflector.start();
      }
    }
    const all = [...this.#routeReflectors, ...this.#secretReflectors];
    const connected = all.length > 0 && all.every((r) => r.connected);
    if (connected !== this.#connected) {
      this.#connected = connected;
      this.#log.info({ connected }, connected ? 'connected to the apiserver' : 'lost the apiserver');
      this.#observer.connectionChanged?.(connected);
    }
    if (
      !this.#synced &&
      this.#secretReflectors.length === this.#namespaces.length &&
      all.every((r) => r.synced)
    ) {
      this.#synced = true;
      this.#log.info({ routes: this.#routes.size, secrets: this.#secrets.size }, 'cluster state synced');
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
      this.#changed();
    }
  }

  /** Something in the store changed: emit after the debounce (or the max wait). */
  #changed(): void {
    if (!this.#synced || this.#stopped) return;
    const now = Date.now();
    this.#firstChangeAt ??= now;
    clearTimeout(this.#timer);
    const due = Math.min(now + this.#debounceMs, this.#firstChangeAt + this.#maxWaitMs);
    this.#timer = setTimeout(() => this.#emit(), Math.max(0, due - now));
  }

  #emit(): void {
    if (this.#stopped) return;
    // A route that has just started referencing a Secret waits for it (the
    // targeted GET takes milliseconds) rather than flashing SecretNotFound in
    // its status and Events; never longer than the max wait, though.
    const waited = Date.now() - (this.#firstChangeAt ?? Date.now());
    if (this.#fetching.size > 0 && waited < this.#maxWaitMs) {
      this.#timer = setTimeout(() => this.#emit(), 20);
      return;
    }
    this.#firstChangeAt = undefined;
    const snapshot = this.snapshot();
    this.#emitted++;
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

  // -------------------------------------------------------------------------------------------------
  // Routes

  #replaceRoutes(namespace: string | undefined, items: RawObject[]): void {
    const listed = new Set<string>();
    for (const item of items) {
      if (!item?.metadata?.name) continue;
      listed.add(keyOf(item));
      this.#upsertRoute(item);
    }
    for (const [key, entry] of [...this.#routes]) {
      if (inScope(entry.object.metadata.namespace, namespace) && !listed.has(key)) {
        this.#removeRoute(key);
      }
    }
  }

  #upsertRoute(raw: RawObject): void {
    if (!raw?.metadata?.name || !raw.metadata.namespace) return;
    const object = toRoute(raw);
    const key = objectKey(object.metadata);
    const previous = this.#routes.get(key);
    const refs = secretRefs(object);
    const observed: ObservedRoute = {
      namespace: object.metadata.namespace,
      name: object.metadata.name,
      ...(object.metadata.uid && { uid: object.metadata.uid }),
      ...(object.metadata.generation !== undefined && { generation: object.metadata.generation }),
      ...(object.metadata.resourceVersion && { resourceVersion: object.metadata.resourceVersion }),
      ...(raw.status !== undefined && { status: toStatus(raw.status) }),
    };
    this.#routes.set(key, { object, refs, observed });
    this.#updateRefs(previous?.refs ?? [], refs);
    if (!previous || !sameRoute(previous.object, object)) this.#changed();
    if (previous?.observed.resourceVersion !== observed.resourceVersion) this.#notifyStatus(key);
  }

  #deleteRoute(raw: RawObject): void {
    if (raw?.metadata?.name) this.#removeRoute(keyOf(raw));
  }

  #removeRoute(key: string): void {
    const entry = this.#routes.get(key);
    if (!entry) return;
    this.#routes.delete(key);
    this.#updateRefs(entry.refs, []);
    this.#changed();
    this.#notifyStatus(key);
  }

  // -------------------------------------------------------------------------------------------------
  // Secrets

  #isReferenced(key: string): boolean {
    return (this.#refCounts.get(key) ?? 0) > 0;
  }

  #updateRefs(before: string[], after: string[]): void {
    for (const key of after) {
      const count = (this.#refCounts.get(key) ?? 0) + 1;
      this.#refCounts.set(key, count);
      if (count === 1 && !this.#secrets.has(key)) this.#fetch(key);
    }
    for (const key of before) {
      const count = (this.#refCounts.get(key) ?? 0) - 1;
      if (count > 0) {
        this.#refCounts.set(key, count);
        continue;
      }
      this.#refCounts.delete(key);
      this.#cancelFetch(key);
      if (this.#secrets.delete(key)) this.#changed();
    }
  }

  #secretsSynced(namespace: string): boolean {
    const i = this.#namespaces.findIndex((ns) => ns === undefined || ns === namespace);
    return i >= 0 && !!this.#secretReflectors[i]?.synced;
  }

  #replaceSecrets(namespace: string | undefined, items: RawObject[]): void {
    const listed = new Map<string, SecretObject>();
    for (const item of items) {
      if (!item?.metadata?.name) continue;
      const key = keyOf(item);
      if (this.#isReferenced(key)) listed.set(key, toSecret(item));
    }
    let changed = false;
    for (const [key, secret] of listed) {
      this.#cancelFetch(key);
      const previous = this.#secrets.get(key);
      if (!previous || !sameData(previous, secret)) changed = true;
      this.#secrets.set(key, secret);
    }
    for (const key of [...this.#secrets.keys()]) {
      if (inScope(namespaceOf(key), namespace) && !listed.has(key)) {
        this.#secrets.delete(key);
        changed = true;
      }
    }
    if (changed) this.#changed();
    // References added while the list was paged through were dropped by `keep`: fetch them now.
    for (const key of this.#refCounts.keys()) {
      if (inScope(namespaceOf(key), namespace) && !this.#secrets.has(key)) {
        this.#cancelFetch(key);
        this.#fetch(key, true);
      }
    }
  }

  #secretEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: RawObject): void {
    if (!raw?.metadata?.name) return;
    const key = keyOf(raw);
    this.#cancelFetch(key);
    if (type === 'DELETED' || !this.#isReferenced(key)) {
      if (this.#secrets.delete(key)) this.#changed();
      return;
    }
    const secret = toSecret(raw);
    const previous = this.#secrets.get(key);
    this.#secrets.set(key, secret);
    if (!previous || !sameData(previous, secret)) this.#changed();
  }

  /** GETs one referenced Secret that the store lacks, retrying transient failures with backoff. */
  #fetch(key: string, afterList = false): void {
    if (this.#stopped || this.#fetching.has(key) || this.#retries.get(key)?.timer) return;
    const namespace = namespaceOf(key);
    // Before the Secret list is in, the list itself will bring it.
    if (!afterList && !this.#secretsSynced(namespace)) return;
    const token = {};
    this.#fetching.set(key, token);
    const name = key.slice(namespace.length + 1);
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
    this.#reader.get(path, { timeoutMs: this.#options.requestTimeoutMs ?? 30_000 }).then(
      (raw: RawObject) => {
        if (this.#fetching.get(key) !== token) return;
        this.#fetching.delete(key);
        this.#retries.delete(key);
        if (!this.#isReferenced(key)) return;
        this.#secrets.set(key, toSecret(raw));
        this.#log.debug({ secret: key }, 'fetched newly referenced Secret');
        this.#changed();
      },
      (error: unknown) => {
        if (this.#fetching.get(key) !== token) return;
        this.#fetching.delete(key);
        if (statusOf(error) === 404 || statusOf(error) === 403) {
          // Not there (the watch will bring it when it is created), or not ours to read.
          this.#retries.delete(key);
          if (statusOf(error) === 403) {
            this.#log.warn({ secret: key, error: describeError(error) }, 'cannot read Secret');
          }
          return;
        }
        const retry = this.#retries.get(key) ?? { backoff: new Backoff(this.#options.backoff) };
        this.#retries.set(key, retry);
        const wait = retry.backoff.next();
        this.#log.info({ secret: key, error: describeError(error), retryInMs: wait }, 'Secret fetch failed');
        retry.timer = setTimeout(() => {
          retry.timer = undefined;
          if (this.#isReferenced(key) && !this.#secrets.has(key)) this.#fetch(key, true);
          else this.#retries.delete(key);
        }, wait);
      },
    );
  }

  #cancelFetch(key: string): void {
    this.#fetching.delete(key);
    const retry = this.#retries.get(key);
    if (retry) {
      clearTimeout(retry.timer);
      this.#retries.delete(key);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Conversion

const byKey = <T>([a]: [string, T], [b]: [string, T]) => (a < b ? -1 : a > b ? 1 : 0);

const keyOf = (raw: RawObject): string => `${raw.metadata.namespace ?? ''}/${raw.metadata.name}`;

const namespaceOf = (key: string): string => key.slice(0, key.indexOf('/'));

const inScope = (objectNamespace: string, scope: string | undefined) =>
  scope === undefined || objectNamespace === scope;

function toMeta(raw: RawObject): LambdaRouteObject['metadata'] {
  const m = raw.metadata;
  const created = m.creationTimestamp;
  return {
    name: m.name,
    namespace: m.namespace ?? '',
    ...(m.uid && { uid: m.uid }),
    ...(typeof m.generation === 'number' && { generation: m.generation }),
    ...(m.resourceVersion && { resourceVersion: m.resourceVersion }),
    ...(created && { creationTimestamp: created instanceof Date ? created.toISOString() : String(created) }),
  };
}

export function toRoute(raw: RawObject): LambdaRouteObject {
  const metadata = toMeta(raw);
  return {
    apiVersion: raw.apiVersion ?? API_VERSION,
    kind: raw.kind ?? KIND,
    metadata,
    spec: raw.spec,
    origin: `LambdaRoute ${objectKey(metadata)}`,
  };
}

export function toSecret(raw: RawObject): SecretObject {
  const metadata = toMeta(raw);
  const data: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries((raw.data ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string') data[key] = Buffer.from(value, 'base64');
  }
  return { metadata, data, origin: `Secret ${objectKey(metadata)}` };
}

/** Secret keys referenced by a route in its own namespace (references elsewhere are refused by compile). */
export function secretRefs(route: LambdaRouteObject): string[] {
  const auth = (route.spec as { auth?: Record<string, { secretRef?: unknown } | undefined> } | null)?.auth;
  const namespace = route.metadata.namespace;
  const keys = new Set<string>();
  for (const kind of ['apiKey', 'iam']) {
    const ref = auth?.[kind]?.secretRef as { name?: unknown; namespace?: unknown } | undefined;
    if (typeof ref?.name !== 'string' || !ref.name) continue;
    if (ref.namespace !== undefined && ref.namespace !== namespace) continue;
    keys.add(`${namespace}/${ref.name}`);
  }
  return [...keys];
}

function toStatus(raw: unknown): RouteStatus {
  const status: RouteStatus = {};
  if (!raw || typeof raw !== 'object') return status;
  const { observedGeneration, conditions } = raw as { observedGeneration?: unknown; conditions?: unknown };
  if (typeof observedGeneration === 'number') status.observedGeneration = observedGeneration;
  if (Array.isArray(conditions)) {
    status.conditions = conditions
      .filter((c): c is Record<string, unknown> => !!c && typeof c === 'object' && typeof c.type === 'string')
      .map((c) => ({
        type: c.type as string,
        status: c.status === 'True' || c.status === 'False' ? c.status : 'Unknown',
        reason: typeof c.reason === 'string' ? c.reason : '',
        message: typeof c.message === 'string' ? c.message : '',
        ...(typeof c.observedGeneration === 'number' && { observedGeneration: c.observedGeneration }),
        lastTransitionTime: typeof c.lastTransitionTime === 'string' ? c.lastTransitionTime : '',
      })) satisfies MetaCondition[];
  }
  return status;
}

function sameRoute(a: LambdaRouteObject, b: LambdaRouteObject): boolean {
  return (
    a.metadata.uid === b.metadata.uid &&
    a.metadata.generation === b.metadata.generation &&
    a.metadata.creationTimestamp === b.metadata.creationTimestamp &&
    JSON.stringify(a.spec) === JSON.stringify(b.spec)
  );
}

function sameData(a: SecretObject, b: SecretObject): boolean {
  const keys = Object.keys(a.data);
  if (keys.length !== Object.keys(b.data).length) return false;
  return keys.every((key) => {
    const other = b.data[key];
    return other !== undefined && a.data[key]!.equals(other);
  });
}
