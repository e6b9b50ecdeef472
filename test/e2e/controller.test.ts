// lambda-ingress controller end to end: a real kube-apiserver and etcd, the
// controller as separate processes running as the deploy/ ServiceAccount
// (so its RBAC is tested for real), kubectl applying the manifests, and the
// AWS emulator checking every signature.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterInfo,
  serviceAccountKubeconfig,
  startApiserver,
  stopApiserver,
} from '../../hack/cluster.ts';
import { freePorts } from '../../hack/lib/ports.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { send } from '../support/http.ts';
import { type LoadResult, underLoad } from '../support/load.ts';
import { credentialsSecret, lambdaRoute } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';
import {
  clusterDir,
  down,
  eventually,
  kubectl,
  quiet,
  REPO_ROOT,
  sleep,
  upWithCrd,
} from './controller-support.ts';

const DIR = clusterDir('e2e-controller');
const OLD = { accessKeyId: 'AKIAE2EOLDKEY', secretAccessKey: 'e2e-old-secret' };
const NEW = { accessKeyId: 'AKIAE2ENEWKEY', secretAccessKey: 'e2e-new-secret' };

let cluster: ClusterInfo;
let admin: string;
let saKubeconfig: string;
let emulator: Emulator;

interface Controller {
  proc: RunningProcess;
  url: string;
  adminUrl: string;
  name: string;
}
const controllers: Controller[] = [];

async function startController(name: string): Promise<Controller> {
  const [port, adminPort] = await freePorts(2);
  const proc = startCli(
    [
      'controller',
      '--kubeconfig',
      saKubeconfig,
      ...listenOn(port, adminPort),
      '--lease-namespace',
      'lambda-ingress',
      '--shutdown-grace',
      '5s',
    ],
    { POD_NAME: name },
  );
  const controller = {
    proc,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    name,
  };
  controllers.push(controller);
  await waitFor200(`${controller.adminUrl}/readyz`, 30_000, proc);
  return controller;
}

/** kubectl apply -f - as the cluster admin. */
function apply(yaml: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['apply', '-f', '-', '--kubeconfig', admin], { cwd: REPO_ROOT });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(out))));
    child.stdin.end(yaml);
  });
}

const secretYaml = (keys: typeof OLD) => credentialsSecret('aws-creds', keys);
const routeYaml = (name: string, routePath: string, target: string) =>
  lambdaRoute(
    name,
    `match: {path: ${routePath}}
target: {url: "${emulator.url}${target}"}
auth: {iam: {secretRef: {name: aws-creds}, region: us-east-1, service: execute-api}}`,
  );

async function routeStatus(name: string) {
  const object = JSON.parse(await kubectl(admin, 'get', 'lr', name, '-n', 'default', '-o', 'json'));
  const conditions: { type: string; status: string; reason: string; observedGeneration: number }[] =
    object.status?.conditions ?? [];
  return {
    generation: object.metadata.generation as number,
    byType: Object.fromEntries(conditions.map((c) => [c.type, c])),
  };
}

const get = (c: Controller, p: string) => send(c.url, { path: p });
const metric = async (c: Controller, name: string) => {
  const text = await (await fetch(`${c.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

beforeAll(async () => {
  cluster = await upWithCrd(DIR);
  admin = cluster.kubeconfigPath;
  emulator = await startEmulator({
    credentials: [OLD, NEW],
    endpoints: [
      {
        kind: 'execute-api',
        path: '/prod',
        auth: 'iam',
        handler: (r) => ({
          status: 200,
          body: JSON.stringify({ path: r.path, key: r.signature?.accessKeyId }),
        }),
      },
    ],
  });
  // The real deploy/ base: Namespace, ServiceAccount, RBAC (the Deployment never runs: no kubelet here).
  await kubectl(admin, 'apply', '-f', path.join(REPO_ROOT, 'deploy/namespace.yaml'));
  await kubectl(admin, 'apply', '-k', path.join(REPO_ROOT, 'deploy'));
  saKubeconfig = (
    await serviceAccountKubeconfig({
      dir: DIR,
      namespace: 'lambda-ingress',
      name: 'lambda-ingress',
      create: false,
    })
  ).kubeconfigPath;
  await startController('replica-a');
}, 600_000);

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.proc.stop('SIGKILL')));
  await emulator?.close();
  await down(DIR);
});

describe('lambda-ingress controller', () => {
  it('has the CRD established, and the API server rejects an invalid LambdaRoute naming the fields', async () => {
    const invalid = lambdaRoute(
      'invalid',
      'match: {path: aws}\ntarget: {url: "http://x.internal", function: {name: f}}',
    );
    const error = await apply(invalid).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(error).toContain('spec.match.path');
    expect(error).toContain('spec.target');
    expect(error).toContain('exactly one of spec.target.url or spec.target.function must be set');
  });

  it('serves a new route within 5 s, reports Ready with the observed generation, follows edits and deletion', async () => {
    const [c] = controllers as [Controller];
    await apply(secretYaml(OLD));
    const appliedAt = Date.now();
    await apply(routeYaml('hello', '/hello', '/prod/v1'));
    const served = await eventually(async () => {
      const r = await get(c, '/hello');
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      return r;
    }, 5000);
    expect(Date.now() - appliedAt).toBeLessThan(5000);
    expect(served.json()).toEqual({ path: '/prod/v1', key: OLD.accessKeyId });
    const status = await eventually(async () => {
      const s = await routeStatus('hello');
      if (s.byType['Ready']?.status !== 'True') throw new Error('not ready yet');
      return s;
    });
    expect(status.byType['Ready']!.observedGeneration).toBe(status.generation);

    await apply(routeYaml('hello', '/hello', '/prod/v2'));
    await eventually(async () => expect((await get(c, '/hello')).json().path).toBe('/prod/v2'), 5000);
    const edited = await eventually(async () => {
      const s = await routeStatus('hello');
      if (s.byType['Ready']!.observedGeneration !== s.generation) throw new Error('status not updated yet');
      return s;
    });
    expect(edited.generation).toBe(2);

    await kubectl(admin, 'delete', 'lr', 'hello', '-n', 'default');
    await eventually(async () => expect((await get(c, '/hello')).status).toBe(404), 5000);
  });

  it('answers 503 while the Secret is missing, 200 once it exists, and rotates keys without a failed request', async () => {
    const [c] = controllers as [Controller];
    await kubectl(admin, 'delete', 'secret', 'aws-creds', '-n', 'default');
    await apply(routeYaml('rotating', '/rotating', '/prod/r'));
    const missing = await eventually(async () => {
      const r = await get(c, '/rotating');
      if (r.status !== 503) throw new Error(`status ${r.status}`);
      return r;
    }, 5000);
    expect(missing.json()).toMatchObject({ error: 'route_not_ready', reason: 'SecretNotFound' });
    await eventually(async () => {
      expect((await routeStatus('rotating')).byType['ResolvedRefs']).toMatchObject({
        status: 'False',
        reason: 'SecretNotFound',
      });
    });

    await apply(secretYaml(OLD));
    await eventually(async () => expect((await get(c, '/rotating')).status).toBe(200), 5000);

    let rotatedAt = 0;
    const results = await underLoad(
      c.url,
      '/rotating',
      (r: LoadResult[]) => {
        if (rotatedAt === 0 && r.length > 20) {
          rotatedAt = Date.now();
          void apply(secretYaml(NEW));
        }
        return r.filter((x) => x.text.includes(NEW.accessKeyId)).length > 50;
      },
      { timeoutMs: 20_000 },
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.some((r) => r.text.includes(NEW.accessKeyId))).toBe(true);
  });

  it('serves again after a controller restart', async () => {
    const old = controllers.shift()!;
    expect(await old.proc.stop('SIGTERM')).toBe(0);
    expect(old.proc.output()).toContain('shutting down');
    const restarted = await startController('replica-a');
    controllers.unshift(restarted);
    expect((await get(restarted, '/rotating')).status).toBe(200);
  });

  it('keeps answering 200 through a 20 s API server outage, and picks up changes made after it', async () => {
    const [c] = controllers as [Controller];
    let stoppedAt = 0;
    let restarted = false;
    const outage = (async () => {
      await sleep(500);
      await stopApiserver({ dir: DIR, log: quiet });
      stoppedAt = Date.now();
      await sleep(20_000);
      await startApiserver({ dir: DIR, log: quiet });
      restarted = true;
    })();
    const results = await underLoad(c.url, '/rotating', () => restarted, { clients: 1, timeoutMs: 60_000 });
    await outage;
    expect(stoppedAt).toBeGreaterThan(0);
    const during = results.filter((r) => r.at >= stoppedAt);
    expect(during.length).toBeGreaterThan(50);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect((await fetch(`${c.adminUrl}/readyz`)).status).toBe(200);
    expect(await metric(c, 'lambda_ingress_watch_restarts_total')).toBeGreaterThan(0);

    await apply(routeYaml('after-outage', '/after-outage', '/prod/after'));
    await eventually(async () => expect((await get(c, '/after-outage')).status).toBe(200), 30_000);
  });

  it('runs two replicas that both serve while exactly one holds the Lease; the other takes over when it dies', async () => {
    const b = await startController('replica-b');
    const [a] = controllers as [Controller];
    expect((await get(a, '/rotating')).status).toBe(200);
    expect((await get(b, '/rotating')).status).toBe(200);

    const holder = async () =>
      JSON.parse(
        await kubectl(admin, 'get', 'lease', 'lambda-ingress-leader', '-n', 'lambda-ingress', '-o', 'json'),
      ).spec.holderIdentity as string;
    // Holder identities are the pod name plus a random suffix.
    const leaderName = await holder();
    const [leader, follower] = leaderName.startsWith('replica-a') ? [a, b] : [b, a];
    expect(leaderName.startsWith(leader.name)).toBe(true);
    expect(await metric(leader, 'lambda_ingress_leader')).toBe(1);
    expect(await metric(follower, 'lambda_ingress_leader')).toBe(0);

    // A change is written by the leader only.
    const followerWrites = (await metric(follower, 'lambda_ingress_status_writes_total')) ?? 0;
    await apply(routeYaml('two-replicas', '/two', '/prod/two'));
    await eventually(
      async () => expect((await routeStatus('two-replicas')).byType['Ready']?.status).toBe('True'),
      10_000,
    );
    expect((await metric(follower, 'lambda_ingress_status_writes_total')) ?? 0).toBe(followerWrites);
    expect((await get(follower, '/two')).status).toBe(200);

    const killedAt = Date.now();
    leader.proc.child.kill('SIGKILL');
    await eventually(async () => expect((await holder()).startsWith(follower.name)).toBe(true), 25_000, 250);
    // The follower dates the leader's last renewal by when it saw it, which can be one jittered
    // retry period (2.4 s) after the kill; the Lease then lasts 15 s, and the follower notices
    // at its next attempt, up to another 2.4 s later: 19.8 s at worst, plus API and kubectl round-trips.
    expect(Date.now() - killedAt).toBeLessThan(22_000);
    await eventually(async () => expect(await metric(follower, 'lambda_ingress_leader')).toBe(1), 5000);
    await apply(routeYaml('after-failover', '/failover', '/prod/failover'));
    await eventually(
      async () => expect((await routeStatus('after-failover')).byType['Ready']?.status).toBe('True'),
      10_000,
    );
  });

  it('works with only the permissions deploy/ grants, and is denied the rest', async () => {
    const can = (...args: string[]) =>
      kubectl(saKubeconfig, 'auth', 'can-i', ...args).then(
        (out) => out.trim(),
        (error: { stdout?: string }) => error.stdout?.trim() ?? 'error',
      );
    expect(await can('watch', 'lambdaroutes.lambda-ingress.io', '-A')).toBe('yes');
    expect(
      await can('patch', 'lambdaroutes.lambda-ingress.io', '--subresource=status', '-n', 'default'),
    ).toBe('yes');
    expect(await can('list', 'configmaps', '-A')).toBe('no');
    expect(await can('delete', 'lambdaroutes.lambda-ingress.io', '-n', 'default')).toBe('no');
    expect(await can('create', 'secrets', '-n', 'default')).toBe('no');
  });
});
