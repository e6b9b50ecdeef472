// KubernetesSource against a real kube-apiserver: list + watch of LambdaRoutes
// and the Secrets they reference, debounce, outages, 410 Gone and silent watches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterInfo, startApiserver, stopApiserver } from '../../hack/cluster.ts';
import type { Snapshot } from '../../src/api/snapshot.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { KubernetesSource, type KubernetesSourceOptions } from '../../src/sources/kubernetes.ts';
import { secretRefs } from '../../src/sources/kubernetes-convert.ts';
import {
  Admin,
  adminClient,
  adminKubeConfig,
  CaptureLog,
  clusterDir,
  compactEtcd,
  down,
  eventually,
  quiet,
  routeSpec,
  sleep,
  TcpProxy,
  upWithCrd,
} from './controller-support.ts';

const dir = clusterDir('controller-source-test');
let cluster: ClusterInfo;
let admin: Admin;
const logs: CaptureLog[] = [];
const sources: KubernetesSource[] = [];

/** Secret values used below: they must never show up in a log line. */
const SECRET_VALUES = ['key-one-7f3a', 'key-two-9b1c', 'AKIDLATER', 'wJalrLATER/K7MDENG', 'other-ns-secret'];

interface Harness {
  source: KubernetesSource;
  snapshots: Snapshot[];
  restarts: { resource: string; namespace?: string; reason: string }[];
  lists: { resource: string; namespace?: string; items: number }[];
  log: CaptureLog;
  last(): Snapshot;
}

function startSource(client: KubeClient, options: Partial<KubernetesSourceOptions> = {}): Harness {
  const log = new CaptureLog();
  logs.push(log);
  const snapshots: Snapshot[] = [];
  const restarts: Harness['restarts'] = [];
  const lists: Harness['lists'] = [];
  const source = new KubernetesSource({
    reader: client,
    log,
    debounceMs: 50,
    maxWaitMs: 500,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 100, maxMs: 1000 },
    observer: {
      listed: (i) => lists.push(i),
      watchRestarted: (i) => restarts.push(i),
    },
    onSnapshot: (s) => snapshots.push(s),
    ...options,
  });
  sources.push(source);
  source.start();
  return {
    source,
    snapshots,
    restarts,
    lists,
    log,
    last() {
      const snapshot = snapshots.at(-1);
      if (!snapshot) throw new Error('no snapshot yet');
      return snapshot;
    },
  };
}

const names = (s: Snapshot) => s.routes.map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
const paths = (s: Snapshot) =>
  Object.fromEntries(
    s.routes.map((r) => [r.metadata.name, (r.spec as { match: { path: string } }).match.path]),
  );

describe('KubernetesSource (real kube-apiserver)', () => {
  beforeAll(async () => {
    cluster = await upWithCrd(dir);
    admin = new Admin(adminKubeConfig(cluster));
  }, 900_000);

  afterAll(async () => {
    await Promise.all(sources.map((s) => s.stop()));
    for (const log of logs) {
      for (const value of SECRET_VALUES) {
        expect(log.text()).not.toContain(value);
        expect(log.text()).not.toContain(Buffer.from(value).toString('base64'));
      }
    }
    await down(dir);
  }, 60_000);

  it('lists routes and only the referenced Secrets, then follows adds, edits and deletes', async () => {
    const ns = 'follow';
    await admin.namespace(ns);
    await admin.createRoute(ns, 'plain', routeSpec('/plain'));
    await admin.createRoute(
      ns,
      'keyed',
      routeSpec('/keyed', { apiKey: { secretRef: { name: 'keyed-key', key: 'apiKey' } } }),
    );
    await admin.putSecret(ns, 'keyed-key', { apiKey: 'key-one-7f3a' });
    await admin.putSecret(ns, 'unrelated', { apiKey: 'not-referenced' });

    const h = startSource(await adminClient(cluster));
    expect(h.source.synced).toBe(false);
    await h.source.waitForSync(AbortSignal.timeout(10_000));
    expect(h.source.synced).toBe(true);
    expect(h.source.connected).toBe(true);
    expect(h.source.lastSyncTime).toBeInstanceOf(Date);
    await eventually(() => expect(h.snapshots.length).toBe(1));

    const first = h.last();
    expect(names(first)).toEqual([`${ns}/keyed`, `${ns}/plain`]);
    const keyed = first.routes[0]!;
    expect(keyed.apiVersion).toBe('lambda-ingress.io/v1alpha1');
    expect(keyed.kind).toBe('LambdaRoute');
    expect(keyed.origin).toBe(`LambdaRoute ${ns}/keyed`);
    expect(keyed.metadata.generation).toBe(1);
    expect(keyed.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(keyed.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(keyed.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(secretRefs(keyed)).toEqual([{ secret: `${ns}/keyed-key`, dataKeys: ['apiKey'] }]);
    // Only the referenced Secret is kept, decoded to bytes.
    expect([...first.secrets.keys()]).toEqual([`${ns}/keyed-key`]);
    const secret = first.secrets.get(`${ns}/keyed-key`)!;
    expect(Buffer.isBuffer(secret.data['apiKey'])).toBe(true);
    expect(secret.data['apiKey']!.toString()).toBe('key-one-7f3a');
    expect(secret.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);

    // Edit: a new generation and path.
    await admin.updateRoute(ns, 'plain', routeSpec('/plain-v2'));
    await eventually(() => expect(paths(h.last())['plain']).toBe('/plain-v2'));
    expect(h.last().routes.find((r) => r.metadata.name === 'plain')!.metadata.generation).toBe(2);

    // A referenced Secret changes: the new bytes arrive.
    await admin.putSecret(ns, 'keyed-key', { apiKey: 'key-two-9b1c' });
    await eventually(() =>
      expect(h.last().secrets.get(`${ns}/keyed-key`)!.data['apiKey']!.toString()).toBe('key-two-9b1c'),
    );

    // Unreferenced Secrets come and go without a new Snapshot.
    const before = h.snapshots.length;
    await admin.putSecret(ns, 'unrelated', { apiKey: 'still-not-referenced' });
    await admin.putSecret(ns, 'another', { x: 'y' });
    await sleep(400);
    expect(h.snapshots.length).toBe(before);
    expect(h.source.snapshot().secrets.size).toBe(1);

    // Status-only updates do not produce a Snapshot either, but are observed.
    const route = await admin.getRoute(ns, 'plain');
    await admin.custom.replaceNamespacedCustomObjectStatus({
      group: 'lambda-ingress.io',
      version: 'v1alpha1',
      plural: 'lambdaroutes',
      namespace: ns,
      name: 'plain',
      body: { ...route, status: { observedGeneration: 2 } },
    });
    await eventually(() =>
      expect(h.source.observedRoute(`${ns}/plain`)?.status).toEqual({ observedGeneration: 2 }),
    );
    await sleep(200);
    expect(h.snapshots.length).toBe(before);

    // Deletes.
    await admin.deleteSecret(ns, 'keyed-key');
    await eventually(() => expect(h.last().secrets.size).toBe(0));
    await admin.deleteRoute(ns, 'plain');
    await eventually(() => expect(names(h.last())).toEqual([`${ns}/keyed`]));
    expect(h.source.observedRoute(`${ns}/plain`)).toBeUndefined();
  });

  it('fetches a Secret as soon as a route starts referencing it, and forgets it when no route does', async () => {
    const ns = 'refs';
    await admin.namespace(ns);
    await admin.namespace('elsewhere');
    await admin.putSecret(ns, 'aws-later', {
      accessKeyId: 'AKIDLATER',
      secretAccessKey: 'wJalrLATER/K7MDENG',
    });
    await admin.putSecret('elsewhere', 'foreign', { apiKey: 'other-ns-secret' });
    await admin.createRoute(ns, 'signed', routeSpec('/signed'));

    const h = startSource(await adminClient(cluster), { namespaces: [ns, 'elsewhere'] });
    await h.source.waitForSync(AbortSignal.timeout(10_000));
    await eventually(() => expect(h.snapshots.length).toBe(1));
    expect(h.last().secrets.size).toBe(0); // listed, then dropped: nobody referenced it
    const listsBefore = h.lists.length;

    // The route now references the Secret that was dropped: it is fetched, not waited for.
    await admin.updateRoute(
      ns,
      'signed',
      routeSpec('/signed', { iam: { secretRef: { name: 'aws-later' } } }),
    );
    await eventually(() => expect([...h.last().secrets.keys()]).toEqual([`${ns}/aws-later`]), 3000);
    expect(h.last().secrets.get(`${ns}/aws-later`)!.data['accessKeyId']!.toString()).toBe('AKIDLATER');
    expect(h.lists.length).toBe(listsBefore); // no relist: a targeted GET

    // A reference into another namespace is refused by compile: never fetched.
    await admin.createRoute(
      ns,
      'foreign-ref',
      routeSpec('/foreign', {
        apiKey: { secretRef: { name: 'foreign', namespace: 'elsewhere', key: 'apiKey' } },
      }),
    );
    await eventually(() => expect(names(h.last())).toContain(`${ns}/foreign-ref`));
    await sleep(300);
    expect([...h.last().secrets.keys()]).toEqual([`${ns}/aws-later`]);

    // No longer referenced: dropped from memory.
    await admin.updateRoute(ns, 'signed', routeSpec('/signed'));
    await eventually(() => expect(h.last().secrets.size).toBe(0));

    // Referencing a Secret that does not exist yet: it arrives with its creation.
    await admin.updateRoute(ns, 'signed', routeSpec('/signed', { iam: { secretRef: { name: 'aws-new' } } }));
    await sleep(300);
    expect(h.last().secrets.size).toBe(0);
    await admin.putSecret(ns, 'aws-new', { accessKeyId: 'AKIDLATER', secretAccessKey: 'wJalrLATER/K7MDENG' });
    await eventually(() => expect([...h.last().secrets.keys()]).toEqual([`${ns}/aws-new`]));
  });

  it('watches only the given namespaces', async () => {
    await admin.namespace('ns-in');
    await admin.namespace('ns-out');
    await admin.createRoute('ns-in', 'a', routeSpec('/a'));
    await admin.createRoute('ns-out', 'b', routeSpec('/b'));
    const h = startSource(await adminClient(cluster), { namespaces: ['ns-in'] });
    await h.source.waitForSync(AbortSignal.timeout(10_000));
    await admin.createRoute('ns-out', 'c', routeSpec('/c'));
    await admin.createRoute('ns-in', 'd', routeSpec('/d'));
    await eventually(() => expect(names(h.last())).toEqual(['ns-in/a', 'ns-in/d']));
    expect(h.lists.map((l) => `${l.resource}:${l.namespace}`).sort()).toEqual([
      'lambdaroutes:ns-in',
      'secrets:ns-in',
    ]);
  });

  it('coalesces a burst of 50 creations into a few snapshots', async () => {
    const ns = 'burst';
    await admin.namespace(ns);
    const h = startSource(await adminClient(cluster), { namespaces: [ns], debounceMs: 100, maxWaitMs: 2000 });
    await h.source.waitForSync(AbortSignal.timeout(10_000));
    await eventually(() => expect(h.snapshots.length).toBe(1));
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => admin.createRoute(ns, `r${i}`, routeSpec(`/r${i}`))),
    );
    const applyMs = Date.now() - t0;
    await eventually(() => expect(h.last().routes.length).toBe(50));
    await sleep(300);
    const emissions = h.snapshots.length - 1;
    // 50 watch events; without debouncing that would be up to 50 snapshots.
    expect(emissions).toBeGreaterThanOrEqual(1);
    expect(emissions).toBeLessThanOrEqual(Math.max(3, Math.ceil(applyMs / 2000) + 2));
    expect(new Set(names(h.last())).size).toBe(50);
  });

  it('still emits during a steady stream of changes (max wait)', async () => {
    const ns = 'stream';
    await admin.namespace(ns);
    const h = startSource(await adminClient(cluster), { namespaces: [ns], debounceMs: 300, maxWaitMs: 600 });
    await h.source.waitForSync(AbortSignal.timeout(10_000));
    await eventually(() => expect(h.snapshots.length).toBe(1));
    // One change every ~100 ms for 2.5 s: the quiet time of 300 ms never comes.
    const t0 = Date.now();
    let i = 0;
    while (Date.now() - t0 < 2500) {
      await admin.createRoute(ns, `s${i}`, routeSpec(`/s${i}`));
      i++;
      await sleep(100);
    }
    const duringStream = h.snapshots.length - 1;
    expect(duringStream).toBeGreaterThanOrEqual(3); // ~ every 600 ms
    expect(duringStream).toBeLessThanOrEqual(6);
    await eventually(() => expect(h.last().routes.length).toBe(i));
  });

  it('keeps the last snapshot through apiserver outages and catches up after each restart', async () => {
    const ns = 'outage';
    await admin.namespace(ns);
    await admin.createRoute(ns, 'survivor', routeSpec('/survivor'));
    const h = startSource(await adminClient(cluster), { namespaces: [ns] });
    await h.source.waitForSync(AbortSignal.timeout(10_000));
    await eventually(() => expect(names(h.last())).toEqual([`${ns}/survivor`]));

    for (const graceful of [true, false]) {
      const emitted = h.snapshots.length;
      const restarts = h.restarts.length;
      await stopApiserver({ dir, log: quiet, graceful });
      await eventually(() => expect(h.source.connected).toBe(false), 5000);
      await sleep(1500); // a few failed reconnections
      expect(h.source.synced).toBe(true);
      expect(h.snapshots.length).toBe(emitted); // nothing emitted, nothing dropped
      expect(names(h.source.snapshot())).toEqual(names(h.last()));
      expect(h.restarts.length).toBeGreaterThan(restarts);

      await startApiserver({ dir, log: quiet });
      const name = graceful ? 'after-graceful-restart' : 'after-crash';
      await admin.createRoute(ns, name, routeSpec(`/${name}`));
      await eventually(() => expect(names(h.last())).toContain(`${ns}/${name}`), 15_000);
      await eventually(() => expect(h.source.connected).toBe(true));
      expect(names(h.last())).toContain(`${ns}/survivor`);
    }
  }, 90_000);

  it('relists after 410 Gone and sees what changed while it was cut off', async () => {
    const ns = 'gone';
    await admin.namespace(ns);
    await admin.createRoute(ns, 'x1', routeSpec('/x1'));
    await admin.createRoute(ns, 'x2', routeSpec('/x2'));
    const proxy = await TcpProxy.start(cluster.server);
    try {
      const h = startSource(await adminClient(cluster, proxy.url), { namespaces: [ns] });
      await h.source.waitForSync(AbortSignal.timeout(10_000));
      await eventually(() => expect(names(h.last())).toEqual([`${ns}/x1`, `${ns}/x2`]));
      const routeLists = () => h.lists.filter((l) => l.resource === 'lambdaroutes').length;
      expect(routeLists()).toBe(1);

      proxy.block();
      await eventually(() => expect(h.source.connected).toBe(false), 5000);
      // While the source is cut off: a delete (its watch event will never be seen), a create, and
      // enough history loss that its resourceVersion expires: etcd compacted, watch cache restarted.
      await admin.deleteRoute(ns, 'x1');
      await admin.createRoute(ns, 'x3', routeSpec('/x3'));
      await compactEtcd(cluster.etcdEndpoint);
      await stopApiserver({ dir, log: quiet });
      await startApiserver({ dir, log: quiet });
      expect(names(h.last())).toEqual([`${ns}/x1`, `${ns}/x2`]); // still the last good state

      proxy.pass();
      await eventually(() => expect(names(h.last())).toEqual([`${ns}/x2`, `${ns}/x3`]), 15_000);
      expect(h.restarts).toContainEqual({ resource: 'lambdaroutes', namespace: ns, reason: 'gone' });
      expect(routeLists()).toBe(2);
    } finally {
      await proxy.close();
    }
  }, 90_000);

  it('re-establishes a watch that went silent (no event, no bookmark)', async () => {
    const ns = 'silent';
    await admin.namespace(ns);
    await admin.createRoute(ns, 's0', routeSpec('/s0'));
    const proxy = await TcpProxy.start(cluster.server);
    try {
      const h = startSource(await adminClient(cluster, proxy.url), {
        namespaces: [ns],
        silentWatchMs: 1500,
        requestTimeoutMs: 1000,
      });
      await h.source.waitForSync(AbortSignal.timeout(10_000));
      // A change seen through the watch proves it is open before the network hangs.
      await admin.createRoute(ns, 's0b', routeSpec('/s0b'));
      await eventually(() => expect(names(h.last())).toEqual([`${ns}/s0`, `${ns}/s0b`]));

      proxy.freeze(); // connections stay open, nothing flows: a half-dead network path
      await admin.createRoute(ns, 's1', routeSpec('/s1'));
      await eventually(
        () =>
          expect(h.restarts).toContainEqual({ resource: 'lambdaroutes', namespace: ns, reason: 'silent' }),
        5000,
      );
      expect(names(h.last())).toEqual([`${ns}/s0`, `${ns}/s0b`]);
      await eventually(() => expect(h.source.connected).toBe(false), 5000);

      proxy.pass();
      await eventually(() => expect(names(h.last())).toEqual([`${ns}/s0`, `${ns}/s0b`, `${ns}/s1`]), 10_000);
      expect(h.source.connected).toBe(true);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
