// Where the apiserver is and how to authenticate to it, without
// @kubernetes/client-node (importing it costs ~50 MB of RSS, ~20 MB of it heap
// that stays after GC). Read here:
// - in-cluster: KUBERNETES_SERVICE_HOST/PORT, the service account's CA, its
//   namespace, and its projected token, re-read whenever the file changes (the
//   kubelet rotates it, and the old one expires);
// - a kubeconfig file (--kubeconfig, else $KUBECONFIG, a list merged the way
//   kubectl does, else ~/.kube/config): its current-context, the cluster's
//   server, certificate-authority(-data), insecure-skip-tls-verify and
//   tls-server-name, the user's client-certificate/key(-data), token,
//   tokenFile, username/password; relative paths are relative to the file.
// What is not read here (exec credential plugins, auth-provider, proxy-url) is
// handed to client-node, imported only then (client-node-access.ts).
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Dispatcher } from 'undici';
import { parse } from 'yaml';
import { Agent } from '../util/undici.ts';
import type { ApiAccess } from './api-access.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadOptions {
  /** --kubeconfig: this file only. */
  kubeconfig?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where the in-cluster files are (tests). */
  serviceAccountDir?: string;
}

/** The access --kubeconfig, $KUBECONFIG, the cluster or ~/.kube/config gives, in that order. */
export async function loadClusterAccess(options: LoadOptions = {}): Promise<ApiAccess> {
  const env = options.env ?? process.env;
  if (options.kubeconfig) return kubeconfigAccess([options.kubeconfig]);
  const listed = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter(Boolean);
  if (listed.length > 0) return kubeconfigAccess(listed);
  if (env['KUBERNETES_SERVICE_HOST']) return inClusterAccess(env, options.serviceAccountDir);
  const home = path.join(env['HOME'] || homedir(), '.kube', 'config');
  if (exists(home)) return kubeconfigAccess([home]);
  throw new Error(
    'no Kubernetes configuration: KUBERNETES_SERVICE_HOST, KUBECONFIG and ~/.kube/config are all absent',
  );
}

/** The service account's access from inside a pod. */
export function inClusterAccess(env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): ApiAccess {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] || '443';
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set');
  const caFile = path.join(dir, 'ca.crt');
  const namespaceFile = path.join(dir, 'namespace');
  return new DirectAccess({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    namespace: exists(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined,
    tls: { ca: readFileSync(caFile) },
    token: new TokenFile(path.join(dir, 'token')),
  });
}

// -------------------------------------------------------------------------------------------------
// kubeconfig files

// biome-ignore lint/suspicious/noExplicitAny: a parsed YAML document
type Doc = Record<string, any>;
interface Named {
  name: string;
  [field: string]: unknown;
}

/** Fields read from the kubeconfig that name files, per section: resolved against the file's folder. */
const FILE_FIELDS: Record<string, string[]> = {
  cluster: ['certificate-authority'],
  user: ['client-certificate', 'client-key', 'tokenFile'],
};
/** Whatever needs client-node: these configs work, at client-node's memory cost. */
const DELEGATED = { cluster: ['proxy-url'], user: ['exec', 'auth-provider'] };

/**
 * The access a kubeconfig's current-context gives. Several files are merged as
 * kubectl does: the first file to set current-context wins, and so does the
 * first cluster, user or context of each name.
 */
export async function kubeconfigAccess(files: readonly string[]): Promise<ApiAccess> {
  const merged: Doc = { clusters: [], users: [], contexts: [] };
  const seen = new Set<string>();
  const read: string[] = [];
  for (const file of files) {
    // Files of $KUBECONFIG that do not exist are skipped, as kubectl does; --kubeconfig must exist.
    if (files.length > 1 && !exists(file)) continue;
    const doc = readDoc(file);
    read.push(file);
    merged['current-context'] ??= doc['current-context'] || undefined;
    for (const [list, section] of [
      ['clusters', 'cluster'],
      ['users', 'user'],
      ['contexts', 'context'],
    ] as const) {
      for (const entry of (doc[list] ?? []) as Named[]) {
        if (!entry?.name || seen.has(`${list}/${entry.name}`)) continue;
        seen.add(`${list}/${entry.name}`);
        merged[list].push({ ...entry, [section]: absolutePaths(section, entry[section], file) });
      }
    }
  }
  const origin = read.length === 1 ? `kubeconfig ${read[0]}` : `kubeconfig ${files.join(path.delimiter)}`;
  if (read.length === 0) throw new Error(`${origin}: none of these files exists`);
  const contextName = merged['current-context'];
  if (!contextName) throw new Error(`${origin}: current-context is not set`);
  const context = find(merged, 'contexts', contextName, origin, 'current-context')['context'] ?? {};
  const cluster: Doc = find(merged, 'clusters', context.cluster, origin, `context "${contextName}": cluster`)[
    'cluster'
  ];
  const user: Doc = context.user
    ? (find(merged, 'users', context.user, origin, `context "${contextName}": user`)['user'] ?? {})
    : {};
  if (!cluster?.['server']) throw new Error(`${origin}: cluster "${context.cluster}" has no server`);
  const namespace: string | undefined = context.namespace || undefined;
  if (DELEGATED.cluster.some((f) => cluster[f]) || DELEGATED.user.some((f) => user[f])) {
    const { clientNodeAccess } = await import('./client-node-access.ts');
    return clientNodeAccess(JSON.stringify(merged), namespace);
  }
  const data = (field: string, section: Doc) =>
    section[`${field}-data`]
      ? Buffer.from(section[`${field}-data`], 'base64')
      : section[field]
        ? readFileSync(section[field])
        : undefined;
  const skipVerify = cluster['insecure-skip-tls-verify'] === true;
  const tls: TlsFiles = {
    ...(!skipVerify && { ca: data('certificate-authority', cluster) }),
    cert: data('client-certificate', user),
    key: data('client-key', user),
    rejectUnauthorized: !skipVerify,
    servername: cluster['tls-server-name'],
  };
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    throw new Error(`${origin}: user "${context.user}" has a client certificate or key without the other`);
  }
  const token = user['token']
    ? (user['token'] as string)
    : user['tokenFile']
      ? new TokenFile(user['tokenFile'])
      : undefined;
  const basic =
    user['username'] !== undefined
      ? `Basic ${Buffer.from(`${user['username']}:${user['password'] ?? ''}`).toString('base64')}`
      : undefined;
  return new DirectAccess({
    server: String(cluster['server']).replace(/\/+$/, ''),
    namespace,
    tls,
    ...(token !== undefined ? { token } : basic && { basic }),
  });
}

function readDoc(file: string): Doc {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`kubeconfig ${file}: ${(error as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new Error(`kubeconfig ${file}: not a kubeconfig document`);
  return doc as Doc;
}

function absolutePaths(section: string, fields: unknown, file: string): Doc {
  const out: Doc = { ...(fields as Doc | undefined) };
  for (const field of FILE_FIELDS[section] ?? []) {
    if (typeof out[field] === 'string' && out[field])
      out[field] = path.resolve(path.dirname(file), out[field]);
  }
  return out;
}

function find(doc: Doc, list: string, name: unknown, origin: string, field: string): Doc {
  if (!name) throw new Error(`${origin}: ${field} is not set`);
  const entry = (doc[list] as Named[]).find((e) => e.name === name);
  if (!entry) throw new Error(`${origin}: ${field} "${name}" is not among its ${list}`);
  return entry as Doc;
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

// -------------------------------------------------------------------------------------------------
// the access itself

interface TlsFiles {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  rejectUnauthorized?: boolean;
  servername?: string | undefined;
}

/**
 * A token file read again whenever it changes (size, mtime or inode: a
 * projected token is swapped in through a symlink), checked on every request.
 */
export class TokenFile {
  readonly #file: string;
  #stamp = '';
  #token = '';

  constructor(file: string) {
    this.#file = file;
  }

  async read(): Promise<string> {
    const s = await stat(this.#file);
    const stamp = `${s.ino}:${s.size}:${s.mtimeMs}`;
    if (stamp !== this.#stamp) {
      this.#token = (await readFile(this.#file, 'utf8')).trim();
      this.#stamp = stamp;
    }
    return this.#token;
  }
}

/**
 * Credentials we apply ourselves, over one keep-alive connection pool limited
 * to HTTP/1.1: over HTTP/2, a session to an apiserver that stopped reading
 * keeps buffering frames until the process dies of std::bad_alloc (we saw
 * 12 GB in a minute), where an HTTP/1.1 request blocks on its socket and its
 * timeout ends it.
 */
class DirectAccess implements ApiAccess {
  readonly server: string;
  readonly namespace: string | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #token: string | TokenFile | undefined;
  readonly #basic: string | undefined;

  constructor(options: {
    server: string;
    namespace: string | undefined;
    tls: TlsFiles;
    token?: string | TokenFile;
    basic?: string;
  }) {
    this.server = options.server;
    this.namespace = options.namespace;
    this.#token = options.token;
    this.#basic = options.basic;
    const connect = Object.fromEntries(Object.entries(options.tls).filter(([, v]) => v !== undefined));
    this.#dispatcher = new Agent({ connect, allowH2: false });
  }

  async authorize(): Promise<{ headers: Record<string, string>; dispatcher: Dispatcher }> {
    const token = typeof this.#token === 'string' ? this.#token : await this.#token?.read();
    const authorization = token ? `Bearer ${token}` : this.#basic;
    return { headers: authorization ? { authorization } : {}, dispatcher: this.#dispatcher };
  }
}
