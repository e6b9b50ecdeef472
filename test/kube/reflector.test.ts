// The list+watch loop against a stand-in apiserver over real sockets: paging,
// bookmarks, and how it restarts (410 relist, error backoff, clean close,
// silent watch, ERROR events).
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Reflector, type ReflectorOptions, type RestartReason } from '../../src/kube/reflector.ts';
import { CaptureLog } from '../support/capture-log.ts';
import {
  type ApiRequest,
  FakeApiserver,
  sendJson,
  sendStatus,
  WatchStream,
} from '../support/fake-apiserver.ts';

const PATH = '/api/v1/secrets';
const secret = (name: string, resourceVersion: string) => ({
  metadata: { name, namespace: 'ns', resourceVersion },
});
const list = (resourceVersion: string, items: object[], next?: string) => ({
  kind: 'SecretList',
  metadata: { resourceVersion, ...(next && { continue: next }) },
  items,
});
const isWatch = (req: ApiRequest) => req.query.get('watch') === 'true';
const eventually = (fn: () => void, timeout = 5000) => vi.waitFor(fn, { timeout, interval: 10 });
/** Milliseconds between consecutive requests. */
const gaps = (requests: ApiRequest[]) => requests.slice(1).map((r, i) => r.at - requests[i]!.at);

/** A full garbage collection (V8's gc(), exposed for this test only). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

let server: FakeApiserver;
const running: Reflector[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  await server?.close();
});

function startReflector(options: Partial<ReflectorOptions> = {}) {
  const log = new CaptureLog();
  const seen = {
    replaced: [] as string[][],
    events: [] as string[],
    restarts: [] as RestartReason[],
    connected: [] as boolean[],
  };
  const reflector: Reflector = new Reflector({
    reader: server.client,
    resource: 'secrets',
    namespace: undefined,
    path: PATH,
    handlers: {
      replace: (items) => seen.replaced.push(items.map((i) => i.metadata.name)),
      event: (type, object) => seen.events.push(`${type} ${object.metadata.name}`),
    },
    silentWatchMs: 10_000,
    requestTimeoutMs: 2000,
    pageSize: 2,
    backoff: { initialMs: 100, maxMs: 1000 },
    log,
    onStateChange: () => seen.connected.push(reflector.connected),
    onContact: () => {},
    onRestart: (reason) => seen.restarts.push(reason),
    ...options,
  });
  running.push(reflector);
  reflector.start();
  return { reflector, log, seen };
}

describe('Reflector', () => {
  it('lists page by page, keeps what `keep` accepts, then watches from the list with bookmarks', async () => {
    const streams: WatchStream[] = [];
    server = await FakeApiserver.start((req, res) => {
      if (isWatch(req)) {
        const watch = new WatchStream(res);
        streams.push(watch);
        watch.send('ADDED', secret('d', '11'));
        watch.send('BOOKMARK', { kind: 'Secret', metadata: { resourceVersion: '12' } });
        watch.send('DELETED', secret('a', '13'));
      } else if (!req.query.get('continue')) {
        sendJson(res, 200, list('9', [secret('a', '1'), secret('skip', '2')], 'page-2'));
      } else {
        sendJson(res, 200, list('10', [secret('c', '3')]));
      }
    });
    const { reflector, seen } = startReflector({ keep: (object) => object.metadata.name !== 'skip' });

    await eventually(() => expect(seen.events).toEqual(['ADDED d', 'DELETED a']));
    expect(seen.replaced).toEqual([['a', 'c']]);
    const lists = server.calls('GET', PATH, { watch: false });
    expect(lists.map((r) => [r.query.get('limit'), r.query.get('continue')])).toEqual([
      ['2', null],
      ['2', 'page-2'],
    ]);
    const [watch, ...more] = server.calls('GET', PATH, { watch: true });
    expect(more).toEqual([]);
    expect(watch!.query.get('resourceVersion')).toBe('10');
    expect(watch!.query.get('allowWatchBookmarks')).toBe('true');
    expect(Number(watch!.query.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
    expect(Number(watch!.query.get('timeoutSeconds'))).toBeLessThan(600);
    expect(watch!.headers.authorization).toBe('Bearer test-token');
    expect(reflector.synced).toBe(true);
    expect(reflector.connected).toBe(true);

    // stop() ends the open watch and the loop.
    await reflector.stop();
    await streams[0]!.closed;
    const requests = server.requests.length;
    await sleep(200);
    expect(server.requests.length).toBe(requests);
  });

  it('drops managedFields and the last-applied annotation of listed items page by page', async () => {
    const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
    const applied = (name: string) => ({
      metadata: {
        ...secret(name, '1').metadata,
        managedFields: [
          { manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:data': { 'f:apiKey': {} } } },
        ],
        annotations: { [LAST_APPLIED]: '{"data":{"apiKey":"…"}}', team: 'a' },
      },
      data: { apiKey: 'YQ==' },
    });
    server = await FakeApiserver.start((req, res) => {
      if (isWatch(req)) new WatchStream(res);
      else sendJson(res, 200, list('9', [applied('a'), { metadata: { name: 'bare', namespace: 'ns' } }]));
    });
    const replaced: unknown[][] = [];
    startReflector({ handlers: { replace: (items) => replaced.push(items), event: () => {} } });
    await eventually(() => expect(replaced).toHaveLength(1));
    expect(replaced[0]).toEqual([
      {
        metadata: { name: 'a', namespace: 'ns', resourceVersion: '1', annotations: { team: 'a' } },
        data: { apiKey: 'YQ==' },
      },
      { metadata: { name: 'bare', namespace: 'ns' } },
    ]);
  });

  it('holds none of the listed items while it watches, once the handlers have them', async () => {
    // A suspended async function can keep a dead local alive: the list must not live in the watch loop's frame.
    server = await FakeApiserver.start((req, res) => {
      if (isWatch(req)) new WatchStream(res);
      else sendJson(res, 200, list('9', [secret('a', '1'), secret('b', '2')]));
    });
    let listed: WeakRef<object>[] = [];
    startReflector({
      pageSize: 10,
      handlers: {
        replace: (items) => (listed = [new WeakRef(items), new WeakRef(items[0])]),
        event: () => {},
      },
    });
    await eventually(() => expect(server.requests.filter(isWatch)).toHaveLength(1));
    expect(listed).toHaveLength(2);
    await eventually(() => {
      collectGarbage();
      expect(listed.map((ref) => ref.deref())).toEqual([undefined, undefined]);
    });
  });

  it('relists at once on 410 Gone, whether an ERROR event or the status of the watch request', async () => {
    let lists = 0;
    let watches = 0;
    server = await FakeApiserver.start((req, res) => {
      if (!isWatch(req)) {
        lists++;
        sendJson(res, 200, list(String(lists * 10), [secret(`s${lists}`, String(lists))]));
        return;
      }
      watches++;
      if (watches === 1) {
        new WatchStream(res).send('ERROR', {
          kind: 'Status',
          code: 410,
          reason: 'Expired',
          message: 'too old resource version: 10 (25)',
        });
      } else if (watches === 2) {
        sendStatus(res, 410, 'Gone', 'continue token expired');
      } else {
        new WatchStream(res);
      }
    });
    // A backoff this long would show: relisting does not wait.
    const { log, seen } = startReflector({ backoff: { initialMs: 20_000, maxMs: 20_000 } });

    await eventually(() => expect(server.calls('GET', PATH, { watch: true })).toHaveLength(3));
    const watchedFrom = server.calls('GET', PATH, { watch: true }).map((r) => r.query.get('resourceVersion'));
    expect(watchedFrom).toEqual(['10', '20', '30']);
    expect(seen.replaced).toEqual([['s1'], ['s2'], ['s3']]);
    expect(seen.restarts).toEqual(['gone', 'gone']);
    expect(log.entries.filter((e) => e.msg === 'resourceVersion expired (410 Gone); relisting')).toHaveLength(
      2,
    );
  });

  it('backs off on failures with growing delays and retries the watch from the last resourceVersion', async () => {
    let lists = 0;
    let watches = 0;
    server = await FakeApiserver.start((req, res) => {
      if (!isWatch(req)) {
        lists++;
        if (lists <= 2) sendStatus(res, 500, 'InternalError', 'etcd is down');
        else sendJson(res, 200, list('5', [secret('a', '5')]));
        return;
      }
      watches++;
      if (watches === 1) {
        sendStatus(res, 403, 'Forbidden', 'secrets is forbidden');
      } else if (watches === 2) {
        // An ERROR event other than 410: a failure like any other, no relist.
        new WatchStream(res).send('ERROR', { kind: 'Status', code: 500, reason: 'InternalError' });
      } else {
        new WatchStream(res);
      }
    });
    const { reflector, log, seen } = startReflector({ backoff: { initialMs: 100, maxMs: 1000 } });

    await eventually(() => expect(server.calls('GET', PATH, { watch: true })).toHaveLength(3));
    // Each delay is in [d/2, d], d doubling from 100 ms; a success starts it over.
    const [list1, list2] = gaps(server.calls('GET', PATH, { watch: false }));
    expect(list1).toBeGreaterThanOrEqual(50);
    expect(list2).toBeGreaterThanOrEqual(100);
    const watchRequests = server.calls('GET', PATH, { watch: true });
    const [watch1, watch2] = gaps(watchRequests);
    expect(watch1).toBeGreaterThanOrEqual(50);
    expect(watch2).toBeGreaterThanOrEqual(100);
    expect(watchRequests.map((r) => r.query.get('resourceVersion'))).toEqual(['5', '5', '5']);
    expect(seen.replaced).toEqual([['a']]);
    expect(seen.restarts).toEqual(['error', 'error', 'error', 'error']);
    // The third watch counts as connected once its response headers are in, a moment after the request.
    await eventually(() => expect(seen.connected).toEqual([true, false, true, false, true]));
    expect(reflector.synced).toBe(true);
    const retries = log.entries.filter((e) => e.msg?.endsWith('failed; retrying'));
    expect(retries.map((e) => e.msg)).toEqual([
      'list failed; retrying',
      'list failed; retrying',
      'watch failed; retrying',
      'watch failed; retrying',
    ]);
    expect(retries[0]!.obj).toMatchObject({ resource: 'secrets', namespace: '*', attempt: 1 });
    expect(JSON.stringify(retries[0]!.obj)).toContain('etcd is down');
  });

  it('watches again at once after a clean end of the stream, from the last event', async () => {
    let watches = 0;
    server = await FakeApiserver.start((req, res) => {
      if (!isWatch(req)) return sendJson(res, 200, list('10', []));
      watches++;
      const watch = new WatchStream(res);
      if (watches === 1) {
        watch.send('ADDED', secret('x', '11'));
        watch.end();
      }
    });
    const { seen } = startReflector({ backoff: { initialMs: 20_000, maxMs: 20_000 } });

    await eventually(() => expect(server.calls('GET', PATH, { watch: true })).toHaveLength(2));
    const watchedFrom = server.calls('GET', PATH, { watch: true }).map((r) => r.query.get('resourceVersion'));
    expect(watchedFrom).toEqual(['10', '11']);
    expect(seen.restarts).toEqual(['closed']);
    expect(seen.replaced).toHaveLength(1);
  });

  it('backs off when watches keep closing as soon as they open', async () => {
    server = await FakeApiserver.start((req, res) => {
      if (!isWatch(req)) return sendJson(res, 200, list('10', []));
      new WatchStream(res).end();
    });
    const { seen } = startReflector({ backoff: { initialMs: 200, maxMs: 200 } });

    await eventually(() => expect(server.calls('GET', PATH, { watch: true })).toHaveLength(3));
    for (const gap of gaps(server.calls('GET', PATH, { watch: true })))
      expect(gap).toBeGreaterThanOrEqual(100);
    expect(seen.restarts.slice(0, 2)).toEqual(['closed', 'closed']);
    expect(server.calls('GET', PATH, { watch: false })).toHaveLength(1);
  });

  it('re-establishes a watch that goes silent, and keeps one that bookmarks arrive on', async () => {
    const streams: WatchStream[] = [];
    server = await FakeApiserver.start((req, res) => {
      if (!isWatch(req)) return sendJson(res, 200, list('10', []));
      const watch = new WatchStream(res);
      streams.push(watch);
      if (streams.length > 1) return;
      // Bookmarks every 100 ms for a second, then nothing, the connection left open.
      let rv = 10;
      const timer = setInterval(() => {
        watch.send('BOOKMARK', { kind: 'Secret', metadata: { resourceVersion: String(++rv) } });
        if (rv === 20) clearInterval(timer);
      }, 100);
      void watch.closed.then(() => clearInterval(timer));
    });
    const { log, seen } = startReflector({ silentWatchMs: 400 });

    await eventually(() => expect(server.calls('GET', PATH, { watch: true })).toHaveLength(2));
    const [first, second] = server.calls('GET', PATH, { watch: true });
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1000 + 400);
    expect(second!.query.get('resourceVersion')).toBe('20');
    await streams[0]!.closed; // the silent connection was dropped
    expect(seen.restarts).toEqual(['silent']);
    expect(log.entries.find((e) => e.level === 'warn')).toMatchObject({
      msg: 'watch silent (no event, no bookmark); re-establishing it',
      obj: { resource: 'secrets', silentMs: 400 },
    });
  });
});
