// What the cluster source knows: the LambdaRoutes, the Secrets they reference
// (and only those, counted by reference, plus the pinned ones the command line
// names), and each route's observed status.
// Pure: it is fed lists and watch events and says what follows through
// StoreEvents; the timers and requests are the source's.
//
// - A Secret nobody references is not kept: a list or event for it is dropped,
//   and a Secret whose last reference goes is forgotten. Of a referenced
//   Secret only the data keys some route reads are kept (all of a pinned one);
//   a route that starts reading another key of a Secret held without it asks
//   for the Secret again (fetchSecret), and until it is in, lacks() says so.
// - A route that starts referencing a Secret the store lacks asks for it
//   (fetchSecret); a list or watch event for that Secret, or the reference going
//   away, makes any fetch in flight moot (cancelFetch): the watch is newer.
// - A change of what compile() reads is `changed`; a route whose observed state
//   changed (its status, written by us, included) is `routeObserved`, and only
//   that, when nothing else of it changed.

import { objectKey, type Snapshot } from '../api/snapshot.ts';
import type { LambdaRouteObject, SecretObject } from '../api/types.ts';
import type { RawObject } from '../kube/reflector.ts';
import type { ObservedRoute } from '../kube/route-status.ts';
import {
  inScope,
  keyOf,
  namespaceOf,
  type SecretRef,
  sameData,
  sameRoute,
  secretRefs,
  toObserved,
  toRoute,
  toSecret,
} from './kubernetes-convert.ts';

export interface StoreEvents {
  /** What compile() reads changed (a route, or the data of a referenced Secret). */
  changed(): void;
  /** A route's observed state changed, or it was deleted. */
  routeObserved(key: string): void;
  /** A Secret became referenced and the store lacks it. */
  fetchSecret(key: string): void;
  /** A fetch of this Secret, if any, is moot: a list or an event brought it, or nobody references it. */
  cancelFetch(key: string): void;
}

interface RouteEntry {
  object: LambdaRouteObject;
  /** The Secrets this route references in its own namespace. */
  refs: SecretRef[];
  observed: ObservedRoute;
}

const byKey = <T>([a]: [string, T], [b]: [string, T]) => (a < b ? -1 : a > b ? 1 : 0);

export class KubernetesStore {
  readonly #events: StoreEvents;
  readonly #routes = new Map<string, RouteEntry>();
  readonly #secrets = new Map<string, SecretObject>();
  /** How many routes reference each Secret key. */
  readonly #refCounts = new Map<string, number>();
  /** Per referenced Secret, how many routes read each of its data keys. */
  readonly #dataKeyCounts = new Map<string, Map<string, number>>();
  /** Secrets kept whole: the pinned ones. */
  readonly #whole: ReadonlySet<string>;
  /** Held Secrets that a route now reads a data key of that they were kept without: to be fetched again. */
  readonly #stale = new Set<string>();

  /** `pinned`: Secret keys kept, whole, whether or not a route references them (--default-certificate). */
  constructor(events: StoreEvents, pinned: readonly string[] = []) {
    this.#events = events;
    this.#whole = new Set(pinned);
    for (const key of pinned) this.#refCounts.set(key, 1);
  }

  get routeCount(): number {
    return this.#routes.size;
  }

  get secretCount(): number {
    return this.#secrets.size;
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

  isReferenced(key: string): boolean {
    return (this.#refCounts.get(key) ?? 0) > 0;
  }

  /** Referenced, and not in the store (or held without a data key a route now reads): worth fetching. */
  lacks(key: string): boolean {
    return this.isReferenced(key) && (!this.#secrets.has(key) || this.#stale.has(key));
  }

  // -------------------------------------------------------------------------------------------------
  // Routes

  /** A full list of one scope (undefined: all namespaces): routes of the scope not in it are gone. */
  replaceRoutes(namespace: string | undefined, items: RawObject[]): void {
    const listed = new Set<string>();
    for (const item of items) {
      if (!item?.metadata?.name) continue;
      listed.add(keyOf(item));
      this.upsertRoute(item);
    }
    for (const [key, entry] of [...this.#routes]) {
      if (inScope(entry.object.metadata.namespace, namespace) && !listed.has(key)) {
        this.#removeRoute(key);
      }
    }
  }

  upsertRoute(raw: RawObject): void {
    if (!raw?.metadata?.name || !raw.metadata.namespace) return;
    const converted = toRoute(raw);
    const key = objectKey(converted.metadata);
    const previous = this.#routes.get(key);
    const unchanged = previous !== undefined && sameRoute(previous.object, converted);
    // What compile() reads is the same: the same object, so that what compile made of it is reused.
    const object = unchanged ? previous.object : converted;
    const refs = secretRefs(object);
    const observed = toObserved(raw, converted);
    this.#routes.set(key, { object, refs, observed });
    this.#updateRefs(previous?.refs ?? [], refs);
    if (!unchanged) this.#events.changed();
    if (previous?.observed.resourceVersion !== observed.resourceVersion) this.#events.routeObserved(key);
  }

  deleteRoute(raw: RawObject): void {
    if (raw?.metadata?.name) this.#removeRoute(keyOf(raw));
  }

  #removeRoute(key: string): void {
    const entry = this.#routes.get(key);
    if (!entry) return;
    this.#routes.delete(key);
    this.#updateRefs(entry.refs, []);
    this.#events.changed();
    this.#events.routeObserved(key);
  }

  // -------------------------------------------------------------------------------------------------
  // Secrets

  #updateRefs(before: SecretRef[], after: SecretRef[]): void {
    for (const { secret: key, dataKeys } of after) {
      const count = (this.#refCounts.get(key) ?? 0) + 1;
      this.#refCounts.set(key, count);
      const held = this.#secrets.get(key);
      const counts = this.#dataKeyCounts.get(key) ?? new Map<string, number>();
      this.#dataKeyCounts.set(key, counts);
      let dropped = false;
      for (const dataKey of dataKeys) {
        const readers = (counts.get(dataKey) ?? 0) + 1;
        counts.set(dataKey, readers);
        // Newly read, and not held: it may be one the conversion dropped.
        if (readers === 1 && held && !this.#whole.has(key) && !Object.hasOwn(held.data, dataKey))
          dropped = true;
      }
      if (!held) {
        if (count === 1) this.#events.fetchSecret(key);
      } else if (dropped && !this.#stale.has(key)) {
        this.#stale.add(key);
        this.#events.fetchSecret(key);
      }
    }
    for (const { secret: key, dataKeys } of before) {
      // A data key nobody reads any more is dropped at the Secret's next conversion.
      const counts = this.#dataKeyCounts.get(key);
      for (const dataKey of dataKeys) {
        const readers = (counts?.get(dataKey) ?? 0) - 1;
        if (readers > 0) counts?.set(dataKey, readers);
        else counts?.delete(dataKey);
      }
      const count = (this.#refCounts.get(key) ?? 0) - 1;
      if (count > 0) {
        this.#refCounts.set(key, count);
        continue;
      }
      this.#refCounts.delete(key);
      this.#dataKeyCounts.delete(key);
      this.#stale.delete(key);
      this.#events.cancelFetch(key);
      if (this.#secrets.delete(key)) this.#events.changed();
    }
  }

  /** The Secret as kept: only the data keys routes read (all of a pinned one). */
  #convert(key: string, raw: RawObject): SecretObject {
    this.#stale.delete(key);
    if (this.#whole.has(key)) return toSecret(raw);
    const counts = this.#dataKeyCounts.get(key);
    return toSecret(raw, (dataKey) => counts?.has(dataKey) === true);
  }

  /**
   * A full Secret list of one scope. Returns the referenced keys of the scope
   * that it lacks: references added while the list was paged through (the list
   * dropped them as unreferenced), to be fetched now.
   */
  replaceSecrets(namespace: string | undefined, items: RawObject[]): string[] {
    const listed = new Map<string, SecretObject>();
    for (const item of items) {
      if (!item?.metadata?.name) continue;
      const key = keyOf(item);
      if (this.isReferenced(key)) listed.set(key, this.#convert(key, item));
    }
    let changed = false;
    for (const [key, secret] of listed) {
      this.#events.cancelFetch(key);
      const previous = this.#secrets.get(key);
      if (!previous || !sameData(previous, secret)) changed = true;
      this.#secrets.set(key, secret);
    }
    for (const key of [...this.#secrets.keys()]) {
      if (inScope(namespaceOf(key), namespace) && !listed.has(key)) {
        this.#secrets.delete(key);
        this.#stale.delete(key);
        changed = true;
      }
    }
    if (changed) this.#events.changed();
    const missing: string[] = [];
    for (const key of this.#refCounts.keys()) {
      if (inScope(namespaceOf(key), namespace) && !this.#secrets.has(key)) {
        this.#events.cancelFetch(key);
        missing.push(key);
      }
    }
    return missing;
  }

  secretEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: RawObject): void {
    if (!raw?.metadata?.name) return;
    const key = keyOf(raw);
    this.#events.cancelFetch(key);
    if (type === 'DELETED' || !this.isReferenced(key)) {
      this.#stale.delete(key);
      if (this.#secrets.delete(key)) this.#events.changed();
      return;
    }
    const secret = this.#convert(key, raw);
    const previous = this.#secrets.get(key);
    this.#secrets.set(key, secret);
    if (!previous || !sameData(previous, secret)) this.#events.changed();
  }

  /** The answer of a targeted GET (that no list or event overtook). */
  secretFetched(key: string, raw: RawObject): void {
    if (!this.isReferenced(key)) return;
    this.#secrets.set(key, this.#convert(key, raw));
    this.#events.changed();
  }
}
