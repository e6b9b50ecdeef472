// The cluster directory: where certificates, data, logs and kubeconfigs live,
// the state.json that records the processes (binary, pid, ports), and a lock
// so that parallel test workers sharing a directory never start two control planes.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** `<repo>/.cluster` (git-ignored), or `$LAMBDA_INGRESS_CLUSTER_DIR` when set. */
export function defaultClusterDir(): string {
  return path.resolve(process.env['LAMBDA_INGRESS_CLUSTER_DIR'] ?? path.join(REPO_ROOT, '.cluster'));
}

export interface DirOptions {
  /** Where certs, data, logs, pids and the kubeconfig live. Default: defaultClusterDir(). */
  dir?: string | undefined;
  /** Progress messages (default: stderr). Pass `() => {}` to silence. */
  log?: ((msg: string) => void) | undefined;
}

export const stderrLog = (msg: string) => process.stderr.write(`cluster: ${msg}\n`);

export interface ClusterInfo {
  dir: string;
  /** https://127.0.0.1:<port> */
  server: string;
  port: number;
  /** Admin (group system:masters) kubeconfig, certificates embedded. */
  kubeconfigPath: string;
  caPath: string;
  adminCertPath: string;
  adminKeyPath: string;
  /** http://127.0.0.1:<port> */
  etcdEndpoint: string;
  apiserverPid: number;
  etcdPid: number;
  apiserverLog: string;
  etcdLog: string;
}

/** What runs, as recorded in state.json. */
export interface State {
  etcd: { bin: string; pid: number; clientPort: number; peerPort: number };
  apiserver: { bin: string; pid: number; port: number; extraArgs: string[] };
}

export class Paths {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }
  get state() {
    return path.join(this.dir, 'state.json');
  }
  get lock() {
    return path.join(this.dir, '.lock');
  }
  get pki() {
    return path.join(this.dir, 'pki');
  }
  get ca() {
    return path.join(this.pki, 'ca.crt');
  }
  get caKey() {
    return path.join(this.pki, 'ca.key');
  }
  get servingCert() {
    return path.join(this.pki, 'apiserver.crt');
  }
  get servingKey() {
    return path.join(this.pki, 'apiserver.key');
  }
  get adminCert() {
    return path.join(this.pki, 'admin.crt');
  }
  get adminKey() {
    return path.join(this.pki, 'admin.key');
  }
  get saKey() {
    return path.join(this.pki, 'sa.key');
  }
  get saPub() {
    return path.join(this.pki, 'sa.pub');
  }
  get etcdData() {
    return path.join(this.dir, 'etcd-data');
  }
  get apiserverCertDir() {
    return path.join(this.dir, 'apiserver-certs');
  }
  get etcdLog() {
    return path.join(this.dir, 'etcd.log');
  }
  get apiserverLog() {
    return path.join(this.dir, 'kube-apiserver.log');
  }
  get kubeconfig() {
    return path.join(this.dir, 'kubeconfig');
  }
  get saKubeconfigs() {
    return path.join(this.dir, 'sa-kubeconfigs');
  }
}

/** The paths of the directory `opts` names (default: defaultClusterDir()). */
export const pathsOf = (opts: DirOptions): Paths => new Paths(path.resolve(opts.dir ?? defaultClusterDir()));

/** Everything clusterDown() removes; the directory itself goes too if nothing else is left in it. */
export const OWNED_ENTRIES = [
  'state.json',
  'pki',
  'etcd-data',
  'apiserver-certs',
  'etcd.log',
  'kube-apiserver.log',
  'kubeconfig',
  'sa-kubeconfigs',
];

export function readState(p: Paths): State | undefined {
  try {
    return JSON.parse(readFileSync(p.state, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

export function writeState(p: Paths, s: State): void {
  writeFileSync(p.state, `${JSON.stringify(s, null, 2)}\n`);
}

export function infoOf(p: Paths, s: State): ClusterInfo {
  return {
    dir: p.dir,
    server: `https://127.0.0.1:${s.apiserver.port}`,
    port: s.apiserver.port,
    kubeconfigPath: p.kubeconfig,
    caPath: p.ca,
    adminCertPath: p.adminCert,
    adminKeyPath: p.adminKey,
    etcdEndpoint: `http://127.0.0.1:${s.etcd.clientPort}`,
    apiserverPid: s.apiserver.pid,
    etcdPid: s.etcd.pid,
    apiserverLog: p.apiserverLog,
    etcdLog: p.etcdLog,
  };
}

/** Runs `fn` holding a mkdir lock on the directory; a lock whose holder died is taken over. */
export async function withLock<T>(p: Paths, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  mkdirSync(p.dir, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(p.lock);
      writeFileSync(path.join(p.lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = 0;
      try {
        holder = Number(readFileSync(path.join(p.lock, 'pid'), 'utf8'));
      } catch {}
      let holderAlive = true;
      if (holder) {
        try {
          process.kill(holder, 0);
        } catch {
          holderAlive = false;
        }
      }
      if (!holderAlive) {
        rmSync(p.lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for lock ${p.lock} (held by pid ${holder})`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(p.lock, { recursive: true, force: true });
  }
}
