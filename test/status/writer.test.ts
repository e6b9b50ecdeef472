// The status writer against a stand-in apiserver over real sockets: what the
// leader writes and when, Events for new failures, and how failed writes are
// retried (transient: backoff; 409: quietly; 404: not at all).
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Failure } from '../../src/api/failure.ts';
import type { ObservedRoute, RouteStatusView } from '../../src/kube/route-status.ts';
import type { RouteDiagnostic } from '../../src/model/compile-result.ts';
import { StatusWriter, type StatusWriterOptions } from '../../src/status/writer.ts';
import { CaptureLog } from '../support/capture-log.ts';
import {
  type ApiRequest,
  FakeApiserver,
  FakeLeases,
  sendJson,
  sendStatus,
} from '../support/fake-apiserver.ts';

const LEASE_NS = 'controller-ns';
const statusPath = (name: string) =>
  `/apis/lambda-ingress.io/v1alpha1/namespaces/ns/lambdaroutes/${name}/status`;
const EVENTS = '/apis/events.k8s.io/v1/namespaces/ns/events';
const eventually = (fn: () => void, timeout = 5000) => vi.waitFor(fn, { timeout, interval: 10 });
const gaps = (requests: ApiRequest[]) => requests.slice(1).map((r, i) => r.at - requests[i]!.at);

/** The source's side: observed routes, changed by the test as watch events would. */
class Routes implements RouteStatusView {
  readonly #routes = new Map<string, ObservedRoute>();
  readonly #listeners = new Set<(key: string) => void>();
  observedRoute(key: string) {
    return this.#routes.get(key);
  }
  onObservedRouteChange(listener: (key: string) => void) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(route: ObservedRoute) {
    this.quietlySet(route);
    for (const listener of this.#listeners) listener(`${route.namespace}/${route.name}`);
  }
  /** Changes the route without telling the writer. */
  quietlySet(route: ObservedRoute) {
    this.#routes.set(`${route.namespace}/${route.name}`, route);
  }
}

const observed = (name: string, resourceVersion: string, generation = 1): ObservedRoute => ({
  namespace: 'ns',
  name,
  uid: `uid-${name}`,
  generation,
  resourceVersion,
});

function diagnostic(name: string, ready: true | Failure, generation = 1): RouteDiagnostic {
  return {
    key: `ns/${name}`,
    namespace: 'ns',
    name,
    generation,
    conditions: [
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Valid' },
      ready === true
        ? { type: 'Ready', status: 'True', reason: 'Ready', message: 'Served' }
        : { type: 'Ready', status: 'False', ...ready },
    ],
  };
}

let server: FakeApiserver;
let writer: StatusWriter | undefined;
let version = 0;

afterEach(async () => {
  await writer?.stop();
  writer = undefined;
  await server?.close();
});

/**
 * A server with Leases, Events, and status PATCHes answered by `patch` (by
 * default: accepted, with a new resourceVersion).
 */
async function start(
  patch: (req: ApiRequest, res: ServerResponse) => void = (req, res) =>
    sendJson(res, 200, { metadata: { ...req.body.metadata, resourceVersion: String(++version + 1000) } }),
  options: Partial<StatusWriterOptions> = {},
) {
  const leases = new FakeLeases();
  server = await FakeApiserver.start((req, res) => {
    if (leases.handle(req, res)) return;
    if (req.method === 'POST' && req.path === EVENTS) return sendJson(res, 201, req.body);
    if (req.method === 'PATCH' && req.path.endsWith('/status')) return patch(req, res);
    sendStatus(res, 404, 'NotFound');
  });
  const routes = new Routes();
  const log = new CaptureLog();
  const failed: number[] = [];
  writer = new StatusWriter({
    client: server.client,
    namespace: LEASE_NS,
    routes,
    identity: 'writer-1',
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 100, maxMs: 1000 },
    log,
    observer: { failed: (_key, status) => failed.push(status) },
    ...options,
  });
  return { writer, routes, leases, log, failed };
}

const patches = (name: string) => server.calls('PATCH', statusPath(name));
const events = () => server.calls('POST', EVENTS);

describe('StatusWriter', () => {
  it('writes the desired status once, as a merge patch over the observed resourceVersion', async () => {
    const { writer, routes } = await start();
    routes.set(observed('r', '5'));
    routes.set(observed('newer', '8', 2)); // the cache has a generation the compile has not seen yet
    writer.start();
    writer.update([diagnostic('r', true), diagnostic('newer', true, 1)]);

    await eventually(() => expect(patches('r')).toHaveLength(1));
    const [request] = patches('r');
    expect(request!.headers['content-type']).toBe('application/merge-patch+json');
    expect(request!.query.get('fieldManager')).toBe('lambda-ingress');
    expect(request!.body.metadata).toEqual({ resourceVersion: '5' });
    expect(request!.body.status).toEqual({
      observedGeneration: 1,
      conditions: [
        {
          type: 'Accepted',
          status: 'True',
          reason: 'Accepted',
          message: 'Valid',
          observedGeneration: 1,
          lastTransitionTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        },
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: 'Served',
          observedGeneration: 1,
          lastTransitionTime: expect.any(String),
        },
      ],
    });
    await eventually(() => expect(writer.writes).toBe(1));

    // A recompile before the watch shows our write: no blind second write.
    writer.update([diagnostic('r', true), diagnostic('newer', true, 1)]);
    await sleep(200);
    expect(patches('r')).toHaveLength(1);
    // The watch brings the written status: nothing left to write.
    routes.set({ ...observed('r', '1001'), status: request!.body.status });
    await sleep(200);
    expect(patches('r')).toHaveLength(1);
    expect(patches('newer')).toEqual([]);
    expect(events()).toEqual([]); // nothing failed
  });

  it('after a recompile, looks only at the routes whose diagnostic is a new object', async () => {
    const { writer, routes } = await start();
    routes.set(observed('same', '1'));
    routes.set(observed('changed', '2'));
    writer.start();
    const same = diagnostic('same', true);
    writer.update([same, diagnostic('changed', true)]);
    await eventually(() => expect(writer.writes).toBe(2));
    // The watch brings both writes back; then a status nobody announced (no event) differs.
    for (const name of ['same', 'changed']) {
      const written = patches(name)[0]!.body.status;
      routes.set({ ...observed(name, `1${name.length}`), status: written });
    }
    routes.quietlySet({ ...observed('same', '20'), status: { conditions: [] } });
    // compile() handed over the same diagnostic for `same`: it is not looked at again.
    writer.update([same, diagnostic('changed', { reason: 'SecretNotFound', message: 'gone' })]);
    await eventually(() => expect(patches('changed')).toHaveLength(2));
    await sleep(200);
    expect(patches('same')).toHaveLength(1);
  });

  it('writes nothing while another replica holds the Lease, and everything once it leads', async () => {
    const { writer, routes, leases } = await start();
    const renew = () =>
      leases.put(LEASE_NS, 'lambda-ingress-leader', {
        holderIdentity: 'writer-0',
        leaseDurationSeconds: 1,
        renewTime: new Date().toISOString(),
      });
    renew();
    const timer = setInterval(renew, 200);
    routes.set(observed('a', '1'));
    routes.set(observed('b', '2'));
    writer.start();
    writer.update([diagnostic('a', true), diagnostic('b', true)]);
    await sleep(1500);
    expect(writer.isLeader).toBe(false);
    expect(writer.leader).toBe('writer-0');
    expect(server.requests.filter((r) => r.method === 'PATCH')).toEqual([]);

    clearInterval(timer); // the other replica is gone
    await eventually(() => expect(writer.isLeader).toBe(true));
    await eventually(() => expect([patches('a').length, patches('b').length]).toEqual([1, 1]));
  });

  it('creates one Warning Event when a route newly fails, none while it fails the same way', async () => {
    const { writer, routes } = await start();
    routes.set(observed('r', '5'));
    writer.start();
    const missing: Failure = {
      reason: 'SecretNotFound',
      message: 'auth.apiKey.secretRef: Secret ns/k not found',
    };
    writer.update([diagnostic('r', missing)]);

    await eventually(() => expect(events()).toHaveLength(1));
    expect(events()[0]!.body).toMatchObject({
      type: 'Warning',
      reason: 'SecretNotFound',
      note: missing.message,
      action: 'Reconcile',
      reportingController: 'lambda-ingress.io/controller',
      reportingInstance: 'writer-1',
      regarding: {
        apiVersion: 'lambda-ingress.io/v1alpha1',
        kind: 'LambdaRoute',
        namespace: 'ns',
        name: 'r',
        uid: 'uid-r',
      },
    });

    // The same failure, described differently: the status is rewritten, no new Event.
    routes.set({ ...observed('r', '1001'), status: patches('r')[0]!.body.status });
    writer.update([
      diagnostic('r', { ...missing, message: 'auth.apiKey.secretRef: Secret ns/k is missing' }),
    ]);
    await eventually(() => expect(patches('r')).toHaveLength(2));
    await sleep(200);
    expect(events()).toHaveLength(1);

    // A different failure is news.
    routes.set({ ...observed('r', '1002'), status: patches('r')[1]!.body.status });
    writer.update([diagnostic('r', { reason: 'KeyNotFound', message: 'no key apiKey' })]);
    await eventually(() => expect(events()).toHaveLength(2));
    expect(events()[1]!.body.reason).toBe('KeyNotFound');
  });

  it('retries a transient failure with backoff, and a rejected write with a warning', async () => {
    const answers: Record<string, number[]> = { flaky: [503, 500], denied: [403, 403] };
    const { writer, routes, log, failed } = await start((req, res) => {
      const name = req.path.split('/').at(-2)!;
      const code = answers[name]?.shift();
      if (code) sendStatus(res, code, code === 403 ? 'Forbidden' : 'InternalError', `refused ${name}`);
      else sendJson(res, 200, { metadata: { resourceVersion: String(++version + 1000) } });
    });
    routes.set(observed('flaky', '1'));
    routes.set(observed('denied', '2'));
    writer.start();
    writer.update([diagnostic('flaky', true), diagnostic('denied', true)]);

    await eventually(() => expect(writer.writes).toBe(2));
    expect(patches('flaky')).toHaveLength(3);
    expect(patches('denied')).toHaveLength(3);
    // Each delay is in [d/2, d], d doubling from 100 ms, per route.
    const [first, second] = gaps(patches('flaky'));
    expect(first).toBeGreaterThanOrEqual(50);
    expect(second).toBeGreaterThanOrEqual(100);
    expect(failed.sort()).toEqual([403, 403, 500, 503]);
    const retries = log.entries.filter((e) => e.msg === 'status write failed; will retry');
    expect(retries.filter((e) => e.level === 'info').map((e) => (e.obj as { route: string }).route)).toEqual([
      'ns/flaky',
      'ns/flaky',
    ]);
    expect(retries.filter((e) => e.level === 'warn').map((e) => (e.obj as { route: string }).route)).toEqual([
      'ns/denied',
      'ns/denied',
    ]);
  });

  it('treats 409 (stale cache) quietly and retries it, and forgets a route deleted meanwhile (404)', async () => {
    const { writer, routes, log, failed } = await start((req, res) => {
      if (req.path === statusPath('ghost')) return sendStatus(res, 404, 'NotFound');
      if (req.body.metadata.resourceVersion === 'stale') return sendStatus(res, 409, 'Conflict');
      sendJson(res, 200, { metadata: { resourceVersion: String(++version + 1000) } });
    });
    routes.set(observed('ghost', '3'));
    routes.set(observed('r', 'stale'));
    writer.start();
    writer.update([diagnostic('ghost', true), diagnostic('r', true)]);

    await eventually(() => expect(patches('r').length).toBeGreaterThanOrEqual(3));
    await sleep(300);
    expect(patches('ghost')).toHaveLength(1);
    expect(failed.filter((code) => code === 404)).toEqual([404]);
    expect(writer.writes).toBe(0);
    expect(log.entries.filter((e) => e.level === 'warn' || e.level === 'error')).toEqual([]);

    // The cache catches up: the write goes through.
    routes.set(observed('r', '9'));
    await eventually(() => expect(writer.writes).toBe(1));
    expect(patches('r').at(-1)!.body.metadata).toEqual({ resourceVersion: '9' });
  });

  it('stop() waits for the writes in flight, then releases the Lease', async () => {
    const held: ServerResponse[] = [];
    const { writer, routes, leases } = await start((_req, res) => {
      held.push(res);
    });
    routes.set(observed('r', '1'));
    writer.start();
    writer.update([diagnostic('r', true)]);
    await eventually(() => expect(held).toHaveLength(1));

    let stopped = false;
    const stopping = writer.stop().then(() => {
      stopped = true;
    });
    await sleep(200);
    expect(stopped).toBe(false);
    expect(leases.get(LEASE_NS, 'lambda-ingress-leader').spec.holderIdentity).toBe('writer-1');
    sendJson(held[0]!, 200, { metadata: { resourceVersion: '2' } });
    await stopping;
    expect(leases.get(LEASE_NS, 'lambda-ingress-leader').spec.holderIdentity).toBeUndefined();
  });
});
