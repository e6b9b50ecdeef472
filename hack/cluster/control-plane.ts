// etcd and kube-apiserver: their flags, their health probes, and starting
// each until it answers (etcd /health, kube-apiserver /readyz).
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { type Paths, type State, writeState } from './directory.ts';
import { isAlive, spawnDetached, waitFor } from './processes.ts';

export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

function etcdArgs(p: Paths, s: State['etcd']): string[] {
  const client = `http://127.0.0.1:${s.clientPort}`;
  const peer = `http://127.0.0.1:${s.peerPort}`;
  return [
    '--name=lambda-ingress-test',
    `--data-dir=${p.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=lambda-ingress-test=${peer}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function apiserverArgs(p: Paths, s: State): string[] {
  const port = s.apiserver.port;
  return [
    `--etcd-servers=http://127.0.0.1:${s.etcd.clientPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${p.apiserverCertDir}`,
    `--tls-cert-file=${p.servingCert}`,
    `--tls-private-key-file=${p.servingKey}`,
    `--client-ca-file=${p.ca}`,
    '--authorization-mode=RBAC',
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    '--disable-admission-plugins=ServiceAccount',
    `--service-account-issuer=https://127.0.0.1:${port}`,
    `--service-account-key-file=${p.saPub}`,
    `--service-account-signing-key-file=${p.saKey}`,
    // no kubelets/nodes: keep the "kubernetes" Service endpoints out of it
    '--endpoint-reconciler-type=none',
    '--profiling=false',
    // Without this, open watches hold a graceful (SIGTERM) shutdown for up to 60 s; with it, watches are
    // closed at once and the apiserver exits in ~1 s.
    '--shutdown-watch-termination-grace-period=2s',
    ...s.apiserver.extraArgs,
  ];
}

function get(
  url: string,
  tls?: { ca: Buffer; cert: Buffer; key: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ...tls, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function etcdHealthy(s: State): Promise<boolean> {
  try {
    const r = await get(`http://127.0.0.1:${s.etcd.clientPort}/health`);
    return r.status === 200 && r.body.includes('"true"');
  } catch {
    return false;
  }
}

/** GET /readyz?verbose as admin. */
export async function apiserverReady(p: Paths, s: State): Promise<{ ok: boolean; detail: string }> {
  try {
    const r = await get(`https://127.0.0.1:${s.apiserver.port}/readyz?verbose`, {
      ca: readFileSync(p.ca),
      cert: readFileSync(p.adminCert),
      key: readFileSync(p.adminKey),
    });
    return { ok: r.status === 200, detail: `HTTP ${r.status}\n${r.body}` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

export async function startEtcd(p: Paths, s: State, timeoutMs: number): Promise<void> {
  mkdirSync(p.etcdData, { recursive: true, mode: 0o700 });
  s.etcd.pid = spawnDetached(s.etcd.bin, etcdArgs(p, s.etcd), p.etcdLog);
  writeState(p, s);
  await waitFor(
    'etcd',
    timeoutMs,
    async () => ({ ok: await etcdHealthy(s), detail: 'GET /health' }),
    () => isAlive(s.etcd.pid, s.etcd.bin),
    p.etcdLog,
  );
}

/** Starts kube-apiserver (when `start`; else it is running already) and waits for /readyz. */
export async function startOrWait(p: Paths, s: State, timeoutMs: number, start: boolean): Promise<void> {
  if (start) {
    mkdirSync(p.apiserverCertDir, { recursive: true, mode: 0o700 });
    s.apiserver.pid = spawnDetached(s.apiserver.bin, apiserverArgs(p, s), p.apiserverLog);
    writeState(p, s);
  }
  await waitFor(
    'kube-apiserver',
    timeoutMs,
    () => apiserverReady(p, s),
    () => isAlive(s.apiserver.pid, s.apiserver.bin),
    p.apiserverLog,
  );
}
