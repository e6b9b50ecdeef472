// The cluster source's conversion of apiserver JSON into what compile() and the
// status writer read, and the comparisons that tell a real change from a
// resync or a status-only update.

import { objectKey } from '../api/snapshot.ts';
import {
  API_VERSION,
  IAM_SECRET_KEYS,
  KIND,
  type LambdaRouteObject,
  type SecretObject,
  TLS_SECRET_KEYS,
} from '../api/types.ts';
import type { RawObject } from '../kube/reflector.ts';
import type { MetaCondition, ObservedRoute, RouteStatus } from '../kube/route-status.ts';

/** "namespace/name" of a raw object. */
export const keyOf = (raw: RawObject): string => `${raw.metadata.namespace ?? ''}/${raw.metadata.name}`;

export const namespaceOf = (key: string): string => key.slice(0, key.indexOf('/'));

/** An object of `objectNamespace` belongs to the scope (undefined: all namespaces). */
export const inScope = (objectNamespace: string, scope: string | undefined) =>
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

/**
 * `wanted`: the data keys to keep (default: all); the others are never decoded.
 *
 * The kept values share one buffer of their own, not Node's 8 KB pool: a
 * small Buffer.from() is a slice of the pool's current slab and keeps all of
 * it alive, so Secrets arriving one by one in a watch, between other
 * allocations, held a slab each (10,000 of them: 34 MB).
 */
export function toSecret(raw: RawObject, wanted: (dataKey: string) => boolean = () => true): SecretObject {
  const metadata = toMeta(raw);
  const kept = Object.entries((raw.data ?? {}) as Record<string, unknown>).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string' && wanted(entry[0]),
  );
  const sizes = kept.map(([, value]) => Buffer.byteLength(value, 'base64'));
  const bytes = Buffer.alloc(sizes.reduce((sum, size) => sum + size, 0));
  const data: Record<string, Buffer> = {};
  let offset = 0;
  for (const [i, [key, value]] of kept.entries()) {
    const size = sizes[i]!;
    data[key] = bytes.subarray(offset, offset + bytes.write(value, offset, size, 'base64'));
    offset += size;
  }
  return {
    metadata,
    ...(typeof raw.type === 'string' && { type: raw.type }),
    data,
    origin: `Secret ${objectKey(metadata)}`,
  };
}

/** A route's reference to a Secret: its key ("namespace/name") and the data keys the route reads of it. */
export interface SecretRef {
  secret: string;
  dataKeys: readonly string[];
}

const IAM_KEYS = Object.values(IAM_SECRET_KEYS);
const TLS_KEYS = Object.values(TLS_SECRET_KEYS);

/**
 * The Secrets a route references in its own namespace (references elsewhere
 * are refused by compile), each once: its auth Secrets and its certificateRef,
 * with the data keys each is read for.
 */
export function secretRefs(route: LambdaRouteObject): SecretRef[] {
  type Ref = { name?: unknown; namespace?: unknown; key?: unknown } | undefined;
  const spec = route.spec as {
    auth?: Record<string, { secretRef?: Ref } | undefined>;
    certificateRef?: Ref;
  } | null;
  const apiKey = spec?.auth?.['apiKey']?.secretRef;
  const uses: [Ref, readonly string[]][] = [
    [apiKey, typeof apiKey?.key === 'string' ? [apiKey.key] : []],
    [spec?.auth?.['iam']?.secretRef, IAM_KEYS],
    [spec?.certificateRef, TLS_KEYS],
  ];
  const namespace = route.metadata.namespace;
  const refs = new Map<string, Set<string>>();
  for (const [ref, dataKeys] of uses) {
    if (typeof ref?.name !== 'string' || !ref.name) continue;
    if (ref.namespace !== undefined && ref.namespace !== namespace) continue;
    const secret = `${namespace}/${ref.name}`;
    const keys = refs.get(secret) ?? new Set();
    for (const key of dataKeys) keys.add(key);
    refs.set(secret, keys);
  }
  return [...refs].map(([secret, keys]) => ({ secret, dataKeys: [...keys] }));
}

/** What the status writer needs to know of a route as the apiserver has it. */
export function toObserved(raw: RawObject, route: LambdaRouteObject): ObservedRoute {
  const { metadata } = route;
  return {
    namespace: metadata.namespace,
    name: metadata.name,
    ...(metadata.uid && { uid: metadata.uid }),
    ...(metadata.generation !== undefined && { generation: metadata.generation }),
    ...(metadata.resourceVersion && { resourceVersion: metadata.resourceVersion }),
    ...(raw.status !== undefined && { status: toStatus(raw.status) }),
  };
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

/** Same object and the same spec: what compile() reads did not change. */
export function sameRoute(a: LambdaRouteObject, b: LambdaRouteObject): boolean {
  return (
    a.metadata.uid === b.metadata.uid &&
    a.metadata.generation === b.metadata.generation &&
    a.metadata.creationTimestamp === b.metadata.creationTimestamp &&
    JSON.stringify(a.spec) === JSON.stringify(b.spec)
  );
}

export function sameData(a: SecretObject, b: SecretObject): boolean {
  const keys = Object.keys(a.data);
  if (keys.length !== Object.keys(b.data).length) return false;
  return keys.every((key) => {
    const other = b.data[key];
    return other !== undefined && a.data[key]!.equals(other);
  });
}
