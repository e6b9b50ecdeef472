// Kubeconfigs of the cluster: the admin one (client certificate, group
// system:masters) and ones that authenticate as a ServiceAccount, with a token
// minted through the TokenRequest API, so that RBAC applies for real.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { type DirOptions, infoOf, type Paths, pathsOf, readState, type State } from './directory.ts';

interface KubeconfigUser {
  'client-certificate-data'?: string;
  'client-key-data'?: string;
  token?: string;
}

function writeKubeconfig(
  file: string,
  server: string,
  caPath: string,
  userName: string,
  user: KubeconfigUser,
) {
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'lambda-ingress-test',
        cluster: { server, 'certificate-authority-data': readFileSync(caPath).toString('base64') },
      },
    ],
    users: [{ name: userName, user }],
    contexts: [{ name: 'lambda-ingress-test', context: { cluster: 'lambda-ingress-test', user: userName } }],
    'current-context': 'lambda-ingress-test',
  };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, toYaml(cfg), { mode: 0o600 });
}

export function writeAdminKubeconfig(p: Paths, s: State): void {
  writeKubeconfig(p.kubeconfig, infoOf(p, s).server, p.ca, 'admin', {
    'client-certificate-data': readFileSync(p.adminCert).toString('base64'),
    'client-key-data': readFileSync(p.adminKey).toString('base64'),
  });
}

export interface ServiceAccountKubeconfigOptions extends DirOptions {
  namespace: string;
  name: string;
  /** Create the Namespace and ServiceAccount if missing (default true; no controller-manager runs). */
  create?: boolean;
  /** Token lifetime; the API server's minimum is 600. Default 3600. */
  expirationSeconds?: number;
  /** Where to write it. Default: <dir>/sa-kubeconfigs/<namespace>.<name>.kubeconfig */
  path?: string;
}

/**
 * Mints a ServiceAccount token through the TokenRequest API (as admin) and writes a kubeconfig that
 * authenticates as `system:serviceaccount:<namespace>:<name>`, so RBAC applies for real.
 */
export async function serviceAccountKubeconfig(
  opts: ServiceAccountKubeconfigOptions,
): Promise<{ kubeconfigPath: string; token: string; username: string }> {
  const p = pathsOf(opts);
  const s = readState(p);
  if (!s) throw new Error(`no cluster in ${p.dir}; run clusterUp() first`);
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(p.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const { namespace, name } = opts;
  if (opts.create ?? true) {
    const ignoreConflict = (err: unknown) => {
      if (!(err instanceof k8s.ApiException && err.code === 409)) throw err;
    };
    await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(ignoreConflict);
    await core
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } })
      .catch(ignoreConflict);
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: opts.expirationSeconds ?? 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
  const username = `system:serviceaccount:${namespace}:${name}`;
  const file = opts.path ?? path.join(p.saKubeconfigs, `${namespace}.${name}.kubeconfig`);
  writeKubeconfig(file, infoOf(p, s).server, p.ca, username, { token });
  return { kubeconfigPath: file, token, username };
}
