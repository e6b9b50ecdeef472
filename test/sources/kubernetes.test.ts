// KubernetesSource wired to a stand-in apiserver over real sockets: when
// Snapshots come (sync, debounce, max wait), Secrets fetched by a targeted GET,
// a watch event overtaking that GET, and status-only changes.
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Snapshot } from '../../src/api/snapshot.ts';
import { KubernetesSource, type KubernetesSourceOptions } from '../../src/sources/kubernetes.ts';
import { CaptureLog } from '../support/capture-log.ts';
import {
  type ApiRequest,
  FakeApiserver,
  sendJson,
  sendStatus,
  WatchStream,
} from '../support/fake-apiserver.ts';

const ROUTES = '/apis/lambda-ingress.io/v1alpha1/lambdaroutes';
const SECRETS = '/api/v1/secrets';
const eventually = (fn: () => void, timeout = 5000) => vi.waitFor(fn, { timeout, interval: 10 });

// biome-ignore lint/suspicious/noExplicitAny: raw apiserver JSON
type Raw = any;
let rv = 100;

function route(
  name: string,
  options: { secret?: string; path?: string; status?: object; generation?: number } = {},
) {
  return {
    apiVersion: 'lambda-ingress.io/v1alpha1',
    kind: 'LambdaRoute',
    metadata: {
      name,
      namespace: 'ns',
      uid: `uid-${name}`,
      generation: options.generation ?? 1,
      resourceVersion: String(++rv),
    },
    spec: {
      match: { path: options.path ?? `/${name}` },
      target: { url: 'https://upstream.example' },
      ...(options.secret && { auth: { apiKey: { secretRef: { name: options.secret, key: 'apiKey' } } } }),
    },
    ...(options.status && { status: options.status }),
  };
}

const secret = (name: string, value: string) => ({
  kind: 'Secret',
  metadata: { name, namespace: 'ns', resourceVersion: String(++rv) },
  data: { apiKey: Buffer.from(value).toString('base64') },
});

/** The cluster's objects; lists answer from them, watch streams are kept for the test to send on. */
class Cluster {
  readonly routes: Raw[] = [];
  readonly secrets: Raw[] = [];
  readonly watches = new Map<string, WatchStream[]>([
    [ROUTES, []],
    [SECRETS, []],
  ]);
  /** Answers a targeted Secret GET; the default answers from `secrets`. */
  onGet = (req: ApiRequest, res: ServerResponse) => {
    const found = this.secrets.find((s) => req.path.endsWith(`/secrets/${s.metadata.name}`));
    if (found) sendJson(res, 200, found);
    else sendStatus(res, 404, 'NotFound');
  };

  handle = (req: ApiRequest, res: ServerResponse) => {
    const collection = req.path === ROUTES ? this.routes : req.path === SECRETS ? this.secrets : undefined;
    if (!collection) return this.onGet(req, res);
    if (req.query.get('watch') === 'true') {
      this.watches.get(req.path)!.push(new WatchStream(res));
      return;
    }
    sendJson(res, 200, { metadata: { resourceVersion: String(rv) }, items: collection });
  };

  /** Sends a watch event on the latest watch of `path`. */
  send(path: string, type: string, object: object) {
    this.watches.get(path)!.at(-1)!.send(type, object);
  }
}

let server: FakeApiserver;
let source: KubernetesSource | undefined;

afterEach(async () => {
  await source?.stop();
  await server?.close();
});

async function start(cluster: Cluster, options: Partial<KubernetesSourceOptions> = {}) {
  server = await FakeApiserver.start(cluster.handle);
  const log = new CaptureLog();
  const snapshots: Snapshot[] = [];
  const observed: string[] = [];
  const connection: boolean[] = [];
  source = new KubernetesSource({
    reader: server.client,
    log,
    debounceMs: 30,
    maxWaitMs: 1000,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 50, maxMs: 200 },
    onSnapshot: (snapshot) => snapshots.push(snapshot),
    observer: { connectionChanged: (connected) => connection.push(connected) },
    ...options,
  });
  source.onObservedRouteChange((key) => observed.push(key));
  source.start();
  await source.waitForSync();
  // Both watches are open.
  await eventually(() => expect([...cluster.watches.values()].every((w) => w.length > 0)).toBe(true));
  return { source, log, snapshots, observed, connection };
}

const names = (snapshot: Snapshot | undefined) => snapshot?.routes.map((r) => r.metadata.name);
const secretOf = (snapshot: Snapshot | undefined, key: string) =>
  snapshot?.secrets.get(key)?.data['apiKey']?.toString();

describe('KubernetesSource', () => {
  it('lists routes, then only the Secrets they reference, and emits one Snapshot once both are synced', async () => {
    const cluster = new Cluster();
    cluster.routes.push(route('b', { secret: 'key' }), route('a'));
    cluster.secrets.push(secret('key', 'k-1'), secret('unrelated', 'u-1'));
    const { source, snapshots, connection } = await start(cluster);

    await eventually(() => expect(snapshots).toHaveLength(1));
    expect(names(snapshots[0])).toEqual(['a', 'b']);
    expect([...snapshots[0]!.secrets.keys()]).toEqual(['ns/key']);
    expect(secretOf(snapshots[0], 'ns/key')).toBe('k-1');
    const [routeList] = server.calls('GET', ROUTES, { watch: false });
    const [secretList] = server.calls('GET', SECRETS, { watch: false });
    expect(secretList!.at).toBeGreaterThanOrEqual(routeList!.at);
    expect(source.synced).toBe(true);
    expect(source.connected).toBe(true);
    expect(connection).toEqual([true]);
    // The referenced Secret came with the list: no targeted GET.
    expect(server.requests.filter((r) => r.path.includes('/namespaces/'))).toEqual([]);
  });

  it('debounces a burst of events into one Snapshot, and emits within the max wait under a steady stream', async () => {
    const cluster = new Cluster();
    const { snapshots } = await start(cluster, { debounceMs: 100, maxWaitMs: 300 });
    await eventually(() => expect(snapshots).toHaveLength(1));

    for (let i = 0; i < 10; i++) cluster.send(ROUTES, 'ADDED', route(`r${i}`));
    await eventually(() => expect(names(snapshots.at(-1))).toHaveLength(10));
    await sleep(200);
    expect(snapshots).toHaveLength(2);

    // A change every 40 ms never leaves 100 ms of quiet: the max wait still emits.
    for (let i = 0; i < 25; i++) {
      cluster.send(ROUTES, 'MODIFIED', route('r0', { path: `/r0-${i}`, generation: 2 + i }));
      await sleep(40);
    }
    expect(snapshots.length).toBeGreaterThanOrEqual(4);
  });

  it('fetches a Secret that a route starts referencing, and the Snapshot waits for it', async () => {
    const cluster = new Cluster();
    cluster.secrets.push(secret('late', 'l-1')); // listed while unreferenced: dropped
    cluster.onGet = async (_req, res) => {
      await sleep(150);
      sendJson(res, 200, cluster.secrets[0]);
    };
    const { snapshots } = await start(cluster);
    await eventually(() => expect(snapshots).toHaveLength(1));
    expect(snapshots[0]!.secrets.size).toBe(0);

    cluster.send(ROUTES, 'ADDED', route('r', { secret: 'late' }));
    await eventually(() => expect(snapshots).toHaveLength(2));
    // No Snapshot with the route but without its Secret (which would flash SecretNotFound).
    expect(names(snapshots[1])).toEqual(['r']);
    expect(secretOf(snapshots[1], 'ns/late')).toBe('l-1');
    expect(server.requests.filter((r) => r.path === '/api/v1/namespaces/ns/secrets/late')).toHaveLength(1);
  });

  it('fetches a held Secret again for a data key a route starts reading, and the Snapshot waits for it', async () => {
    const cluster = new Cluster();
    const shared = secret('shared', 'k-1');
    Object.assign(shared.data, { other: Buffer.from('o-1').toString('base64') });
    cluster.secrets.push(shared);
    cluster.routes.push(route('a', { secret: 'shared' }));
    cluster.onGet = async (_req, res) => {
      await sleep(150);
      sendJson(res, 200, shared);
    };
    const { snapshots } = await start(cluster);
    await eventually(() => expect(snapshots).toHaveLength(1));
    expect(Object.keys(snapshots[0]!.secrets.get('ns/shared')!.data)).toEqual(['apiKey']);

    const readsOther = route('b');
    Object.assign(readsOther.spec, { auth: { apiKey: { secretRef: { name: 'shared', key: 'other' } } } });
    cluster.send(ROUTES, 'ADDED', readsOther);
    await eventually(() => expect(snapshots).toHaveLength(2));
    expect(names(snapshots[1])).toEqual(['a', 'b']);
    expect(snapshots[1]!.secrets.get('ns/shared')!.data['other']?.toString()).toBe('o-1');
    expect(server.requests.filter((r) => r.path === '/api/v1/namespaces/ns/secrets/shared')).toHaveLength(1);
  });

  it('keeps the watch event when it overtakes a targeted GET', async () => {
    const cluster = new Cluster();
    cluster.secrets.push(secret('key', 'stale'));
    const held: ServerResponse[] = [];
    cluster.onGet = (_req, res) => {
      held.push(res);
    };
    const { snapshots } = await start(cluster);
    await eventually(() => expect(snapshots).toHaveLength(1));

    cluster.send(ROUTES, 'ADDED', route('r', { secret: 'key' }));
    await eventually(() => expect(held).toHaveLength(1));
    cluster.send(SECRETS, 'MODIFIED', secret('key', 'fresh'));
    await eventually(() => expect(secretOf(snapshots.at(-1), 'ns/key')).toBe('fresh'));
    sendJson(held[0]!, 200, secret('key', 'stale')); // the GET answers last, with older data
    await sleep(200);
    expect(snapshots.map((s) => secretOf(s, 'ns/key'))).not.toContain('stale');
    expect(secretOf(snapshots.at(-1), 'ns/key')).toBe('fresh');
  });

  it('reports status-only changes to the status writer without a new Snapshot', async () => {
    const cluster = new Cluster();
    cluster.routes.push(route('r'));
    const { source, snapshots, observed } = await start(cluster);
    await eventually(() => expect(snapshots).toHaveLength(1));
    expect(observed).toEqual(['ns/r']);

    const status = {
      observedGeneration: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: 'ok',
          lastTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
    };
    const written = route('r', { status });
    cluster.send(ROUTES, 'MODIFIED', written);
    await eventually(() => expect(observed).toEqual(['ns/r', 'ns/r']));
    expect(source.observedRoute('ns/r')).toMatchObject({
      resourceVersion: written.metadata.resourceVersion,
      status,
    });
    await sleep(200);
    expect(snapshots).toHaveLength(1);

    cluster.send(ROUTES, 'DELETED', written);
    await eventually(() => expect(snapshots).toHaveLength(2));
    expect(observed).toEqual(['ns/r', 'ns/r', 'ns/r']);
    expect(source.observedRoute('ns/r')).toBeUndefined();
  });

  it('keeps the last Snapshot through an outage and reports the connection', async () => {
    const cluster = new Cluster();
    cluster.routes.push(route('r'));
    const { source, snapshots, connection } = await start(cluster);
    await eventually(() => expect(snapshots).toHaveLength(1));

    let down = true;
    const handle = cluster.handle;
    server.handler = (req, res) => (down ? sendStatus(res, 503, 'ServiceUnavailable') : handle(req, res));
    for (const watch of cluster.watches.get(ROUTES)!) watch.end();
    await eventually(() => expect(source.connected).toBe(false));
    expect(connection).toEqual([true, false]);
    await sleep(200);
    expect(snapshots).toHaveLength(1);
    expect(source.synced).toBe(true);

    down = false;
    await eventually(() => expect(source.connected).toBe(true));
    expect(connection).toEqual([true, false, true]);
    expect(snapshots).toHaveLength(1); // nothing changed meanwhile
  });
});
