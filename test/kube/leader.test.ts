// Leader election on a Lease, against a stand-in apiserver over real sockets:
// taking a free or expired Lease, renewing, stepping down in time, conflicts,
// and handing over on release.
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaderElector, type LeaderElectorOptions } from '../../src/kube/leader.ts';
import { CaptureLog } from '../support/capture-log.ts';
import { FakeApiserver, FakeLeases, sendStatus } from '../support/fake-apiserver.ts';

const NS = 'controller-ns';
const NAME = 'lambda-ingress-leader';
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${NAME}`;
const eventually = (fn: () => void, timeout = 5000) => vi.waitFor(fn, { timeout, interval: 10 });

let server: FakeApiserver;
let leases: FakeLeases;
const electors: LeaderElector[] = [];

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
  await server?.close();
});

async function startServer() {
  leases = new FakeLeases();
  server = await FakeApiserver.start((req, res) => {
    if (!leases.handle(req, res)) sendStatus(res, 404, 'NotFound');
  });
}

function startElector(identity: string, options: Partial<LeaderElectorOptions> = {}) {
  const log = new CaptureLog();
  const transitions: string[] = [];
  const elector = new LeaderElector({
    client: server.client,
    namespace: NS,
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    log,
    onStartedLeading: () => transitions.push('started'),
    onStoppedLeading: () => transitions.push('stopped'),
    ...options,
  });
  electors.push(elector);
  elector.start();
  return { elector, log, transitions };
}

const lease = () => leases.get(NS, NAME);

describe('LeaderElector', () => {
  it('creates a free Lease, renews it every retry period and clears the holder on stop', async () => {
    await startServer();
    const { elector, transitions } = startElector('replica-a');

    await eventually(() => expect(elector.isLeader).toBe(true));
    expect(transitions).toEqual(['started']);
    const created = lease();
    expect(created.spec).toMatchObject({
      holderIdentity: 'replica-a',
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    expect(server.calls('POST', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`)).toHaveLength(1);

    await eventually(() => expect(server.calls('PUT', LEASE).length).toBeGreaterThanOrEqual(3));
    const renewed = lease();
    expect(renewed.spec.renewTime).not.toBe(created.spec.renewTime);
    expect(renewed.spec.acquireTime).toBe(created.spec.acquireTime);
    expect(renewed.spec.leaseTransitions).toBe(0);
    // Renewals replace the Lease they last wrote (optimistic concurrency), without reading it again.
    expect(server.calls('GET', LEASE)).toHaveLength(1);
    expect(server.calls('PUT', LEASE).every((r) => r.body.metadata.resourceVersion)).toBe(true);
    expect(elector.holder).toBe('replica-a');

    await elector.stop();
    expect(transitions).toEqual(['started', 'stopped']);
    expect(lease().spec.holderIdentity).toBeUndefined();
    expect(lease().spec.leaseDurationSeconds).toBe(1);
    expect(elector.isLeader).toBe(false);
  });

  it("takes another holder's Lease only once it went unrenewed for the lease duration, on its own clock", async () => {
    await startServer();
    // Renewed an hour ago by the other replica's clock: no reason to believe it.
    const longAgo = new Date(Date.now() - 3_600_000).toISOString();
    leases.put(NS, NAME, {
      holderIdentity: 'other',
      leaseDurationSeconds: 1,
      renewTime: longAgo,
      leaseTransitions: 4,
    });
    const t0 = Date.now();
    const { elector } = startElector('replica-b');

    await sleep(600);
    expect(elector.isLeader).toBe(false);
    expect(lease().spec.holderIdentity).toBe('other');
    await eventually(() => expect(elector.isLeader).toBe(true));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(lease().spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 5 });
    expect(lease().spec.acquireTime).not.toBe(longAgo);
  });

  it('leaves the Lease to a holder that keeps renewing it', async () => {
    await startServer();
    const renew = () =>
      leases.put(NS, NAME, {
        holderIdentity: 'other',
        leaseDurationSeconds: 1,
        renewTime: new Date().toISOString(),
      });
    renew();
    const timer = setInterval(renew, 200);
    try {
      const { elector } = startElector('replica-b');
      await sleep(2000);
      expect(elector.isLeader).toBe(false);
      expect(elector.holder).toBe('other');
      expect(server.calls('PUT', LEASE)).toEqual([]);
    } finally {
      clearInterval(timer);
    }
  });

  it('steps down once it could not renew for the renew deadline (a hung apiserver)', async () => {
    await startServer();
    const { elector, log, transitions } = startElector('replica-a');
    await eventually(() => expect(elector.isLeader).toBe(true));

    const hung: ServerResponse[] = [];
    server.handler = (_req, res) => {
      hung.push(res);
    };
    const hungAt = Date.now();
    // isLeader turns false by itself as soon as the last renewal is renewDeadline old...
    await eventually(() => expect(elector.isLeader).toBe(false));
    expect(Date.now() - hungAt).toBeLessThan(600 + 400);
    // ...and the loop steps down: each attempt gives up after renewDeadline / 2.
    await eventually(() => expect(transitions).toEqual(['started', 'stopped']));
    expect(Date.now() - hungAt).toBeLessThan(2000);
    expect(hung.length).toBeGreaterThanOrEqual(2);
    const warnings = log.entries.filter((e) => e.level === 'warn').map((e) => e.msg);
    expect(warnings).toContain('leader election request failed'); // each timed-out attempt
    expect(warnings).toContain('could not renew the leader Lease in time; stepping down');
  });

  it('reads the Lease again after a conflict and does not overwrite a new holder', async () => {
    await startServer();
    const { elector, log, transitions } = startElector('replica-a');
    await eventually(() => expect(elector.isLeader).toBe(true));
    const reads = server.calls('GET', LEASE).length;

    // Another replica writes the Lease (and keeps renewing it).
    const renew = () =>
      leases.put(NS, NAME, {
        holderIdentity: 'intruder',
        leaseDurationSeconds: 1,
        renewTime: new Date().toISOString(),
      });
    renew();
    const timer = setInterval(renew, 200);
    try {
      await eventually(() => expect(server.calls('GET', LEASE).length).toBeGreaterThan(reads));
      expect(log.entries.some((e) => e.msg === 'Lease changed under us (409); will re-read it')).toBe(true);
      await eventually(() => expect(transitions).toEqual(['started', 'stopped']));
      await sleep(1200);
      expect(transitions).toEqual(['started', 'stopped']);
      expect(lease().spec.holderIdentity).toBe('intruder');
    } finally {
      clearInterval(timer);
    }
  });

  it('hands over at once when the leader releases the Lease', async () => {
    await startServer();
    // A long lease: a takeover well within it can only come from the release.
    const timings = { leaseDurationMs: 10_000, renewDeadlineMs: 4000, retryPeriodMs: 100 };
    const a = startElector('replica-a', timings);
    await eventually(() => expect(a.elector.isLeader).toBe(true));
    const b = startElector('replica-b', timings);
    for (let i = 0; i < 10; i++) {
      await sleep(50);
      expect(b.elector.isLeader).toBe(false);
    }
    const stoppedAt = Date.now();
    await a.elector.stop();
    await eventually(() => expect(b.elector.isLeader).toBe(true));
    expect(Date.now() - stoppedAt).toBeLessThan(2000);
    expect(lease().spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
  });
});
