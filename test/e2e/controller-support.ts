// Shared helpers of the controller e2e tests (real kube-apiserver + etcd from hack/cluster.ts).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { type ClusterInfo, clusterDown, clusterUp } from '../../hack/cluster.ts';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { kubeconfigAccess } from '../../src/kube/kubeconfig.ts';

export const execFileP = promisify(execFile);
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
export const quiet = () => {};
export { CaptureLog } from '../support/capture-log.ts';

/** `<repo>/.cluster/<name>`: each test file gets its own control plane. */
export const clusterDir = (name: string) => path.join(REPO_ROOT, '.cluster', name);

export async function kubectl(kubeconfig: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('kubectl', [...args, '--kubeconfig', kubeconfig], {
    cwd: REPO_ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** Starts a control plane in `dir` with the LambdaRoute CRD applied and established. */
/** A fresh cluster: one left behind by an aborted run is torn down first, so no state carries over. */
export async function upWithCrd(dir: string): Promise<ClusterInfo> {
  await clusterDown({ dir, log: quiet });
  const cluster = await clusterUp({ dir, log: quiet });
  await kubectl(cluster.kubeconfigPath, 'apply', '-f', path.join(REPO_ROOT, 'crds/lambdaroute.yaml'));
  await kubectl(
    cluster.kubeconfigPath,
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd/lambdaroutes.lambda-ingress.io',
  );
  return cluster;
}

export const down = (dir: string) => clusterDown({ dir, log: quiet });

export function adminKubeConfig(cluster: ClusterInfo, server?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  if (!server) return kc;
  const redirected = new KubeConfig();
  redirected.loadFromOptions({
    clusters: kc.getClusters().map((c) => ({ ...c, server })),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return redirected;
}

/** The controller's own client (not client-node) with admin credentials, optionally through `server`. */
export async function adminClient(cluster: ClusterInfo, server?: string): Promise<KubeClient> {
  let file = cluster.kubeconfigPath;
  if (server) {
    const doc = parse(readFileSync(file, 'utf8'));
    for (const c of doc.clusters) c.cluster.server = server;
    // Relative file references would now resolve elsewhere: the admin kubeconfig embeds its data.
    file = path.join(mkdtempSync(path.join(tmpdir(), 'kubeconfig-')), 'config');
    writeFileSync(file, JSON.stringify(doc));
  }
  return new KubeClient(await kubeconfigAccess([file]));
}

/** Thin typed helpers for the admin client. */
export class Admin {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async namespace(name: string): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: raw custom object
  createRoute(namespace: string, name: string, spec: object): Promise<any> {
    return this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'LambdaRoute', metadata: { name, namespace }, spec },
    });
  }

  // biome-ignore lint/suspicious/noExplicitAny: raw custom object
  getRoute(namespace: string, name: string): Promise<any> {
    return this.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
    });
  }

  /** Replaces the spec (read-modify-write). */
  async updateRoute(namespace: string, name: string, spec: object): Promise<void> {
    const current = await this.getRoute(namespace, name);
    await this.custom.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
      body: { ...current, spec },
    });
  }

  async deleteRoute(namespace: string, name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
    });
  }

  async putSecret(namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
    const body = { metadata: { name, namespace }, stringData };
    try {
      await this.core.createNamespacedSecret({ namespace, body });
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
      await this.core.replaceNamespacedSecret({ namespace, name, body });
    }
  }

  async deleteSecret(namespace: string, name: string): Promise<void> {
    await this.core.deleteNamespacedSecret({ namespace, name });
  }
}

/** A route spec; `auth` optional. */
export function routeSpec(routePath: string, auth?: object): object {
  return {
    match: { path: routePath },
    target: { url: 'https://abc123.execute-api.us-east-1.amazonaws.com/default/fn' },
    ...(auth && { auth }),
  };
}

export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, stepMs));
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Compacts etcd's history up to its current revision (etcd's JSON gateway), so old resourceVersions expire. */
export async function compactEtcd(etcdEndpoint: string): Promise<number> {
  const post = async (p: string, body: object) => {
    const res = await fetch(`${etcdEndpoint}${p}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${p}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { header: { revision: string } };
  };
  const { header } = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  await post('/v3/kv/compaction', { revision: header.revision, physical: true });
  return Number(header.revision);
}

/**
 * A loopback TCP proxy in front of the apiserver (TLS passes through: the
 * serving certificate is for 127.0.0.1). It can cut the network (`block`:
 * connections reset, new ones refused) or make it hang (`freeze`: connections
 * stay open but nothing flows), without touching the apiserver.
 */
export class TcpProxy {
  readonly #server: net.Server;
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<net.Socket>();
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #mode: 'pass' | 'block' | 'freeze' = 'pass';

  private constructor(server: net.Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
    server.on('connection', (client) => this.#accept(client));
  }

  static async start(targetUrl: string): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const server = net.createServer();
    const proxy = new TcpProxy(server, { host: url.hostname, port: Number(url.port) });
    await listenLoopback(server);
    return proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  /** Network down: every connection is reset, new ones are reset at once. */
  block(): void {
    this.#mode = 'block';
    this.#dropAll();
  }

  /** Network hangs: open connections stop carrying data; new ones are accepted and never answered. */
  freeze(): void {
    this.#mode = 'freeze';
    for (const [client, upstream] of this.#pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Network back (connections held while blocked or frozen are dropped). */
  pass(): void {
    this.#mode = 'pass';
    this.#dropAll();
  }

  async close(): Promise<void> {
    this.#dropAll();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #dropAll(): void {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    this.#pairs.clear();
  }

  #accept(client: net.Socket): void {
    this.#sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => this.#sockets.delete(client));
    if (this.#mode === 'block') {
      client.resetAndDestroy();
      return;
    }
    if (this.#mode === 'freeze') {
      client.pause();
      return;
    }
    const upstream = net.connect(this.#target.port, this.#target.host);
    this.#sockets.add(upstream);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.#pairs.add(pair);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => {
      this.#sockets.delete(upstream);
      this.#pairs.delete(pair);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
