// `npm run chart:lint`: `helm lint --strict` on charts/lambda-ingress with each
// value set below, then renders each with `helm template` and compares it with
// test/chart/testdata/<case>.yaml (reviewed as data; test/chart/chart.test.ts
// checks what they say), and checks that each bad value set is refused with
// its message. `npm run chart:golden:update` rewrites the golden files.
// helm is built by hack/build-helm.sh on first use (HELM_BIN overrides it).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const CHART_DIR = path.join(REPO_ROOT, 'charts', 'lambda-ingress');
export const GOLDEN_DIR = path.join(REPO_ROOT, 'test', 'chart', 'testdata');

export interface ChartCase {
  name: string;
  /** Default lambda-ingress, in namespace lambda-ingress. */
  release?: string;
  namespace?: string;
  values: object;
}

export const CHART_CASES: ChartCase[] = [
  { name: 'defaults', values: {} },
  { name: 'single-replica', values: { replicaCount: 1 } },
  {
    name: 'watch-namespaces',
    release: 'teams',
    namespace: 'ingress-system',
    values: { watchNamespaces: ['team-a', 'team-b'] },
  },
  {
    name: 'service-monitor',
    values: { metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } } },
  },
  {
    name: 'irsa',
    values: {
      serviceAccount: {
        annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/lambda-ingress' },
      },
      extraEnv: [{ name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'regional' }],
    },
  },
  { name: 'extra-args', values: { extraArgs: ['--trusted-proxy=10.0.0.0/8', '--log-level=debug'] } },
  {
    name: 'tls',
    values: {
      tls: { secretName: 'fallback-tls', redirectHttp: true },
      service: { type: 'NodePort', nodePorts: { https: 30443 } },
    },
  },
  { name: 'tls-disabled', values: { tls: { enabled: false } } },
  {
    name: 'load-balancer-and-ingress',
    values: {
      service: {
        type: 'LoadBalancer',
        annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'external' },
        externalTrafficPolicy: 'Local',
      },
      ingress: { enabled: true, hosts: ['api.example.com'] },
    },
  },
];

/** Value sets the chart must refuse, with (part of) the message helm prints. */
export const BAD_CASES: { name: string; values: object; error: string }[] = [
  { name: 'a misspelt key', values: { replicas: 3 }, error: "additional properties 'replicas' not allowed" },
  {
    name: 'replicaCount as text',
    values: { replicaCount: 'two' },
    error: "at '/replicaCount': got string, want integer",
  },
  {
    name: 'an invalid namespace name',
    values: { watchNamespaces: ['Team_A'] },
    error: "at '/watchNamespaces/0': 'Team_A' does not match pattern",
  },
  {
    name: 'a default certificate in a namespace that is not watched',
    values: { watchNamespaces: ['team-a'], tls: { secretName: 'fallback' } },
    error: "tls.secretName: the default certificate is read from the release's namespace",
  },
  {
    name: 'a default certificate that is no Secret name',
    values: { tls: { secretName: 'ns/fallback' } },
    error: "at '/tls/secretName': 'ns/fallback' does not match pattern",
  },
  {
    name: 'a ServiceMonitor without the metrics Service',
    values: { metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } },
    error: 'set metrics.service.enabled too',
  },
  {
    name: 'no ServiceAccount to use',
    values: { serviceAccount: { create: false } },
    error: 'serviceAccount.name: set the name of an existing ServiceAccount',
  },
];

function helmBinary(): string {
  const build = spawnSync('bash', [path.join(REPO_ROOT, 'hack', 'build-helm.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const bin = build.stdout.trim().split('\n').pop();
  if (build.status !== 0 || !bin) throw new Error(`hack/build-helm.sh failed (exit ${build.status})`);
  return bin;
}

function helm(bin: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

function goldenHeader(c: ChartCase, release: string, namespace: string): string {
  const values = Object.keys(c.values).length ? stringify(c.values).trimEnd() : '{}';
  return [
    '# Rendered by `npm run chart:lint` (hack/chart.ts); `npm run chart:golden:update` rewrites it.',
    `# helm template ${release} charts/lambda-ingress --namespace ${namespace}, with values:`,
    ...values.split('\n').map((line) => `#   ${line}`),
    '',
  ].join('\n');
}

function main(): void {
  const update = process.env['UPDATE_GOLDEN'] === '1';
  const bin = helmBinary();
  const work = mkdtempSync(path.join(tmpdir(), 'lambda-ingress-chart-'));
  const failures: string[] = [];
  try {
    const valuesFile = (name: string, values: object) => {
      const file = path.join(work, `${name.replaceAll(/\W+/g, '-')}.json`);
      writeFileSync(file, JSON.stringify(values));
      return file;
    };
    for (const c of CHART_CASES) {
      const release = c.release ?? 'lambda-ingress';
      const namespace = c.namespace ?? 'lambda-ingress';
      const values = valuesFile(c.name, c.values);
      const lint = helm(bin, ['lint', '--strict', CHART_DIR, '--namespace', namespace, '--values', values]);
      if (!lint.ok) failures.push(`helm lint, ${c.name}:\n${lint.stdout}${lint.stderr}`);
      const rendered = helm(bin, [
        'template',
        release,
        CHART_DIR,
        '--namespace',
        namespace,
        '--values',
        values,
      ]);
      if (!rendered.ok) {
        failures.push(`helm template, ${c.name}:\n${rendered.stderr}`);
        continue;
      }
      const actual = goldenHeader(c, release, namespace) + rendered.stdout;
      const golden = path.join(GOLDEN_DIR, `${c.name}.yaml`);
      if (update) writeFileSync(golden, actual);
      let expected = '';
      try {
        expected = readFileSync(golden, 'utf8');
      } catch {}
      if (actual !== expected) {
        failures.push(
          `${path.relative(REPO_ROOT, golden)} is not what the chart renders: run \`npm run chart:golden:update\` and review the diff`,
        );
      }
    }
    for (const c of BAD_CASES) {
      const r = helm(bin, [
        'template',
        'lambda-ingress',
        CHART_DIR,
        '--values',
        valuesFile(c.name, c.values),
      ]);
      if (r.ok || !r.stderr.includes(c.error)) {
        failures.push(
          `${c.name}: expected helm to refuse it with "${c.error}", got ${r.ok ? 'success' : r.stderr}`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const checked = `${CHART_CASES.length} value sets, ${BAD_CASES.length} refused`;
  if (failures.length) {
    process.stderr.write(`chart: FAIL (${checked})\n${failures.join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`chart: ok (${checked})${update ? '; golden files written' : ''}\n`);
}

if (import.meta.main) {
  try {
    main();
  } catch (error) {
    process.stderr.write(`chart: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
