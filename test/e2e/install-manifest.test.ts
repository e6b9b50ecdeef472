// `npm run release:manifest` (dist/install.yaml): one file that installs
// lambda-ingress on a cluster that has nothing of it yet, with `kubectl apply -f`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type ClusterInfo, clusterDown, clusterUp } from '../../hack/cluster.ts';
import {
  Admin,
  adminKubeConfig,
  clusterDir,
  down,
  execFileP,
  kubectl,
  quiet,
  REPO_ROOT,
  routeSpec,
} from './controller-support.ts';

const dir = clusterDir('install-manifest-test');
const work = mkdtempSync(path.join(tmpdir(), 'lambda-ingress-install-'));
const manifest = path.join(work, 'install.yaml');
let cluster: ClusterInfo;

describe('release:manifest (dist/install.yaml)', () => {
  beforeAll(async () => {
    await clusterDown({ dir, log: quiet });
    cluster = await clusterUp({ dir, log: quiet }); // no CRD: the file brings it
    await execFileP('node', ['hack/release-manifest.ts', manifest], { cwd: REPO_ROOT });
  }, 900_000);

  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await down(dir);
  }, 60_000);

  it('holds the CRD first, then the kustomize base', async () => {
    const docs = parseAllDocuments(readFileSync(manifest, 'utf8')).map((d) => d.toJS());
    expect(docs[0]).toEqual(
      parseAllDocuments(readFileSync(path.join(REPO_ROOT, 'crds/lambdaroute.yaml'), 'utf8'))[0]!.toJS(),
    );
    const base = await kubectl(cluster.kubeconfigPath, 'kustomize', path.join(REPO_ROOT, 'deploy'));
    expect(docs.slice(1)).toEqual(parseAllDocuments(base).map((d) => d.toJS()));
  });

  it('applies to an empty cluster with kubectl apply -f, and again on top of itself', async () => {
    const first = await execFileP('kubectl', [
      'apply',
      '-f',
      manifest,
      '--kubeconfig',
      cluster.kubeconfigPath,
    ]);
    expect(first.stderr).not.toMatch(/PodSecurity|Warning|error/i);
    for (const object of [
      'customresourcedefinition.apiextensions.k8s.io/lambdaroutes.lambda-ingress.io',
      'namespace/lambda-ingress',
      'clusterrole.rbac.authorization.k8s.io/lambda-ingress',
      'deployment.apps/lambda-ingress',
    ])
      expect(first.stdout).toContain(`${object} created`);
    // Re-applying succeeds and creates nothing (kubectl reports a PodDisruptionBudget as "configured" every time).
    const again = await kubectl(cluster.kubeconfigPath, 'apply', '-f', manifest);
    expect(again).not.toContain(' created');
  });

  it('serves the LambdaRoute API it brought', async () => {
    await kubectl(
      cluster.kubeconfigPath,
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/lambdaroutes.lambda-ingress.io',
    );
    const admin = new Admin(adminKubeConfig(cluster));
    await admin.createRoute('default', 'hello', routeSpec('/hello'));
    expect((await admin.getRoute('default', 'hello')).spec.match.path).toBe('/hello');
  });
});
