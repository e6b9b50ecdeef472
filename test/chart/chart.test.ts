// What the Helm chart renders, read from the golden files `npm run chart:lint`
// keeps in step with the chart (test/chart/testdata/<case>.yaml): the objects
// each value set gives, and that RBAC and security settings are those of
// deploy/ (the kustomize base), so both installs grant and run the same.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { CHART_CASES, CHART_DIR, GOLDEN_DIR } from '../../hack/chart.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests
type Doc = any;
const docsOf = (text: string): Doc[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS())
    .filter(Boolean);
const golden = (name: string) => docsOf(readFileSync(path.join(GOLDEN_DIR, `${name}.yaml`), 'utf8'));
const deployBase = (file: string) => docsOf(readFileSync(path.join(REPO_ROOT, 'deploy', file), 'utf8'));
const kinds = (docs: Doc[]) =>
  docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`).sort();
const find = (docs: Doc[], kind: string, name?: string): Doc => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0];
};
const container = (docs: Doc[]) => find(docs, 'Deployment').spec.template.spec.containers[0];

describe('charts/lambda-ingress', () => {
  it('has one golden file per value set and no stale ones', () => {
    expect(readdirSync(GOLDEN_DIR).sort()).toEqual(CHART_CASES.map((c) => `${c.name}.yaml`).sort());
  });

  it("installs the app version of package.json, as the chart's appVersion", () => {
    const chart = parse(readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8'));
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(chart.appVersion).toBe(pkg.version);
    expect(container(golden('defaults')).image).toBe(`lambda-ingress:${pkg.version}`);
  });

  it('renders by default what deploy/ has, with the admin port behind its own Service', () => {
    const docs = golden('defaults');
    expect(kinds(docs)).toEqual([
      'ClusterRole//lambda-ingress',
      'ClusterRoleBinding//lambda-ingress',
      'Deployment/lambda-ingress/lambda-ingress',
      'PodDisruptionBudget/lambda-ingress/lambda-ingress',
      'Role/lambda-ingress/lambda-ingress-leader-election',
      'RoleBinding/lambda-ingress/lambda-ingress-leader-election',
      'Service/lambda-ingress/lambda-ingress',
      'Service/lambda-ingress/lambda-ingress-metrics',
      'ServiceAccount/lambda-ingress/lambda-ingress',
    ]);
    const deployment = find(docs, 'Deployment');
    const base = find(deployBase('deployment.yaml'), 'Deployment');
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy).toEqual(base.spec.strategy);
    const pod = deployment.spec.template.spec;
    const basePod = base.spec.template.spec;
    expect(pod.securityContext).toEqual(basePod.securityContext);
    expect(pod.terminationGracePeriodSeconds).toBe(basePod.terminationGracePeriodSeconds);
    expect(pod.volumes).toEqual(basePod.volumes);
    const selector = deployment.spec.selector.matchLabels;
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selector },
      },
    ]);
    const c = pod.containers[0];
    const baseContainer = basePod.containers[0];
    for (const field of ['securityContext', 'resources', 'volumeMounts', 'ports'])
      expect(c[field], field).toEqual(baseContainer[field]);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
      expect(c[probe], probe).toEqual(baseContainer[probe]);
    // The admin port listens on the pod IP (the kubelet's probes and Prometheus reach it there).
    expect(c.args).toEqual([
      'controller',
      '--port=9080',
      '--tls-port=9443',
      '--admin-port=9091',
      '--admin-host=$(POD_IP)',
    ]);
    expect(Object.fromEntries(c.env.map((e: Doc) => [e.name, e.valueFrom.fieldRef.fieldPath]))).toEqual({
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
      POD_IP: 'status.podIP',
    });

    const service = find(docs, 'Service', 'lambda-ingress');
    expect(service.spec).toEqual({
      type: 'ClusterIP',
      selector,
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
      ],
    });
    // deploy/'s Service publishes the same ports.
    expect(service.spec.ports).toEqual(find(deployBase('service.yaml'), 'Service').spec.ports);
    const metrics = find(docs, 'Service', 'lambda-ingress-metrics');
    expect(metrics.spec).toEqual({
      type: 'ClusterIP',
      selector,
      ports: [{ name: 'metrics', port: 9091, targetPort: 'admin', protocol: 'TCP' }],
    });
    expect(find(docs, 'PodDisruptionBudget').spec).toEqual({
      minAvailable: 1,
      selector: { matchLabels: selector },
    });
    expect(find(docs, 'ServiceAccount').metadata.annotations).toBeUndefined();
  });

  it('grants exactly the rules of deploy/rbac.yaml, bound to its ServiceAccount', () => {
    const docs = golden('defaults');
    const base = deployBase('rbac.yaml');
    expect(find(docs, 'ClusterRole').rules).toEqual(find(base, 'ClusterRole').rules);
    expect(find(docs, 'Role').rules).toEqual(find(base, 'Role').rules);
    const subject = { kind: 'ServiceAccount', name: 'lambda-ingress', namespace: 'lambda-ingress' };
    expect(find(docs, 'ClusterRoleBinding').subjects).toEqual([subject]);
    expect(find(docs, 'ClusterRoleBinding').roleRef.name).toBe('lambda-ingress');
    expect(find(docs, 'RoleBinding').subjects).toEqual([subject]);
    expect(find(docs, 'RoleBinding').roleRef.name).toBe('lambda-ingress-leader-election');
  });

  it('has no PodDisruptionBudget with one replica (it would block node drains)', () => {
    const docs = golden('single-replica');
    expect(find(docs, 'Deployment').spec.replicas).toBe(1);
    expect(docs.filter((d) => d.kind === 'PodDisruptionBudget')).toEqual([]);
  });

  it('watchNamespaces: a --namespace flag, a Role and a RoleBinding for each, and nothing cluster-wide', () => {
    const docs = golden('watch-namespaces');
    expect(docs.filter((d) => d.kind.startsWith('Cluster'))).toEqual([]);
    expect(container(docs).args).toEqual([
      'controller',
      '--port=9080',
      '--tls-port=9443',
      '--admin-port=9091',
      '--admin-host=$(POD_IP)',
      '--namespace=team-a',
      '--namespace=team-b',
    ]);
    const base = deployBase('rbac.yaml');
    const subject = { kind: 'ServiceAccount', name: 'teams-lambda-ingress', namespace: 'ingress-system' };
    for (const namespace of ['team-a', 'team-b']) {
      const [role] = docs.filter((d) => d.kind === 'Role' && d.metadata.namespace === namespace);
      const [binding] = docs.filter((d) => d.kind === 'RoleBinding' && d.metadata.namespace === namespace);
      expect(role.rules).toEqual(find(base, 'ClusterRole').rules);
      expect(binding.roleRef).toEqual({
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: role.metadata.name,
      });
      expect(binding.subjects).toEqual([subject]);
    }
    const leader = find(docs, 'Role', 'teams-lambda-ingress-leader-election');
    expect(leader.metadata.namespace).toBe('ingress-system');
    expect(leader.rules).toEqual(find(base, 'Role').rules);
  });

  it('metrics.serviceMonitor: scrapes /metrics on the metrics Service of this release', () => {
    const docs = golden('service-monitor');
    const monitor = find(docs, 'ServiceMonitor');
    const metrics = find(docs, 'Service', 'lambda-ingress-metrics');
    expect(monitor.metadata.labels.release).toBe('prometheus');
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: ['lambda-ingress'] });
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels))
      expect(metrics.metadata.labels[key], key).toBe(value);
    // The client-facing Service must not match: it has no metrics port.
    expect(find(docs, 'Service', 'lambda-ingress').metadata.labels['app.kubernetes.io/component']).not.toBe(
      monitor.spec.selector.matchLabels['app.kubernetes.io/component'],
    );
    expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
    expect(metrics.spec.ports.map((p: Doc) => p.name)).toEqual(['metrics']);
  });

  it('IRSA: the role annotation on the ServiceAccount, extra environment on the container', () => {
    const docs = golden('irsa');
    expect(find(docs, 'ServiceAccount').metadata.annotations).toEqual({
      'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/lambda-ingress',
    });
    expect(container(docs).env.at(-1)).toEqual({ name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' });
  });

  it('extraArgs come after the flags the chart sets', () => {
    expect(container(golden('extra-args')).args.slice(-2)).toEqual([
      '--trusted-proxy=10.0.0.0/8',
      '--log-level=debug',
    ]);
  });

  it('service and ingress values: a LoadBalancer keeping client IPs, an Ingress with no class assumed', () => {
    const docs = golden('load-balancer-and-ingress');
    const service = find(docs, 'Service', 'lambda-ingress');
    expect(service.metadata.annotations).toEqual({
      'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
    });
    expect(service.spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
    const ingress = find(docs, 'Ingress');
    expect(ingress.spec.ingressClassName).toBeUndefined();
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

  it('tls: the default certificate from the release namespace, --redirect-http, an https node port', () => {
    const docs = golden('tls');
    expect(container(docs).args).toEqual([
      'controller',
      '--port=9080',
      '--tls-port=9443',
      '--default-certificate=lambda-ingress/fallback-tls',
      '--redirect-http',
      '--admin-port=9091',
      '--admin-host=$(POD_IP)',
    ]);
    expect(find(docs, 'Service', 'lambda-ingress').spec.ports[1]).toEqual({
      name: 'https',
      port: 443,
      targetPort: 'https',
      protocol: 'TCP',
      nodePort: 30443,
    });
  });

  it('tls.enabled false: no https port on the pod or the Service', () => {
    const docs = golden('tls-disabled');
    expect(container(docs).args).not.toContain('--tls-port=9443');
    expect(container(docs).ports.map((p: Doc) => p.name)).toEqual(['http', 'admin']);
    expect(find(docs, 'Service', 'lambda-ingress').spec.ports.map((p: Doc) => p.name)).toEqual(['http']);
  });

  it('never grants a wildcard', () => {
    for (const c of CHART_CASES)
      for (const role of golden(c.name).filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role'))
        for (const rule of role.rules)
          expect([...rule.apiGroups, ...rule.resources, ...rule.verbs], c.name).not.toContain('*');
  });
});
