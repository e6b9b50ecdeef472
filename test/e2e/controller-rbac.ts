// Checks of the controller's RBAC, shared by the e2e tests of each way to
// install it (deploy/, the Helm chart): the ServiceAccount can do what the
// controller does (`kubectl auth can-i`, and the source and status writer run
// with its token) and nothing else.
import { expect } from 'vitest';
import { compile } from '../../src/compile/compile.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { kubeconfigAccess } from '../../src/kube/kubeconfig.ts';
import { KubernetesSource } from '../../src/sources/kubernetes.ts';
import { StatusWriter } from '../../src/status/writer.ts';
import { type Admin, CaptureLog, eventually, execFileP, kubectl, routeSpec } from './controller-support.ts';

// biome-ignore lint/suspicious/noExplicitAny: raw API objects
type Doc = any;

/** `kubectl auth can-i` as `kubeconfig`: "yes" or "no" (it exits 1 on "no"). */
export async function canI(kubeconfig: string, ...args: string[]): Promise<string> {
  const r = await execFileP('kubectl', ['auth', 'can-i', ...args, '--kubeconfig', kubeconfig]).catch(
    (err: { stdout?: string; stderr?: string; code?: number }) => {
      if (err.code === 1 && err.stdout) return { stdout: err.stdout };
      throw new Error(`kubectl auth can-i ${args.join(' ')} failed: ${err.stderr}`);
    },
  );
  return r.stdout.trim();
}

export interface ControllerScope {
  /** Where its Lease lives (the controller's own namespace). */
  leaseNamespace: string;
  /** The namespaces it watches (its --namespace flags); empty: all. */
  watched: string[];
}

/**
 * The ServiceAccount behind `kubeconfig` may do what the controller does, in
 * the namespaces it watches, and nothing more: no other verbs or resources, no
 * other Lease, and with `watched` set, nothing outside those namespaces
 * (`unwatched` names one to check).
 */
export async function expectControllerPermissions(
  kubeconfig: string,
  scope: ControllerScope,
  unwatched?: string,
): Promise<void> {
  const lr = 'lambdaroutes.lambda-ingress.io';
  const ns = scope.watched[0] ?? 'default';
  const leases = 'leases.coordination.k8s.io';
  const lease = [leases, '-n', scope.leaseNamespace];
  const reads = (where: string[]) => [
    ['list', lr, ...where],
    ['watch', lr, ...where],
    ['list', 'secrets', ...where],
    ['watch', 'secrets', ...where],
  ];
  const inNamespace = (n: string) => [
    ['patch', lr, '--subresource=status', '-n', n],
    ['update', lr, '--subresource=status', '-n', n],
    ['get', 'secrets', '-n', n],
    ['create', 'events', '-n', n],
    ['patch', 'events', '-n', n],
    ['create', 'events.events.k8s.io', '-n', n],
  ];
  const allowed = [
    ...(scope.watched.length ? scope.watched.flatMap((n) => reads(['-n', n])) : reads(['-A'])),
    ...(scope.watched.length ? scope.watched : [ns]).flatMap(inNamespace),
    ['create', ...lease],
    ['get', `${leases}/lambda-ingress-leader`, ...lease.slice(1)],
    ['update', `${leases}/lambda-ingress-leader`, ...lease.slice(1)],
  ];
  const denied = [
    ['list', 'configmaps', '-n', ns],
    ['list', 'pods', '-A'],
    ['get', lr, '-n', ns],
    ['update', lr, '-n', ns],
    ['patch', lr, '-n', ns],
    ['create', lr, '-n', ns],
    ['delete', lr, '-n', ns],
    ['create', 'secrets', '-n', ns],
    ['update', 'secrets', '-n', ns],
    ['delete', 'events', '-n', ns],
    ['get', `${leases}/someone-else`, ...lease.slice(1)],
    ['delete', `${leases}/lambda-ingress-leader`, ...lease.slice(1)],
    ['update', `${leases}/lambda-ingress-leader`, '-n', 'kube-system'],
    ...(scope.leaseNamespace === ns ? [] : [['create', leases, '-n', ns]]),
    ...(scope.watched.length ? reads(['-A']) : []),
    ...(unwatched ? [...reads(['-n', unwatched]), ...inNamespace(unwatched)] : []),
  ];
  const answers = async (checks: string[][]) =>
    Object.fromEntries(
      await Promise.all(checks.map(async (c) => [c.join(' '), await canI(kubeconfig, ...c)])),
    );
  expect(await answers(allowed)).toEqual(Object.fromEntries(allowed.map((c) => [c.join(' '), 'yes'])));
  expect(await answers(denied)).toEqual(Object.fromEntries(denied.map((c) => [c.join(' '), 'no'])));
}

/**
 * Runs the controller's source and status writer with the ServiceAccount
 * token behind `saKubeconfig`, watching `scope.watched`, against routes in
 * `routeNamespace`, and expects them to do their job without a single denial:
 * status and an Event for a route whose Secret is missing, a Secret fetched
 * with a targeted GET once a route references it, the Lease taken and
 * released.
 */
export async function expectControllerWorks(
  saKubeconfig: string,
  admin: Admin,
  adminKubeconfigPath: string,
  scope: ControllerScope & { routeNamespace: string },
): Promise<void> {
  const ns = scope.routeNamespace;
  await admin.namespace(ns);
  await admin.putSecret(ns, 'present', { apiKey: 'k-rbac' });
  await admin.createRoute(
    ns,
    'missing',
    routeSpec('/missing', { apiKey: { secretRef: { name: 'nope', key: 'apiKey' } } }),
  );
  await admin.createRoute(ns, 'late', routeSpec('/late'));

  const client = new KubeClient(await kubeconfigAccess([saKubeconfig]));
  const log = new CaptureLog();
  let version = 0;
  const source: KubernetesSource = new KubernetesSource({
    reader: client,
    log,
    debounceMs: 50,
    namespaces: scope.watched,
    onSnapshot: (snapshot) => writer.update(compile(snapshot, ++version).diagnostics),
  });
  const writer: StatusWriter = new StatusWriter({
    client,
    namespace: scope.leaseNamespace, // default Lease name: the only one the Role allows
    routes: source,
    leaseDurationMs: 2000,
    renewDeadlineMs: 1500,
    retryPeriodMs: 200,
    log,
  });
  writer.start();
  source.start();
  try {
    await source.waitForSync(AbortSignal.timeout(10_000));
    await eventually(() => expect(writer.isLeader).toBe(true));
    const missing = await eventually(async () => {
      const route = await admin.getRoute(ns, 'missing');
      expect(route.status?.conditions?.find((c: Doc) => c.type === 'Ready')?.reason).toBe('SecretNotFound');
      return route;
    });
    expect(missing.status.observedGeneration).toBe(1);
    await eventually(async () => {
      const events = await admin.core.listNamespacedEvent({ namespace: ns });
      expect(events.items.map((e) => `${e.involvedObject.name}:${e.reason}`)).toEqual([
        'missing:SecretNotFound',
      ]);
    });
    // A Secret fetched with a targeted GET once a route references it.
    await admin.updateRoute(
      ns,
      'late',
      routeSpec('/late', { apiKey: { secretRef: { name: 'present', key: 'apiKey' } } }),
    );
    await eventually(async () => {
      const route = await admin.getRoute(ns, 'late');
      expect(route.status?.observedGeneration).toBe(2);
      expect(route.status?.conditions?.find((c: Doc) => c.type === 'Ready')?.status).toBe('True');
    });
    expect(log.entries.filter((e) => e.level === 'warn' || e.level === 'error')).toEqual([]);
  } finally {
    await writer.stop();
    await source.stop();
  }
  const lease = await kubectl(
    adminKubeconfigPath,
    'get',
    'lease',
    'lambda-ingress-leader',
    '-n',
    scope.leaseNamespace,
    '-o',
    'json',
  );
  expect(JSON.parse(lease).spec.holderIdentity).toBeUndefined(); // released on stop()
}
