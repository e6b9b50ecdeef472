// kube-apiserver and etcd binaries: given (an option or $KUBE_APISERVER_BIN /
// $ETCD_BIN), cached by version, or else built by hack/build-control-plane.sh.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { stderrLog } from './directory.ts';

export const KUBE_VERSION = process.env['KUBE_VERSION'] ?? 'v1.34.4';
export const ETCD_VERSION = process.env['ETCD_VERSION'] ?? 'v3.6.13';

const BUILD_SCRIPT = path.join(import.meta.dirname, '..', 'build-control-plane.sh');

export interface BinaryOptions {
  /** Path to kube-apiserver. Default: $KUBE_APISERVER_BIN, else built/cached by hack/build-control-plane.sh. */
  kubeApiserverBin?: string | undefined;
  /** Path to etcd. Default: $ETCD_BIN, else built/cached by hack/build-control-plane.sh. */
  etcdBin?: string | undefined;
  /** Progress messages (default: stderr). */
  log?: ((msg: string) => void) | undefined;
}

async function runBuildScript(
  component: 'kube-apiserver' | 'etcd',
  log: (m: string) => void,
): Promise<string> {
  log(`${component} not cached: running hack/build-control-plane.sh ${component} (minutes the first time)`);
  const child = spawn('bash', [BUILD_SCRIPT, component], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const bin = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !bin || !existsSync(bin)) {
    throw new Error(`hack/build-control-plane.sh ${component} failed (exit ${code})`);
  }
  return bin;
}

export async function resolveBinaries(
  opts: BinaryOptions = {},
): Promise<{ kubeApiserver: string; etcd: string }> {
  const log = opts.log ?? stderrLog;
  const cache =
    process.env['CONTROL_PLANE_CACHE'] ?? path.join(homedir(), '.cache', 'lambda-ingress', 'control-plane');
  const pick = async (
    component: 'kube-apiserver' | 'etcd',
    explicit: string | undefined,
    envVar: string,
    cached: string,
  ) => {
    const given = explicit ?? process.env[envVar];
    if (given) {
      if (!existsSync(given)) throw new Error(`${envVar}/${component} binary not found: ${given}`);
      return path.resolve(given);
    }
    return existsSync(cached) ? cached : runBuildScript(component, log);
  };
  const etcd = await pick('etcd', opts.etcdBin, 'ETCD_BIN', path.join(cache, `etcd-${ETCD_VERSION}`));
  const kubeApiserver = await pick(
    'kube-apiserver',
    opts.kubeApiserverBin,
    'KUBE_APISERVER_BIN',
    path.join(cache, `kube-apiserver-${KUBE_VERSION}`),
  );
  return { kubeApiserver, etcd };
}
