// Smoke test of the local control plane tooling (hack/cluster.ts): a real kube-apiserver + etcd on
// loopback, in a private directory so it never touches the developer's `.cluster/`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClusterInfo,
  clusterDown,
  clusterUp,
  KUBE_VERSION,
  serviceAccountKubeconfig,
  startApiserver,
  stopApiserver,
} from '../../hack/cluster.ts';
import { eventually, execFileP } from './controller-support.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'lambda-ingress-cp-test-'));
const log = () => {};
let cluster: ClusterInfo;

function adminClients() {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return { kc, core: kc.makeApiClient(CoreV1Api), rbac: kc.makeApiClient(RbacAuthorizationV1Api) };
}

/** `kubectl auth can-i` prints yes/no and exits 1 on "no". */
async function canI(kubeconfig: string, ...args: string[]): Promise<string> {
  const r = await execFileP('kubectl', ['auth', 'can-i', ...args, '--kubeconfig', kubeconfig]).catch(
    (err: { stdout?: string; stderr?: string; code?: number }) => {
      if (err.code === 1 && err.stdout) return { stdout: err.stdout };
      throw new Error(`kubectl auth can-i failed: ${err.stderr}`);
    },
  );
  return r.stdout.trim();
}

describe('local control plane (kube-apiserver + etcd)', () => {
  beforeAll(async () => {
    // Builds the binaries the first time (minutes); a cached start takes a few seconds.
    await clusterDown({ dir, log }); // what an aborted run left behind
    cluster = await clusterUp({ dir, log });
  }, 900_000);

  afterAll(async () => {
    await clusterDown({ dir, log });
  }, 60_000);

  it('serves the expected Kubernetes version', async () => {
    const { kc } = adminClients();
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(KUBE_VERSION);
    expect(cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('is idempotent: a second clusterUp returns the same running cluster', async () => {
    const again = await clusterUp({ dir, log });
    expect(again.apiserverPid).toBe(cluster.apiserverPid);
    expect(again.server).toBe(cluster.server);
  });

  it('enforces RBAC for a ServiceAccount token minted with TokenRequest', async () => {
    const sa = await serviceAccountKubeconfig({ dir, log, namespace: 'cp-test', name: 'bot' });
    expect(sa.username).toBe('system:serviceaccount:cp-test:bot');
    expect(await canI(sa.kubeconfigPath, 'list', 'configmaps', '-n', 'cp-test')).toBe('no');

    const { rbac } = adminClients();
    await rbac.createNamespacedRole({
      namespace: 'cp-test',
      body: {
        metadata: { name: 'cm-reader' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'cp-test',
      body: {
        metadata: { name: 'bot-cm-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cm-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace: 'cp-test' }],
      },
    });
    await eventually(async () => {
      expect(await canI(sa.kubeconfigPath, 'list', 'configmaps', '-n', 'cp-test')).toBe('yes');
    });
    expect(await canI(sa.kubeconfigPath, 'list', 'configmaps', '-n', 'default')).toBe('no');
  });

  it('restarts kube-apiserver on the same port against the same etcd', async () => {
    const { core } = adminClients();
    await core.createNamespacedConfigMap({
      namespace: 'cp-test',
      body: { metadata: { name: 'survivor' }, data: { hello: 'world' } },
    });

    await stopApiserver({ dir, log });
    await expect(core.readNamespace({ name: 'cp-test' })).rejects.toThrow(/ECONNREFUSED|fetch failed/);

    const restarted = await startApiserver({ dir, log });
    expect(restarted.server).toBe(cluster.server);
    expect(restarted.apiserverPid).not.toBe(cluster.apiserverPid);

    // The same KubeConfig/client object reconnects; the data survived in etcd.
    const cm = await core.readNamespacedConfigMap({ namespace: 'cp-test', name: 'survivor' });
    expect(cm.data).toEqual({ hello: 'world' });
    // Tokens minted before the restart stay valid (same signing key).
    const sa = path.join(dir, 'sa-kubeconfigs', 'cp-test.bot.kubeconfig');
    expect(await canI(sa, 'get', 'configmaps', '-n', 'cp-test')).toBe('yes');
  }, 120_000);
});
