// The CRD's own messages, from a real kube-apiserver: the mistakes whose
// wording is ours (CEL messageExpression) read the same in `kubectl apply`
// as in standalone mode.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ClusterInfo } from '../../hack/cluster.ts';
import { validateSpec } from '../../src/api/validate.ts';
import { lambdaRoute } from '../support/manifests.ts';
import { clusterDir, down, REPO_ROOT, upWithCrd } from './controller-support.ts';

const dir = clusterDir('crd-messages-test');
let cluster: ClusterInfo;

beforeAll(async () => {
  cluster = await upWithCrd(dir);
}, 900_000);
afterAll(() => down(dir), 60_000);

/** `kubectl apply -f -`: the exit code and everything it printed. */
function apply(yaml: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('kubectl', ['apply', '-f', '-', '--kubeconfig', cluster.kubeconfigPath], {
      cwd: REPO_ROOT,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(yaml);
  });
}

it.each([
  ['timeout: 3000', { timeout: 3000 }, ['spec.timeout', 'must be a duration such as "3s" (got 3000)']],
  ['timeout: "3000"', { timeout: '3000' }, ['spec.timeout', 'must be a duration such as "3s" (got "3000")']],
  ['timeout: 0s', { timeout: '0s' }, ['spec.timeout', 'must be more than 0s']],
  [
    'keepalive.idleTimeout: 0s',
    { keepalive: { idleTimeout: '0s' } },
    ['spec.keepalive.idleTimeout', 'must be more than 0s'],
  ],
])('refuses %s with the message standalone mode gives', async (_name, fields, [field, message]) => {
  const spec = { match: { path: '/t' }, target: { url: 'http://127.0.0.1:9/x' }, ...fields };
  const standalone = validateSpec(spec);
  expect(standalone.ok ? [] : standalone.failures).toEqual([{ reason: 'Invalid', path: field, message }]);

  const { code, output } = await apply(lambdaRoute('durations', JSON.stringify(spec)));
  expect(code, output).toBe(1);
  expect(output).toContain(`${field}: Invalid value: "": ${message}`);
  expect(output.match(/Invalid value/g), output).toHaveLength(1);
});

it('accepts what standalone mode accepts', async () => {
  const spec = { match: { path: '/t' }, target: { url: 'http://127.0.0.1:9/x' }, timeout: '500ms' };
  expect(validateSpec({ ...spec, keepalive: { idleTimeout: '1m30s' } }).ok).toBe(true);
  const { code, output } = await apply(
    lambdaRoute('durations', JSON.stringify({ ...spec, keepalive: { idleTimeout: '1m30s' } })),
  );
  expect(code, output).toBe(0);
});
