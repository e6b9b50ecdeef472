// The Helm chart, as rendered into test/chart/testdata (`npm run chart:lint`
// keeps those in step with the chart), against a real kube-apiserver: each
// value set passes a server-side dry run in a namespace enforcing the
// restricted Pod Security profile, applies, and its RBAC is exactly enough, for
// all namespaces (a ClusterRole) and with watchNamespaces (Roles).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CHART_CASES, GOLDEN_DIR } from '../../hack/chart.ts';
import { type ClusterInfo, serviceAccountKubeconfig } from '../../hack/cluster.ts';
import {
  type ControllerScope,
  expectControllerPermissions,
  expectControllerWorks,
} from './controller-rbac.ts';
import {
  Admin,
  adminKubeConfig,
  clusterDir,
  down,
  execFileP,
  kubectl,
  quiet,
  upWithCrd,
} from './controller-support.ts';

const dir = clusterDir('chart-test');
let cluster: ClusterInfo;
let admin: Admin;

const rendered = (name: string) => path.join(GOLDEN_DIR, `${name}.yaml`);

/**
 * What the rendered Deployment runs the controller with: its --namespace
 * flags, and its own namespace (POD_NAMESPACE, where its Lease lives).
 */
function scopeOf(name: string): ControllerScope {
  const deployment = parseAllDocuments(readFileSync(rendered(name), 'utf8'))
    .map((d) => d.toJS())
    .find((d) => d?.kind === 'Deployment');
  const args: string[] = deployment.spec.template.spec.containers[0].args;
  return {
    leaseNamespace: deployment.metadata.namespace,
    watched: args.filter((a) => a.startsWith('--namespace=')).map((a) => a.slice('--namespace='.length)),
  };
}

async function restrictedNamespace(name: string): Promise<void> {
  await admin.core.createNamespace({
    body: {
      metadata: {
        name,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    },
  });
}

/** `kubectl apply --dry-run=server`: its stdout; warnings (Pod Security among them) fail the test. */
async function dryRun(file: string): Promise<string> {
  const r = await execFileP('kubectl', [
    'apply',
    '--dry-run=server',
    '-f',
    file,
    '--kubeconfig',
    cluster.kubeconfigPath,
  ]);
  expect(r.stderr, file).not.toMatch(/PodSecurity|Warning/);
  return r.stdout;
}

const saKubeconfig = async (namespace: string, name: string) =>
  (await serviceAccountKubeconfig({ dir, log: quiet, namespace, name, create: false })).kubeconfigPath;

describe('charts/lambda-ingress on a kube-apiserver', () => {
  beforeAll(async () => {
    cluster = await upWithCrd(dir);
    admin = new Admin(adminKubeConfig(cluster));
  }, 900_000);

  afterAll(async () => {
    await down(dir);
  }, 60_000);

  describe('defaults: all namespaces', () => {
    it('passes a server-side dry run, then applies', async () => {
      await restrictedNamespace('lambda-ingress');
      expect(await dryRun(rendered('defaults'))).toContain(
        'deployment.apps/lambda-ingress created (server dry run)',
      );
      const applied = await kubectl(cluster.kubeconfigPath, 'apply', '-f', rendered('defaults'));
      expect(applied).toContain('clusterrole.rbac.authorization.k8s.io/lambda-ingress created');
      expect(applied).toContain('service/lambda-ingress-metrics created');
    });

    it('grants the ServiceAccount what the controller needs and nothing more', async () => {
      const kubeconfig = await saKubeconfig('lambda-ingress', 'lambda-ingress');
      const scope = scopeOf('defaults');
      expect(scope).toEqual({ leaseNamespace: 'lambda-ingress', watched: [] });
      await expectControllerPermissions(kubeconfig, scope);
    });

    it('runs the source and the status writer as that ServiceAccount without a single denial', async () => {
      await expectControllerWorks(
        await saKubeconfig('lambda-ingress', 'lambda-ingress'),
        admin,
        cluster.kubeconfigPath,
        { ...scopeOf('defaults'), routeNamespace: 'chart-app' },
      );
    });

    // The ServiceMonitor needs the Prometheus Operator's CRDs, which this API server does not have.
    const others = CHART_CASES.filter(
      (c) => !['defaults', 'watch-namespaces', 'service-monitor'].includes(c.name),
    );
    it.each(others.map((c) => c.name))('%s passes a server-side dry run', async (name) => {
      expect(await dryRun(rendered(name))).toMatch(
        /^deployment\.apps\/lambda-ingress (configured|unchanged) \(server dry run\)$/m,
      );
    });
  });

  describe('watchNamespaces: team-a and team-b, released in ingress-system', () => {
    const scope = scopeOf('watch-namespaces');

    it('passes a server-side dry run, then applies', async () => {
      await restrictedNamespace('ingress-system');
      for (const ns of ['team-a', 'team-b', 'team-c']) await admin.namespace(ns);
      const dry = await dryRun(rendered('watch-namespaces'));
      expect(dry).toContain('deployment.apps/teams-lambda-ingress created (server dry run)');
      const applied = await kubectl(cluster.kubeconfigPath, 'apply', '-f', rendered('watch-namespaces'));
      expect(applied).toContain('role.rbac.authorization.k8s.io/teams-lambda-ingress created');
      expect(applied).not.toContain('clusterrole');
    });

    it('grants the ServiceAccount what the controller needs in those namespaces only', async () => {
      expect(scope).toEqual({ leaseNamespace: 'ingress-system', watched: ['team-a', 'team-b'] });
      const kubeconfig = await saKubeconfig('ingress-system', 'teams-lambda-ingress');
      await expectControllerPermissions(kubeconfig, scope, 'team-c');
    });

    it('runs the source and the status writer, watching those namespaces, without a single denial', async () => {
      await expectControllerWorks(
        await saKubeconfig('ingress-system', 'teams-lambda-ingress'),
        admin,
        cluster.kubeconfigPath,
        { ...scope, routeNamespace: 'team-b' },
      );
    });
  });
});
