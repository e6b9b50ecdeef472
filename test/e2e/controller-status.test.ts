// StatusWriter against a real kube-apiserver: conditions through the status
// subresource, writes only on change, Events once per new failure, and Lease
// leader election between replicas.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { TLSSocket } from 'node:tls';
import { CoordinationV1Api, CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterInfo } from '../../hack/cluster.ts';
import { compile } from '../../src/compile/compile.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import type { MetaCondition, ObservedRoute, RouteStatusView } from '../../src/kube/route-status.ts';
import type { RouteDiagnostic } from '../../src/model/compile-result.ts';
import { KubernetesSource } from '../../src/sources/kubernetes.ts';
import { StatusWriter, type StatusWriterOptions } from '../../src/status/writer.ts';
import {
  Admin,
  adminClient,
  adminKubeConfig,
  CaptureLog,
  clusterDir,
  down,
  eventually,
  kubectl,
  routeSpec,
  sleep,
  TcpProxy,
  upWithCrd,
} from './controller-support.ts';

const dir = clusterDir('controller-status-test');
const LEASE_NS = 'lambda-ingress';
let cluster: ClusterInfo;
let admin: Admin;
const stoppers: (() => Promise<void>)[] = [];

interface Controller {
  source: KubernetesSource;
  writer: StatusWriter;
  failures: number[];
  log: CaptureLog;
  stop(): Promise<void>;
}

/** A source wired to a status writer through compile(), as the controller command does. */
function startController(
  client: KubeClient,
  options: { namespaces: string[] } & Partial<Omit<StatusWriterOptions, 'routes'>>,
): Controller {
  const log = new CaptureLog();
  const failures: number[] = [];
  let version = 0;
  const { namespaces, ...writerOptions } = options;
  const source: KubernetesSource = new KubernetesSource({
    reader: client,
    namespaces,
    log,
    debounceMs: 50,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 100, maxMs: 1000 },
    onSnapshot: (snapshot) => writer.update(compile(snapshot, ++version).diagnostics),
  });
  const writer: StatusWriter = new StatusWriter({
    client,
    namespace: LEASE_NS,
    routes: source,
    leaseDurationMs: 2000,
    renewDeadlineMs: 1500,
    retryPeriodMs: 200,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 100, maxMs: 1000 },
    log,
    observer: {
      failed: (_, code) => failures.push(code),
    },
    ...writerOptions,
  });
  writer.start();
  source.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await writer.stop();
    await source.stop();
  };
  stoppers.push(stop);
  return { source, writer, failures, log, stop };
}

const conditionOf = (route: { status?: { conditions?: MetaCondition[] } }, type: string) =>
  route.status?.conditions?.find((c) => c.type === type);

async function routeEvents(namespace: string, name: string) {
  const list = await admin.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  return list.items
    .filter((e) => e.regarding?.name === name && e.regarding.kind === 'LambdaRoute')
    .map((e) => ({ type: e.type, reason: e.reason, note: e.note, controller: e.reportingController }));
}

describe('StatusWriter (real kube-apiserver)', () => {
  beforeAll(async () => {
    cluster = await upWithCrd(dir);
    admin = new Admin(adminKubeConfig(cluster));
    await admin.namespace(LEASE_NS);
  }, 900_000);

  afterAll(async () => {
    await Promise.all(stoppers.map((stop) => stop()));
    await down(dir);
  }, 60_000);

  it('writes conditions with observedGeneration, only when they change', async () => {
    const ns = 'st';
    await admin.namespace(ns);
    await admin.createRoute(ns, 'ok', routeSpec('/ok'));
    await admin.createRoute(
      ns,
      'needs-key',
      routeSpec('/needs-key', { apiKey: { secretRef: { name: 'api-key', key: 'apiKey' } } }),
    );
    const c = startController(await adminClient(cluster), { namespaces: [ns], leaseName: 'st-lease' });

    const ok = await eventually(async () => {
      const route = await admin.getRoute(ns, 'ok');
      expect(route.status?.observedGeneration).toBe(1);
      return route;
    });
    expect(
      ok.status.conditions.map((x: MetaCondition) => [x.type, x.status, x.reason, x.observedGeneration]),
    ).toEqual([
      ['Accepted', 'True', 'Accepted', 1],
      ['ResolvedRefs', 'True', 'ResolvedRefs', 1],
      ['Ready', 'True', 'Ready', 1],
    ]);
    for (const x of ok.status.conditions)
      expect(x.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const broken = await eventually(async () => {
      const route = await admin.getRoute(ns, 'needs-key');
      expect(conditionOf(route, 'Ready')?.reason).toBe('SecretNotFound');
      return route;
    });
    expect(conditionOf(broken, 'Ready')?.status).toBe('False');
    expect(conditionOf(broken, 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'SecretNotFound' });
    expect(conditionOf(broken, 'Accepted')).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(conditionOf(broken, 'Ready')?.message).toContain(`Secret ${ns}/api-key not found`);
    expect(c.writer.isLeader).toBe(true);
    await eventually(() => expect(c.writer.writes).toBe(2));

    // Recompiles with nothing new: no write, the objects keep their resourceVersion.
    const rvOk = ok.metadata.resourceVersion;
    const rvBroken = broken.metadata.resourceVersion;
    await sleep(300); // let the watch deliver our own writes back to the cache
    for (let i = 0; i < 5; i++) c.writer.update(compile(c.source.snapshot(), 100 + i).diagnostics);
    await admin.createRoute(ns, 'third', routeSpec('/third'));
    await eventually(async () =>
      expect((await admin.getRoute(ns, 'third')).status?.observedGeneration).toBe(1),
    );
    await sleep(500);
    expect(c.writer.writes).toBe(3); // only the new route
    expect((await admin.getRoute(ns, 'ok')).metadata.resourceVersion).toBe(rvOk);
    expect((await admin.getRoute(ns, 'needs-key')).metadata.resourceVersion).toBe(rvBroken);

    // A spec change: new observedGeneration; Ready stayed True, so its lastTransitionTime stays.
    await sleep(1100); // timestamps have whole seconds
    await admin.updateRoute(ns, 'ok', routeSpec('/ok-v2'));
    const ok2 = await eventually(async () => {
      const route = await admin.getRoute(ns, 'ok');
      expect(route.status?.observedGeneration).toBe(2);
      return route;
    });
    expect(ok2.status.conditions.map((x: MetaCondition) => x.observedGeneration)).toEqual([2, 2, 2]);
    expect(conditionOf(ok2, 'Ready')?.lastTransitionTime).toBe(conditionOf(ok, 'Ready')?.lastTransitionTime);

    // The Secret appears: Ready flips (new lastTransitionTime), Accepted did not (same one).
    await admin.putSecret(ns, 'api-key', { apiKey: 'k-123' });
    const fixed = await eventually(async () => {
      const route = await admin.getRoute(ns, 'needs-key');
      expect(conditionOf(route, 'Ready')?.status).toBe('True');
      return route;
    });
    expect(conditionOf(fixed, 'ResolvedRefs')?.status).toBe('True');
    expect(conditionOf(fixed, 'Ready')?.lastTransitionTime).not.toBe(
      conditionOf(broken, 'Ready')?.lastTransitionTime,
    );
    expect(conditionOf(fixed, 'Accepted')?.lastTransitionTime).toBe(
      conditionOf(broken, 'Accepted')?.lastTransitionTime,
    );
    expect(c.failures).toEqual([]);
    await c.stop();
  });

  it('creates one Warning Event per new failure, not one per compile', async () => {
    const ns = 'ev';
    await admin.namespace(ns);
    await admin.createRoute(
      ns,
      'r',
      routeSpec('/r', { apiKey: { secretRef: { name: 'r-key', key: 'apiKey' } } }),
    );
    const c = startController(await adminClient(cluster), { namespaces: [ns], leaseName: 'ev-lease' });

    await eventually(async () => expect(await routeEvents(ns, 'r')).toHaveLength(1));
    const [first] = await routeEvents(ns, 'r');
    expect(first).toEqual({
      type: 'Warning',
      reason: 'SecretNotFound',
      note: `spec.auth.apiKey.secretRef: Secret ${ns}/r-key not found`,
      controller: 'lambda-ingress.io/controller',
    });

    // Unrelated changes and repeated compiles: the failure is not new, no Event.
    await admin.createRoute(ns, 'other', routeSpec('/other'));
    for (let i = 0; i < 3; i++) c.writer.update(compile(c.source.snapshot(), 200 + i).diagnostics);
    await sleep(800);
    expect(await routeEvents(ns, 'r')).toHaveLength(1);
    // A spec edit rewrites the status (new generation) but the failure is the same one: no Event.
    await admin.updateRoute(
      ns,
      'r',
      routeSpec('/r2', { apiKey: { secretRef: { name: 'r-key', key: 'apiKey' } } }),
    );
    await eventually(async () => expect((await admin.getRoute(ns, 'r')).status?.observedGeneration).toBe(2));
    await sleep(300);
    expect(await routeEvents(ns, 'r')).toHaveLength(1);

    // A different failure of the same route is new: KeyNotFound.
    await admin.putSecret(ns, 'r-key', { wrong: 'x' });
    await eventually(async () =>
      expect((await routeEvents(ns, 'r')).map((e) => e.reason).sort()).toEqual([
        'KeyNotFound',
        'SecretNotFound',
      ]),
    );
    // Fixed: no Event; broken again: a new one.
    await admin.putSecret(ns, 'r-key', { apiKey: 'v' });
    await eventually(async () =>
      expect(conditionOf(await admin.getRoute(ns, 'r'), 'Ready')?.status).toBe('True'),
    );
    await admin.deleteSecret(ns, 'r-key');
    await eventually(async () => expect(await routeEvents(ns, 'r')).toHaveLength(3));
    expect((await routeEvents(ns, 'r')).map((e) => e.reason).sort()).toEqual([
      'KeyNotFound',
      'SecretNotFound',
      'SecretNotFound',
    ]);

    // A newer route on the same path is Conflicted.
    await admin.createRoute(ns, 'dup', routeSpec('/other'));
    await eventually(async () => expect(await routeEvents(ns, 'dup')).toHaveLength(1));
    expect((await routeEvents(ns, 'dup'))[0]).toMatchObject({ type: 'Warning', reason: 'Conflicted' });
    await sleep(500);
    expect(await routeEvents(ns, 'dup')).toHaveLength(1);
    expect(await routeEvents(ns, 'other')).toHaveLength(0);
    await c.stop();
  });

  it('talks HTTP/1.1 to the apiserver, which offers HTTP/2 (see DirectAccess in src/kube/kubeconfig.ts)', async () => {
    const ns = 'alpn';
    await admin.namespace(ns);
    await admin.createRoute(ns, 'r', routeSpec('/r'));
    /** The ALPN protocol of every connection undici opens while `run` runs. */
    const negotiated = async (run: () => Promise<void>) => {
      const protocols = new Set<string | false | null>();
      const onConnected = (message: unknown) =>
        protocols.add((message as { socket: TLSSocket }).socket.alpnProtocol);
      subscribe('undici:client:connected', onConnected);
      try {
        await run();
      } finally {
        unsubscribe('undici:client:connected', onConnected);
      }
      return protocols;
    };
    // client-node on its own: HTTP/2.
    const plain = await negotiated(async () => {
      await adminKubeConfig(cluster).makeApiClient(CoreV1Api).listNamespace();
    });
    expect(plain).toEqual(new Set(['h2']));
    // The source's list and watch, the Lease and a status write: HTTP/1.1 only.
    const ours = await negotiated(async () => {
      const c = startController(await adminClient(cluster), { namespaces: [ns], leaseName: 'alpn-lease' });
      await c.source.waitForSync(AbortSignal.timeout(10_000));
      await eventually(() => expect(c.writer.writes).toBe(1));
      await c.stop();
    });
    expect(ours).toEqual(new Set(['http/1.1']));
  });

  it('elects exactly one leader; only it writes; stop() hands over at once', async () => {
    const ns = 'ha';
    await admin.namespace(ns);
    await admin.createRoute(ns, 'a', routeSpec('/a'));
    // A long lease: a takeover within it can only come from release().
    const timings = {
      leaseName: 'ha-lease',
      leaseDurationMs: 6000,
      renewDeadlineMs: 4000,
      retryPeriodMs: 200,
    };
    const client = await adminClient(cluster);
    const r1 = startController(client, { namespaces: [ns], identity: 'replica-1', ...timings });
    const r2 = startController(client, { namespaces: [ns], identity: 'replica-2', ...timings });

    await eventually(() => expect([r1.writer.isLeader, r2.writer.isLeader].filter(Boolean)).toHaveLength(1));
    for (let i = 0; i < 50; i++) {
      expect([r1.writer.isLeader, r2.writer.isLeader].filter(Boolean)).toHaveLength(1);
      await sleep(20);
    }
    const [leader, follower] = r1.writer.isLeader ? [r1, r2] : [r2, r1];
    await eventually(async () => expect((await admin.getRoute(ns, 'a')).status?.observedGeneration).toBe(1));
    // (The apiserver applies the PATCH before the writer sees the answer and counts it.)
    await eventually(() => expect(leader.writer.writes).toBe(1));
    expect(follower.writer.writes).toBe(0);
    expect(follower.writer.leader).toBe(leader.writer.identity);

    const leases = admin.kc.makeApiClient(CoordinationV1Api);
    const before = await leases.readNamespacedLease({ name: 'ha-lease', namespace: LEASE_NS });
    expect(before.spec?.holderIdentity).toBe(leader.writer.identity);
    expect(before.spec?.leaseDurationSeconds).toBe(6);

    const t0 = Date.now();
    await leader.stop();
    await eventually(() => expect(follower.writer.isLeader).toBe(true), 3000, 10);
    const takeoverMs = Date.now() - t0;
    expect(takeoverMs).toBeLessThan(1500);
    const after = await leases.readNamespacedLease({ name: 'ha-lease', namespace: LEASE_NS });
    expect(after.spec?.holderIdentity).toBe(follower.writer.identity);
    expect(after.spec?.leaseTransitions).toBe((before.spec?.leaseTransitions ?? 0) + 1);

    // The new leader writes.
    await admin.updateRoute(ns, 'a', routeSpec('/a2'));
    await eventually(async () => expect((await admin.getRoute(ns, 'a')).status?.observedGeneration).toBe(2));
    await eventually(() => expect(follower.writer.writes).toBe(1));
    await follower.stop();
  });

  for (const mode of ['block', 'freeze'] as const) {
    it(`a leader cut off from the apiserver (${mode}) steps down before anyone else can take over`, async () => {
      const ns = `partition-${mode}`;
      await admin.namespace(ns);
      const proxy = await TcpProxy.start(cluster.server);
      try {
        const timings = {
          leaseName: `partition-${mode}`,
          leaseDurationMs: 3000,
          renewDeadlineMs: 2000,
          retryPeriodMs: 200,
        };
        const cut = startController(await adminClient(cluster, proxy.url), {
          namespaces: [ns],
          identity: 'cut',
          ...timings,
        });
        await eventually(() => expect(cut.writer.isLeader).toBe(true));
        const other = startController(await adminClient(cluster), {
          namespaces: [ns],
          identity: 'other',
          ...timings,
        });
        await sleep(500);
        expect(other.writer.isLeader).toBe(false);

        // block: connections reset at once; freeze: requests hang (only timeouts end them).
        proxy[mode]();
        const t0 = Date.now();
        let steppedDownAt = 0;
        let tookOverAt = 0;
        while (Date.now() - t0 < 6000 && !tookOverAt) {
          const a = cut.writer.isLeader;
          const b = other.writer.isLeader;
          expect(a && b).toBe(false);
          if (!a && !steppedDownAt) steppedDownAt = Date.now() - t0;
          if (b) tookOverAt = Date.now() - t0;
          await sleep(10);
        }
        expect(steppedDownAt).toBeGreaterThan(0);
        expect(steppedDownAt).toBeLessThanOrEqual(2200); // renewDeadline after the last renewal
        expect(tookOverAt).toBeGreaterThan(steppedDownAt);
        expect(tookOverAt).toBeGreaterThanOrEqual(2500); // the Lease had to expire first
        await cut.stop();
        await other.stop();
      } finally {
        await proxy.close();
      }
    });
  }

  it('treats 404 (route deleted) and 409 (stale cache) quietly and retries the latter', async () => {
    const ns = 'quiet';
    await admin.namespace(ns);
    const real = await admin.createRoute(ns, 'real', routeSpec('/real'));
    const observed = new Map<string, ObservedRoute>([
      [`${ns}/ghost`, { namespace: ns, name: 'ghost', generation: 1, resourceVersion: '12345' }],
      [`${ns}/real`, { namespace: ns, name: 'real', generation: 1, resourceVersion: '1' }], // stale
    ]);
    const listeners = new Set<(key: string) => void>();
    const view: RouteStatusView = {
      observedRoute: (key) => observed.get(key),
      onObservedRouteChange: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const failures: number[] = [];
    const log = new CaptureLog();
    const writer = new StatusWriter({
      client: await adminClient(cluster),
      namespace: LEASE_NS,
      routes: view,
      leaseName: 'quiet-lease',
      leaseDurationMs: 2000,
      renewDeadlineMs: 1500,
      retryPeriodMs: 200,
      backoff: { initialMs: 100, maxMs: 400 },
      log,
      observer: { failed: (_, code) => failures.push(code) },
    });
    stoppers.push(() => writer.stop());
    writer.start();
    await eventually(() => expect(writer.isLeader).toBe(true));
    const diagnostic = (name: string): RouteDiagnostic => ({
      key: `${ns}/${name}`,
      namespace: ns,
      name,
      generation: 1,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Ready', message: 'Served', observedGeneration: 1 },
      ],
    });
    writer.update([diagnostic('ghost'), diagnostic('real')]);
    await eventually(() => expect(failures.filter((f) => f === 409).length).toBeGreaterThanOrEqual(3));
    expect(failures.filter((f) => f === 404)).toEqual([404]); // not retried
    expect(writer.writes).toBe(0);
    expect((await admin.getRoute(ns, 'real')).status).toBeUndefined();
    expect(log.entries.filter((e) => e.level === 'warn' || e.level === 'error')).toEqual([]);

    // The cache catches up: the write goes through.
    observed.set(`${ns}/real`, {
      ...observed.get(`${ns}/real`)!,
      resourceVersion: real.metadata.resourceVersion,
    });
    for (const listener of listeners) listener(`${ns}/real`);
    await eventually(() => expect(writer.writes).toBe(1));
    expect(conditionOf(await admin.getRoute(ns, 'real'), 'Ready')?.status).toBe('True');
    await writer.stop();
  });

  it('kubectl get lr shows the path type and why a route is not Ready; -o wide adds hosts and invocation type', async () => {
    const ns = 'columns';
    await admin.namespace(ns);
    await admin.createRoute(ns, 'ok', {
      hosts: ['a.example.com', '*.example.org'],
      match: { path: '/ok', pathType: 'Prefix' },
      target: { url: 'https://abc123.execute-api.us-east-1.amazonaws.com/default/fn' },
    });
    await admin.createRoute(
      ns,
      'needs-key',
      routeSpec('/needs-key', { apiKey: { secretRef: { name: 'api-key', key: 'apiKey' } } }),
    );
    await admin.createRoute(ns, 'events', {
      match: { path: '/events' },
      target: { function: { name: 'fn', invocationType: 'Event' } },
      auth: { iam: { secretRef: { name: 'aws-creds' } } },
    });
    startController(await adminClient(cluster), { namespaces: [ns], leaseName: 'columns-lease' });
    await eventually(async () => {
      for (const name of ['ok', 'needs-key', 'events'])
        expect((await admin.getRoute(ns, name)).status?.observedGeneration).toBe(1);
    });
    /** Rows by name, cells by column header (kubectl pads columns with spaces; no cell here holds one). */
    const table = async (...flags: string[]) => {
      const [header, ...rows] = (await kubectl(cluster.kubeconfigPath, 'get', 'lr', '-n', ns, ...flags))
        .trimEnd()
        .split('\n');
      const starts = [...header!.matchAll(/\S+( \S+)*/g)].map((m) => [m[0], m.index] as const);
      return Object.fromEntries(
        rows.map((row) => {
          const cells = Object.fromEntries(
            starts.map(([name, start], i) => [name, row.slice(start, starts[i + 1]?.[1]).trim()]),
          );
          return [cells['NAME'], cells];
        }),
      );
    };
    const plain = await table();
    expect(Object.keys(plain['ok']!)).toEqual([
      'NAME',
      'PATH',
      'PATH TYPE',
      'URL',
      'FUNCTION',
      'READY',
      'REASON',
      'AGE',
    ]);
    expect(plain['ok']).toMatchObject({ 'PATH TYPE': 'Prefix', READY: 'True', REASON: '' });
    expect(plain['needs-key']).toMatchObject({
      'PATH TYPE': 'Exact',
      READY: 'False',
      REASON: 'SecretNotFound',
    });
    expect(plain['events']).toMatchObject({ FUNCTION: 'fn', READY: 'False', REASON: 'SecretNotFound' });

    const wide = await table('-o', 'wide');
    expect(Object.keys(wide['ok']!)).toEqual([
      'NAME',
      'PATH',
      'PATH TYPE',
      'URL',
      'FUNCTION',
      'READY',
      'REASON',
      'HOSTS',
      'INVOCATION',
      'INVOKE MODE',
      'AGE',
    ]);
    expect(wide['ok']).toMatchObject({
      HOSTS: '["a.example.com","*.example.org"]',
      INVOCATION: '',
      'INVOKE MODE': '',
    });
    expect(wide['events']).toMatchObject({ HOSTS: '', INVOCATION: 'Event', 'INVOKE MODE': 'Buffered' });
  });
});
