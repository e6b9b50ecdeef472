// A real kube-apiserver + etcd on loopback for tests (no Docker, no kind).
//
// CLI:  node hack/cluster.ts up|down|status|stop-apiserver|start-apiserver [--dir DIR]
//       node hack/cluster.ts sa-kubeconfig NAMESPACE NAME [--dir DIR]
// Library: see the exported functions below (clusterUp, clusterDown, stopApiserver, startApiserver,
// serviceAccountKubeconfig, clusterStatus).
//
// Both processes are spawned detached (own session, output appended to log files) so they outlive the
// command that started them; their pids and ports are kept in <dir>/state.json. Binaries come from
// KUBE_APISERVER_BIN / ETCD_BIN when set, else from hack/build-control-plane.sh (cached by version).

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { freePorts } from './lib/ports.ts';
import { commandLine, hasProcfs, processStat } from './lib/procfs.ts';

const execFileP = promisify(execFile);

export const KUBE_VERSION = process.env['KUBE_VERSION'] ?? 'v1.34.4';
export const ETCD_VERSION = process.env['ETCD_VERSION'] ?? 'v3.6.13';
export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_SCRIPT = path.join(REPO_ROOT, 'hack', 'build-control-plane.sh');

/** `<repo>/.cluster` (git-ignored), or `$LAMBDA_INGRESS_CLUSTER_DIR` when set. */
export function defaultClusterDir(): string {
  return path.resolve(process.env['LAMBDA_INGRESS_CLUSTER_DIR'] ?? path.join(REPO_ROOT, '.cluster'));
}

export interface DirOptions {
  /** Where certs, data, logs, pids and the kubeconfig live. Default: defaultClusterDir(). */
  dir?: string;
  /** Progress messages (default: stderr). Pass `() => {}` to silence. */
  log?: (msg: string) => void;
}

export interface ClusterOptions extends DirOptions {
  /** Path to kube-apiserver. Default: $KUBE_APISERVER_BIN, else built/cached by hack/build-control-plane.sh. */
  kubeApiserverBin?: string;
  /** Path to etcd. Default: $ETCD_BIN, else built/cached by hack/build-control-plane.sh. */
  etcdBin?: string;
  /** How long to wait for etcd /health and kube-apiserver /readyz. Default 90 s. */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags (e.g. `--feature-gates=...`), appended after the defaults. */
  extraApiserverArgs?: string[];
}

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

export interface ClusterStatus {
  dir: string;
  etcd: 'running' | 'stopped';
  apiserver: 'running' | 'stopped';
  /** kube-apiserver answers /readyz with 200. */
  ready: boolean;
  info?: ClusterInfo;
}

interface State {
  etcd: { bin: string; pid: number; clientPort: number; peerPort: number };
  apiserver: { bin: string; pid: number; port: number; extraArgs: string[] };
}

class Paths {
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

/** Everything clusterDown() removes; the directory itself goes too if nothing else is left in it. */
const OWNED_ENTRIES = [
  'state.json',
  'pki',
  'etcd-data',
  'apiserver-certs',
  'etcd.log',
  'kube-apiserver.log',
  'kubeconfig',
  'sa-kubeconfigs',
];

const stderrLog = (msg: string) => process.stderr.write(`cluster: ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------
// Binaries

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
  opts: Pick<ClusterOptions, 'kubeApiserverBin' | 'etcdBin' | 'log'> = {},
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

// ---------------------------------------------------------------------------------------------------
// Certificates (openssl CLI; ECDSA P-256 keys: fast to generate, accepted by Go, Node and kubectl)

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
authorityKeyIdentifier = keyid
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

async function ensureCerts(p: Paths, log: (m: string) => void): Promise<void> {
  const all = [p.ca, p.caKey, p.servingCert, p.servingKey, p.adminCert, p.adminKey, p.saKey, p.saPub];
  if (all.every((f) => existsSync(f))) return;
  log(`generating certificates in ${p.pki}`);
  rmSync(p.pki, { recursive: true, force: true });
  mkdirSync(p.pki, { recursive: true, mode: 0o700 });
  const cnf = path.join(p.pki, 'openssl.cnf');
  writeFileSync(cnf, OPENSSL_CNF);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    '-config',
    cnf,
    '-extensions',
    'v3_ca',
    ...newKey,
    '-keyout',
    p.caKey,
    '-out',
    p.ca,
    '-days',
    '3650',
    '-subj',
    '/CN=lambda-ingress-test-ca',
  ]);
  const leaf = async (name: string, subj: string, ext: string, cert: string, key: string) => {
    const csr = path.join(p.pki, `${name}.csr`);
    await openssl(['req', '-new', '-config', cnf, ...newKey, '-keyout', key, '-out', csr, '-subj', subj]);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      p.ca,
      '-CAkey',
      p.caKey,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '3650',
      '-extfile',
      cnf,
      '-extensions',
      ext,
      '-out',
      cert,
    ]);
    rmSync(csr);
  };
  await Promise.all([
    leaf('apiserver', '/CN=kube-apiserver', 'v3_server', p.servingCert, p.servingKey),
    leaf('admin', '/O=system:masters/CN=lambda-ingress-admin', 'v3_client', p.adminCert, p.adminKey),
    (async () => {
      await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p.saKey]);
      await openssl(['pkey', '-in', p.saKey, '-pubout', '-out', p.saPub]);
    })(),
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Processes

function readState(p: Paths): State | undefined {
  try {
    return JSON.parse(readFileSync(p.state, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

function writeState(p: Paths, s: State): void {
  writeFileSync(p.state, `${JSON.stringify(s, null, 2)}\n`);
}

/** Alive, not a zombie, and (on Linux) still running `bin` (guards against pid reuse). */
function isAlive(pid: number, bin: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = processStat(pid)?.state;
  const argv0 = commandLine(pid)?.[0];
  if (state === undefined || argv0 === undefined) return !hasProcfs(); // no procfs (macOS): trust kill(0)
  return state !== 'Z' && argv0 === bin;
}

async function stopProcess(pid: number, bin: string, graceful: boolean, timeoutMs = 15_000): Promise<void> {
  if (!isAlive(pid, bin)) return;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig); // detached => its own process group
    } catch {
      try {
        process.kill(pid, sig);
      } catch {}
    }
  };
  signal(graceful ? 'SIGTERM' : 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid, bin)) {
    if (Date.now() > deadline) {
      signal('SIGKILL');
      await sleep(200);
      if (isAlive(pid, bin)) throw new Error(`process ${pid} (${bin}) did not exit`);
      return;
    }
    await sleep(50);
  }
}

function spawnDetached(bin: string, args: string[], logPath: string): number {
  const fd = openSync(logPath, 'a');
  try {
    writeFileSync(fd, `\n===== ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`failed to spawn ${bin}`);
    child.on('error', () => {}); // reported through the log / liveness checks instead
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

function logTail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

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

async function apiserverReady(p: Paths, s: State): Promise<{ ok: boolean; detail: string }> {
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

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<{ ok: boolean; detail: string }>,
  alive: () => boolean,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await probe();
    if (r.ok) return;
    last = r.detail;
    if (!alive()) {
      throw new Error(`${what} exited during startup. Last lines of ${logFile}:\n${logTail(logFile)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms (last probe: ${last.slice(0, 2000)}).\n` +
          `Last lines of ${logFile}:\n${logTail(logFile)}`,
      );
    }
    await sleep(200);
  }
}

async function startEtcd(p: Paths, s: State, timeoutMs: number): Promise<void> {
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

async function startApiserverProcess(p: Paths, s: State, timeoutMs: number): Promise<void> {
  mkdirSync(p.apiserverCertDir, { recursive: true, mode: 0o700 });
  s.apiserver.pid = spawnDetached(s.apiserver.bin, apiserverArgs(p, s), p.apiserverLog);
  writeState(p, s);
  await waitFor(
    'kube-apiserver',
    timeoutMs,
    () => apiserverReady(p, s),
    () => isAlive(s.apiserver.pid, s.apiserver.bin),
    p.apiserverLog,
  );
}

// A mkdir lock so parallel test workers sharing a dir don't start two control planes.
async function withLock<T>(p: Paths, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
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

function infoOf(p: Paths, s: State): ClusterInfo {
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

function writeAdminKubeconfig(p: Paths, s: State): void {
  writeKubeconfig(p.kubeconfig, infoOf(p, s).server, p.ca, 'admin', {
    'client-certificate-data': readFileSync(p.adminCert).toString('base64'),
    'client-key-data': readFileSync(p.adminKey).toString('base64'),
  });
}

// ---------------------------------------------------------------------------------------------------
// Public API

/**
 * Brings etcd + kube-apiserver up (or restarts whichever is down, with the same ports, certs and data)
 * and resolves once /readyz is 200. Idempotent: a healthy cluster is left alone.
 */
export async function clusterUp(opts: ClusterOptions = {}): Promise<ClusterInfo> {
  const p = new Paths(path.resolve(opts.dir ?? defaultClusterDir()));
  const log = opts.log ?? stderrLog;
  const timeoutMs = opts.readyTimeoutMs ?? 90_000;
  const bins = await resolveBinaries(opts);
  return withLock(p, timeoutMs * 2 + 30_000, async () => {
    let s = readState(p);
    if (s) {
      const etcdUp = isAlive(s.etcd.pid, s.etcd.bin);
      const apiUp = isAlive(s.apiserver.pid, s.apiserver.bin);
      if (etcdUp && apiUp && (await apiserverReady(p, s)).ok) {
        writeAdminKubeconfig(p, s);
        log(`already up and healthy: ${infoOf(p, s).server} (${p.dir})`);
        return infoOf(p, s);
      }
      if (etcdUp && apiUp) {
        // Running but not ready yet (e.g. someone else just started it): wait rather than restart.
        await startOrWait(p, s, timeoutMs, false);
        writeAdminKubeconfig(p, s);
        return infoOf(p, s);
      }
      log(`restarting ${[!etcdUp && 'etcd', !apiUp && 'kube-apiserver'].filter(Boolean).join(' and ')}`);
      if (!etcdUp) {
        await stopProcess(s.apiserver.pid, s.apiserver.bin, true); // it would keep failing on the old etcd
        s.etcd.bin = bins.etcd;
        await startEtcd(p, s, timeoutMs);
      }
      s.apiserver.bin = bins.kubeApiserver;
      await startOrWait(p, s, timeoutMs, true);
      writeAdminKubeconfig(p, s);
      return infoOf(p, s);
    }
    await ensureCerts(p, log);
    const [clientPort, peerPort, port] = await freePorts(3);
    s = {
      etcd: { bin: bins.etcd, pid: 0, clientPort, peerPort },
      apiserver: { bin: bins.kubeApiserver, pid: 0, port, extraArgs: opts.extraApiserverArgs ?? [] },
    };
    const t0 = Date.now();
    log(`starting etcd on 127.0.0.1:${clientPort}`);
    await startEtcd(p, s, timeoutMs);
    log(`starting kube-apiserver on https://127.0.0.1:${port}`);
    await startApiserverProcess(p, s, timeoutMs);
    writeAdminKubeconfig(p, s);
    log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; KUBECONFIG=${p.kubeconfig}`);
    return infoOf(p, s);
  });
}

async function startOrWait(p: Paths, s: State, timeoutMs: number, start: boolean): Promise<void> {
  if (start) {
    await startApiserverProcess(p, s, timeoutMs);
  } else {
    await waitFor(
      'kube-apiserver',
      timeoutMs,
      () => apiserverReady(p, s),
      () => isAlive(s.apiserver.pid, s.apiserver.bin),
      p.apiserverLog,
    );
  }
}

/** Stops kube-apiserver and etcd and removes their data, certs, logs and kubeconfigs. */
export async function clusterDown(opts: DirOptions = {}): Promise<void> {
  const p = new Paths(path.resolve(opts.dir ?? defaultClusterDir()));
  const log = opts.log ?? stderrLog;
  if (!existsSync(p.dir)) {
    log(`nothing to do (${p.dir} does not exist)`);
    return;
  }
  await withLock(p, 60_000, async () => {
    const s = readState(p);
    if (s) {
      await stopProcess(s.apiserver.pid, s.apiserver.bin, true);
      await stopProcess(s.etcd.pid, s.etcd.bin, true);
    }
    for (const entry of OWNED_ENTRIES) rmSync(path.join(p.dir, entry), { recursive: true, force: true });
  });
  if (readdirSync(p.dir).length === 0) rmSync(p.dir, { recursive: true, force: true });
  log(`down (${p.dir} cleaned)`);
}

/**
 * Stops kube-apiserver only; etcd keeps its data. `graceful: false` sends SIGKILL (crash-like: clients
 * see connection resets instead of a clean shutdown).
 */
export async function stopApiserver(opts: DirOptions & { graceful?: boolean } = {}): Promise<void> {
  const p = new Paths(path.resolve(opts.dir ?? defaultClusterDir()));
  const s = readState(p);
  if (!s) throw new Error(`no cluster in ${p.dir}`);
  await withLock(p, 60_000, () => stopProcess(s.apiserver.pid, s.apiserver.bin, opts.graceful ?? true));
  (opts.log ?? stderrLog)('kube-apiserver stopped');
}

/** (Re)starts kube-apiserver on the same port with the same certs against the same etcd; waits for /readyz. */
export async function startApiserver(
  opts: DirOptions & { readyTimeoutMs?: number } = {},
): Promise<ClusterInfo> {
  const p = new Paths(path.resolve(opts.dir ?? defaultClusterDir()));
  const s = readState(p);
  if (!s) throw new Error(`no cluster in ${p.dir}; run clusterUp() first`);
  const timeoutMs = opts.readyTimeoutMs ?? 90_000;
  return withLock(p, timeoutMs + 30_000, async () => {
    if (!isAlive(s.etcd.pid, s.etcd.bin)) throw new Error('etcd is not running; use clusterUp() instead');
    await startOrWait(p, s, timeoutMs, !isAlive(s.apiserver.pid, s.apiserver.bin));
    (opts.log ?? stderrLog)(`kube-apiserver ready on ${infoOf(p, s).server}`);
    return infoOf(p, s);
  });
}

export async function clusterStatus(opts: DirOptions = {}): Promise<ClusterStatus> {
  const p = new Paths(path.resolve(opts.dir ?? defaultClusterDir()));
  const s = readState(p);
  if (!s) return { dir: p.dir, etcd: 'stopped', apiserver: 'stopped', ready: false };
  const etcd = isAlive(s.etcd.pid, s.etcd.bin) ? 'running' : 'stopped';
  const apiserver = isAlive(s.apiserver.pid, s.apiserver.bin) ? 'running' : 'stopped';
  const ready = apiserver === 'running' && (await apiserverReady(p, s)).ok;
  return { dir: p.dir, etcd, apiserver, ready, info: infoOf(p, s) };
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
  const p = new Paths(path.resolve(opts.dir ?? defaultClusterDir()));
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

// ---------------------------------------------------------------------------------------------------
// CLI

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  let dir: string | undefined;
  const i = args.indexOf('--dir');
  if (i >= 0) {
    dir = args[i + 1];
    if (!dir) throw new Error('--dir needs a value');
    args.splice(i, 2);
  }
  const [cmd, ...rest] = args;
  const wantArgs = cmd === 'sa-kubeconfig' ? 2 : 0;
  if (rest.length !== wantArgs)
    throw new Error(`unexpected arguments for ${cmd}: ${rest.join(' ') || '(none)'}`);
  const t0 = Date.now();
  const took = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  switch (cmd) {
    case 'up': {
      const info = await clusterUp({ dir }).catch((err: unknown) => {
        stderrLog('whatever did start is still running: `node hack/cluster.ts down` cleans up');
        throw err;
      });
      stderrLog(`up (${took()}): ${info.server}`);
      process.stdout.write(`export KUBECONFIG=${info.kubeconfigPath}\n`);
      break;
    }
    case 'down':
      await clusterDown({ dir });
      stderrLog(`took ${took()}`);
      break;
    case 'status': {
      const st = await clusterStatus({ dir });
      process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
      process.exitCode = st.ready ? 0 : 1;
      break;
    }
    case 'stop-apiserver':
      await stopApiserver({ dir });
      break;
    case 'start-apiserver':
      await startApiserver({ dir });
      stderrLog(`took ${took()}`);
      break;
    case 'sa-kubeconfig': {
      const [namespace, name] = rest;
      if (!namespace || !name) throw new Error('usage: sa-kubeconfig NAMESPACE NAME');
      const r = await serviceAccountKubeconfig({ dir, namespace, name });
      process.stdout.write(`${r.kubeconfigPath}\n`);
      break;
    }
    default:
      process.stderr.write(
        'usage: node hack/cluster.ts up|down|status|stop-apiserver|start-apiserver|sa-kubeconfig NS NAME [--dir DIR]\n',
      );
      process.exitCode = 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
