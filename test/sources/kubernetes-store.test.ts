// The cluster source's store, pure: routes, referenced Secrets with reference
// counts, observed status, and what it asks of the source (fetches, snapshots).
import { beforeEach, describe, expect, it } from 'vitest';
import { KubernetesStore } from '../../src/sources/kubernetes-store.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

function route(
  name: string,
  options: {
    ns?: string;
    path?: string;
    secret?: string;
    rv?: string;
    generation?: number;
    status?: object;
  } = {},
) {
  const namespace = options.ns ?? 'ns';
  return {
    apiVersion: 'lambda-ingress.io/v1alpha1',
    kind: 'LambdaRoute',
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      generation: options.generation ?? 1,
      resourceVersion: options.rv ?? '1',
      creationTimestamp: '2025-01-01T00:00:00Z',
    },
    spec: {
      match: { path: options.path ?? `/${name}` },
      target: { url: 'https://upstream.example' },
      ...(options.secret && { auth: { apiKey: { secretRef: { name: options.secret, key: 'apiKey' } } } }),
    },
    ...(options.status && { status: options.status }),
  };
}

const secret = (name: string, value: string, ns = 'ns') => ({
  metadata: { name, namespace: ns, resourceVersion: '1' },
  data: { apiKey: b64(value) },
});

let store: KubernetesStore;
let calls: string[];

beforeEach(() => {
  calls = [];
  store = new KubernetesStore({
    changed: () => calls.push('changed'),
    routeObserved: (key) => calls.push(`observed ${key}`),
    fetchSecret: (key) => calls.push(`fetch ${key}`),
    cancelFetch: (key) => calls.push(`cancel ${key}`),
  });
});

/** The calls since the last look. */
const take = () => calls.splice(0);
const secretValue = (key: string) => store.snapshot().secrets.get(key)?.data['apiKey']?.toString();

describe('KubernetesStore', () => {
  it('asks for a Secret once, when the first route starts referencing it and it is not held', () => {
    store.upsertRoute(route('a', { secret: 'key' }));
    expect(take()).toEqual(['fetch ns/key', 'changed', 'observed ns/a']);
    store.upsertRoute(route('b', { secret: 'key' }));
    expect(take()).toEqual(['changed', 'observed ns/b']); // already asked for
    expect(store.lacks('ns/key')).toBe(true);

    store.secretFetched('ns/key', secret('key', 'v1'));
    expect(take()).toEqual(['changed']);
    expect(secretValue('ns/key')).toBe('v1');
    expect(store.lacks('ns/key')).toBe(false);

    // Held already: a new reference asks for nothing.
    store.upsertRoute(route('c', { secret: 'key' }));
    expect(take()).toEqual(['changed', 'observed ns/c']);
    // References to other namespaces are compile()'s to refuse: never fetched.
    const foreign = route('d');
    Object.assign(foreign.spec, {
      auth: { apiKey: { secretRef: { name: 'k', namespace: 'other', key: 'a' } } },
    });
    store.upsertRoute(foreign);
    expect(take()).toEqual(['changed', 'observed ns/d']);
  });

  it('keeps a Secret while any route references it and drops it with the last reference', () => {
    store.upsertRoute(route('a', { secret: 'key' }));
    store.upsertRoute(route('b', { secret: 'key' }));
    store.secretFetched('ns/key', secret('key', 'v1'));
    take();

    store.deleteRoute(route('a'));
    expect(take()).toEqual(['changed', 'observed ns/a']);
    expect(store.isReferenced('ns/key')).toBe(true);
    expect(secretValue('ns/key')).toBe('v1');

    // The other route stops referencing it (an edit): gone, and any fetch of it is moot.
    store.upsertRoute(route('b', { rv: '2', generation: 2 }));
    expect(take()).toEqual(['cancel ns/key', 'changed', 'changed', 'observed ns/b']);
    expect(store.isReferenced('ns/key')).toBe(false);
    expect(store.snapshot().secrets.size).toBe(0);
    expect(store.secretCount).toBe(0);
  });

  it('keeps a pinned Secret (--default-certificate) with no route referencing it, and after the last one goes', () => {
    const pinned = new KubernetesStore(
      {
        changed: () => calls.push('changed'),
        routeObserved: () => {},
        fetchSecret: (key) => calls.push(`fetch ${key}`),
        cancelFetch: () => {},
      },
      ['ingress/fallback'],
    );
    expect(pinned.lacks('ingress/fallback')).toBe(true);
    pinned.replaceSecrets(undefined, [
      { ...secret('fallback', 'v1', 'ingress'), data: { apiKey: b64('v1'), 'ca.crt': b64('ca') } },
      secret('unrelated', 'x', 'ingress'),
    ]);
    expect([...pinned.snapshot().secrets.keys()]).toEqual(['ingress/fallback']);
    // Kept whole: no route says which of its keys are read.
    expect(Object.keys(pinned.snapshot().secrets.get('ingress/fallback')!.data)).toEqual([
      'apiKey',
      'ca.crt',
    ]);
    pinned.upsertRoute(route('a', { ns: 'ingress', secret: 'fallback' }));
    pinned.deleteRoute(route('a', { ns: 'ingress' }));
    expect(pinned.snapshot().secrets.has('ingress/fallback')).toBe(true);
    take();
    pinned.secretEvent('MODIFIED', secret('fallback', 'v2', 'ingress'));
    expect(take()).toEqual(['changed']);
  });

  it('keeps only referenced Secrets from lists and events, and reports real changes only', () => {
    store.upsertRoute(route('a', { secret: 'key' }));
    take();
    const missing = store.replaceSecrets(undefined, [secret('key', 'v1'), secret('unrelated', 'x')]);
    expect(missing).toEqual([]);
    expect(take()).toEqual(['cancel ns/key', 'changed']);
    expect([...store.snapshot().secrets.keys()]).toEqual(['ns/key']);

    // Unreferenced Secrets come and go without a change.
    store.secretEvent('ADDED', secret('other', 'y'));
    store.secretEvent('DELETED', secret('other', 'y'));
    expect(take()).toEqual(['cancel ns/other', 'cancel ns/other']);
    expect(store.snapshot().secrets.has('ns/other')).toBe(false);

    // The same bytes (a resync, a label edit): no change; new bytes: a change.
    store.secretEvent('MODIFIED', {
      ...secret('key', 'v1'),
      metadata: { name: 'key', namespace: 'ns', resourceVersion: '9' },
    });
    expect(take()).toEqual(['cancel ns/key']);
    store.secretEvent('MODIFIED', secret('key', 'v2'));
    expect(take()).toEqual(['cancel ns/key', 'changed']);
    expect(secretValue('ns/key')).toBe('v2');

    store.secretEvent('DELETED', secret('key', 'v2'));
    expect(take()).toEqual(['cancel ns/key', 'changed']);
    expect(store.lacks('ns/key')).toBe(true);
  });

  it('keeps only the data keys routes read, and fetches a Secret again when a route starts reading a dropped one', () => {
    const creds = (resourceVersion: string, other = 'o1') => ({
      metadata: {
        name: 'creds',
        namespace: 'ns',
        resourceVersion,
        managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:data': {} } }],
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"apiKey":"…"}}' },
      },
      data: {
        apiKey: b64('k1'),
        other: b64(other),
        accessKeyId: b64('AKID'),
        secretAccessKey: b64('s3cret'),
      },
    });
    const readsIam = (name: string) => {
      const raw = route(name);
      Object.assign(raw.spec, { auth: { iam: { secretRef: { name: 'creds' } } } });
      return raw;
    };
    const held = () => store.snapshot().secrets.get('ns/creds')!;
    store.upsertRoute(route('a', { secret: 'creds' })); // reads apiKey only
    store.replaceSecrets(undefined, [creds('1')]);
    take();
    expect(Object.keys(held().data)).toEqual(['apiKey']);
    expect(held().metadata).toEqual({ name: 'creds', namespace: 'ns', resourceVersion: '1' });

    // A key nobody reads changes: nothing compile() reads did.
    store.secretEvent('MODIFIED', creds('2', 'o2'));
    expect(take()).toEqual(['cancel ns/creds']);

    // Route b reads keys that were dropped: the Secret is asked for again, and until
    // it is in, the store lacks it (the source's Snapshot waits), while a keeps its key.
    store.upsertRoute(readsIam('b'));
    expect(take()).toEqual(['fetch ns/creds', 'changed', 'observed ns/b']);
    expect(store.lacks('ns/creds')).toBe(true);
    expect(Object.keys(held().data)).toEqual(['apiKey']);
    store.upsertRoute(readsIam('c')); // asked for already
    expect(take()).toEqual(['changed', 'observed ns/c']);
    store.secretFetched('ns/creds', creds('2', 'o2'));
    expect(take()).toEqual(['changed']);
    expect(store.lacks('ns/creds')).toBe(false);
    expect(Object.keys(held().data)).toEqual(['apiKey', 'accessKeyId', 'secretAccessKey']);
    expect(held().data['accessKeyId']!.toString()).toBe('AKID');

    // Keys nobody reads any more go at the Secret's next conversion; reading them again fetches again.
    store.deleteRoute(readsIam('b'));
    store.deleteRoute(readsIam('c'));
    store.secretEvent('MODIFIED', creds('3', 'o3'));
    expect(Object.keys(held().data)).toEqual(['apiKey']);
    take();
    store.upsertRoute(readsIam('d'));
    expect(take()).toEqual(['fetch ns/creds', 'changed', 'observed ns/d']);
    // A watch event overtaking the fetch brings the keys as well.
    store.secretEvent('MODIFIED', creds('4', 'o3'));
    expect(store.lacks('ns/creds')).toBe(false);
    expect(Object.keys(held().data)).toEqual(['apiKey', 'accessKeyId', 'secretAccessKey']);
  });

  it('returns the referenced Secrets a list lacked, for a targeted fetch', () => {
    store.upsertRoute(route('a', { secret: 'listed' }));
    store.upsertRoute(route('b', { secret: 'late' }));
    store.upsertRoute(route('c', { ns: 'elsewhere', secret: 'late' }));
    take();
    // A namespaced list answers for its own namespace only.
    expect(store.replaceSecrets('ns', [secret('listed', 'v')])).toEqual(['ns/late']);
    expect(take()).toEqual(['cancel ns/listed', 'changed', 'cancel ns/late']);
    // A Secret that vanished from the list is dropped.
    expect(store.replaceSecrets('ns', [])).toEqual(['ns/listed', 'ns/late']);
    expect(take()).toEqual(['changed', 'cancel ns/listed', 'cancel ns/late']);
  });

  it('ignores the answer of a fetch for a Secret nobody references any more', () => {
    store.upsertRoute(route('a', { secret: 'key' }));
    store.deleteRoute(route('a'));
    take();
    store.secretFetched('ns/key', secret('key', 'v1'));
    expect(take()).toEqual([]);
    expect(store.snapshot().secrets.size).toBe(0);
  });

  it('tells status-only changes (our own writes) from changes that compile() reads', () => {
    store.upsertRoute(route('a'));
    take();
    const before = store.snapshot().routes[0];
    const status = {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: 'ok',
          lastTransitionTime: '2025-01-01T00:00:01Z',
        },
        { type: 'Odd', status: 'maybe' },
      ],
    };
    store.upsertRoute(route('a', { rv: '2', status }));
    expect(take()).toEqual(['observed ns/a']);
    // The same object for compile(), which reuses what it made of it.
    expect(store.snapshot().routes[0]).toBe(before);
    expect(store.observedRoute('ns/a')).toEqual({
      namespace: 'ns',
      name: 'a',
      uid: 'uid-a',
      generation: 1,
      resourceVersion: '2',
      status: {
        observedGeneration: 1,
        conditions: [
          status.conditions[0],
          // Fields the CRD would refuse come out in the shape the writer compares.
          { type: 'Odd', status: 'Unknown', reason: '', message: '', lastTransitionTime: '' },
        ],
      },
    });
    // A resync of the same version: nothing at all.
    store.upsertRoute(route('a', { rv: '2', status }));
    expect(take()).toEqual([]);
    // A spec edit: both.
    store.upsertRoute(route('a', { rv: '3', generation: 2, path: '/moved', status }));
    expect(take()).toEqual(['changed', 'observed ns/a']);
    expect(store.snapshot().routes[0]!.spec).toMatchObject({ match: { path: '/moved' } });
    expect(store.snapshot().routes[0]).not.toBe(before);
  });

  it('replaces the routes of one scope with a list, leaving other namespaces alone', () => {
    store.upsertRoute(route('b'));
    store.upsertRoute(route('a'));
    store.upsertRoute(route('x', { ns: 'other' }));
    take();
    store.replaceRoutes('ns', [route('a'), route('c')]);
    expect(take()).toEqual(['changed', 'observed ns/c', 'changed', 'observed ns/b']);
    const keys = store.snapshot().routes.map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
    expect(keys).toEqual(['ns/a', 'ns/c', 'other/x']); // sorted by key
    expect(store.routeCount).toBe(3);
    expect(store.observedRoute('ns/b')).toBeUndefined();
    // Objects without a name or namespace are skipped.
    store.upsertRoute({ metadata: { name: 'nameless-namespace' } });
    store.replaceRoutes(undefined, [route('a'), route('c'), route('x', { ns: 'other' }), { metadata: {} }]);
    expect(take()).toEqual([]);
  });
});
