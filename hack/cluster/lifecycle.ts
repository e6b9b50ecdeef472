// Bringing the control plane up and down: etcd + kube-apiserver on loopback,
// restarted with the same ports, certificates and data when one of them is
// down, and the apiserver alone stopped and started again (outage tests).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePorts } from '../lib/ports.ts';
import { type BinaryOptions, resolveBinaries } from './binaries.ts';
import { ensureCerts } from './certificates.ts';
import { apiserverReady, startEtcd, startOrWait } from './control-plane.ts';
import {
  type ClusterInfo,
  type DirOptions,
  infoOf,
  OWNED_ENTRIES,
  pathsOf,
  readState,
  stderrLog,
  withLock,
} from './directory.ts';
import { writeAdminKubeconfig } from './kubeconfig.ts';
import { isAlive, stopProcess } from './processes.ts';

export interface ClusterOptions extends DirOptions, BinaryOptions {
  /** How long to wait for etcd /health and kube-apiserver /readyz. Default 90 s. */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags (e.g. `--feature-gates=...`), appended after the defaults. */
  extraApiserverArgs?: string[];
}

export interface ClusterStatus {
  dir: string;
  etcd: 'running' | 'stopped';
  apiserver: 'running' | 'stopped';
  /** kube-apiserver answers /readyz with 200. */
  ready: boolean;
  info?: ClusterInfo;
}

/**
 * Brings etcd + kube-apiserver up (or restarts whichever is down, with the same ports, certs and data)
 * and resolves once /readyz is 200. Idempotent: a healthy cluster is left alone.
 */
export async function clusterUp(opts: ClusterOptions = {}): Promise<ClusterInfo> {
  const p = pathsOf(opts);
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
    await startOrWait(p, s, timeoutMs, true);
    writeAdminKubeconfig(p, s);
    log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; KUBECONFIG=${p.kubeconfig}`);
    return infoOf(p, s);
  });
}

/** Stops kube-apiserver and etcd and removes their data, certs, logs and kubeconfigs. */
export async function clusterDown(opts: DirOptions = {}): Promise<void> {
  const p = pathsOf(opts);
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
  const p = pathsOf(opts);
  const s = readState(p);
  if (!s) throw new Error(`no cluster in ${p.dir}`);
  await withLock(p, 60_000, () => stopProcess(s.apiserver.pid, s.apiserver.bin, opts.graceful ?? true));
  (opts.log ?? stderrLog)('kube-apiserver stopped');
}

/** (Re)starts kube-apiserver on the same port with the same certs against the same etcd; waits for /readyz. */
export async function startApiserver(
  opts: DirOptions & { readyTimeoutMs?: number } = {},
): Promise<ClusterInfo> {
  const p = pathsOf(opts);
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
  const p = pathsOf(opts);
  const s = readState(p);
  if (!s) return { dir: p.dir, etcd: 'stopped', apiserver: 'stopped', ready: false };
  const etcd = isAlive(s.etcd.pid, s.etcd.bin) ? 'running' : 'stopped';
  const apiserver = isAlive(s.apiserver.pid, s.apiserver.bin) ? 'running' : 'stopped';
  const ready = apiserver === 'running' && (await apiserverReady(p, s)).ok;
  return { dir: p.dir, etcd, apiserver, ready, info: infoOf(p, s) };
}
