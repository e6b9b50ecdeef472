// deploy/ (kustomize base) against a real kube-apiserver: it renders, passes a
// server-side dry run, and its RBAC is exactly enough: the ServiceAccount can do
// what the controller does (checked with `kubectl auth can-i` and by running the
// source and status writer with its token) and nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type ClusterInfo, serviceAccountKubeconfig } from '../../hack/cluster.ts';
import { expectControllerPermissions, expectControllerWorks } from './controller-rbac.ts';
import {
  Admin,
  adminKubeConfig,
  clusterDir,
  down,
  execFileP,
  kubectl,
  quiet,
  REPO_ROOT,
  upWithCrd,
} from './controller-support.ts';

const dir = clusterDir('controller-deploy-test');
let cluster: ClusterInfo;
let admin: Admin;
let saKubeconfig: string;

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests
type Doc = any;
let docs: Doc[];
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);

describe('deploy/ (kustomize base)', () => {
  beforeAll(async () => {
    cluster = await upWithCrd(dir);
    admin = new Admin(adminKubeConfig(cluster));
    const rendered = await kubectl(cluster.kubeconfigPath, 'kustomize', `${REPO_ROOT}/deploy`);
    docs = parseAllDocuments(rendered).map((d) => d.toJS());
  }, 900_000);

  afterAll(async () => {
    await down(dir);
  }, 60_000);

  it('renders the expected objects', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'ClusterRole/lambda-ingress',
      'ClusterRoleBinding/lambda-ingress',
      'Deployment/lambda-ingress',
      'Namespace/lambda-ingress',
      'PodDisruptionBudget/lambda-ingress',
      'Role/lambda-ingress-leader-election',
      'RoleBinding/lambda-ingress-leader-election',
      'Service/lambda-ingress',
      'ServiceAccount/lambda-ingress',
    ]);
    for (const d of docs)
      if (d.kind !== 'Namespace' && !d.kind.startsWith('Cluster')) {
        expect(d.metadata.namespace).toBe('lambda-ingress');
      }

    const deployment = find('Deployment', 'lambda-ingress');
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('lambda-ingress');
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    const [container] = pod.containers;
    expect(container.image).toBe('lambda-ingress:dev');
    // The admin port on the pod IP only: probes and scrapes reach it there, and it is not on every address.
    expect(container.args).toEqual(['controller', '--admin-host=$(POD_IP)']);
    expect(deployment.spec.template.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9091',
      'prometheus.io/path': '/metrics',
    });
    expect(container.ports).toEqual([
      { name: 'http', containerPort: 9080, protocol: 'TCP' },
      { name: 'https', containerPort: 9443, protocol: 'TCP' },
      { name: 'admin', containerPort: 9091, protocol: 'TCP' },
    ]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.resources).toEqual({
      requests: { cpu: '100m', memory: '192Mi' },
      limits: { cpu: '1', memory: '768Mi' },
    });
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const env = Object.fromEntries(container.env.map((e: Doc) => [e.name, e.valueFrom.fieldRef.fieldPath]));
    expect(env).toEqual({
      POD_IP: 'status.podIP',
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
    });

    // Clients get the data plane only; /metrics and the probes are not published.
    const service = find('Service', 'lambda-ingress');
    expect(service.spec.ports).toEqual([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
    ]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(find('PodDisruptionBudget', 'lambda-ingress').spec).toEqual({
      minAvailable: 1,
      selector: { matchLabels: deployment.spec.selector.matchLabels },
    });

    // No wildcards anywhere in the RBAC.
    for (const role of docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role')) {
      for (const rule of role.rules) {
        expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
      }
    }
  });

  it('leaves the Ingress to an example overlay, which names a class and a host', async () => {
    const overlay = parseAllDocuments(
      await kubectl(cluster.kubeconfigPath, 'kustomize', `${REPO_ROOT}/overlays/example-ingress`),
    ).map((d) => d.toJS());
    expect(overlay.map((d: Doc) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(
      [...docs.map((d) => `${d.kind}/${d.metadata.name}`), 'Ingress/lambda-ingress'].sort(),
    );
    const ingress = overlay.find((d: Doc) => d.kind === 'Ingress');
    expect(ingress.metadata.namespace).toBe('lambda-ingress');
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.rules).toEqual([
      {
        host: 'api.example.com',
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: 'lambda-ingress', port: { name: 'http' } } },
            },
          ],
        },
      },
    ]);
  });

  it('passes a server-side dry run, then applies', async () => {
    // A dry run cannot create the Namespace its other objects go into: create that first.
    await kubectl(cluster.kubeconfigPath, 'apply', '-f', `${REPO_ROOT}/deploy/namespace.yaml`);
    const dryRun = await execFileP(
      'kubectl',
      ['apply', '--dry-run=server', '-k', `${REPO_ROOT}/deploy`, '--kubeconfig', cluster.kubeconfigPath],
      { cwd: REPO_ROOT },
    );
    expect(dryRun.stdout).toContain('deployment.apps/lambda-ingress created (server dry run)');
    expect(dryRun.stderr).not.toMatch(/PodSecurity|Warning/);
    const applied = await kubectl(cluster.kubeconfigPath, 'apply', '-k', `${REPO_ROOT}/deploy`);
    expect(applied).toContain('clusterrole.rbac.authorization.k8s.io/lambda-ingress created');
    const overlay = await kubectl(
      cluster.kubeconfigPath,
      'apply',
      '--dry-run=server',
      '-k',
      `${REPO_ROOT}/overlays/example-ingress`,
    );
    expect(overlay).toContain('ingress.networking.k8s.io/lambda-ingress created (server dry run)');
  });

  it('grants the ServiceAccount what the controller needs and nothing more', async () => {
    ({ kubeconfigPath: saKubeconfig } = await serviceAccountKubeconfig({
      dir,
      log: quiet,
      namespace: 'lambda-ingress',
      name: 'lambda-ingress',
    }));
    await expectControllerPermissions(saKubeconfig, { leaseNamespace: 'lambda-ingress', watched: [] });
  });

  it('runs the source and the status writer as that ServiceAccount without a single denial', async () => {
    await expectControllerWorks(saKubeconfig, admin, cluster.kubeconfigPath, {
      leaseNamespace: 'lambda-ingress',
      watched: [],
      routeNamespace: 'rbac-app',
    });
  });
});
