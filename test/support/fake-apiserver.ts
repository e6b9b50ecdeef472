// A stand-in for kube-apiserver on 127.0.0.1, for unit tests of the Kubernetes
// plumbing without a cluster: plain HTTP/1.1 (skipTLSVerify), JSON in and out,
// metav1.Status failures, watch streams as newline-delimited JSON events. Each
// test answers with its own handler; every request is recorded. The clients
// under test are the real ones (KubeClient, over a kubeconfig that points here).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { kubeconfigAccess } from '../../src/kube/kubeconfig.ts';

export interface ApiRequest {
  method: string;
  /** Without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of any kind
  body: any;
  /** Date.now() when it arrived. */
  at: number;
}

export type ApiHandler = (req: ApiRequest, res: ServerResponse) => void | Promise<void>;

export class FakeApiserver {
  readonly requests: ApiRequest[] = [];
  /** Answers every request; replace it at any time. */
  handler: ApiHandler;
  readonly #server: ReturnType<typeof createServer>;
  readonly #dir = mkdtempSync(path.join(tmpdir(), 'fake-apiserver-'));
  #client: KubeClient | undefined;

  private constructor(handler: ApiHandler) {
    this.handler = handler;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const text = Buffer.concat(chunks).toString();
        const request: ApiRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: text ? JSON.parse(text) : undefined,
          at: Date.now(),
        };
        this.requests.push(request);
        Promise.resolve(this.handler(request, res)).catch((error: unknown) => {
          if (!res.headersSent) sendStatus(res, 500, 'InternalError', String(error));
        });
      });
    });
  }

  static async start(handler: ApiHandler = (_req, res) => sendStatus(res, 404, 'NotFound')) {
    const server = new FakeApiserver(handler);
    const port = await listenLoopback(server.#server);
    writeFileSync(
      server.kubeconfigPath,
      JSON.stringify({
        clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${port}` } }],
        users: [{ name: 'tester', user: { token: 'test-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester' } }],
        'current-context': 'fake',
      }),
    );
    server.#client = new KubeClient(await kubeconfigAccess([server.kubeconfigPath]));
    return server;
  }

  /** A kubeconfig file that points at this server with the token test-token. */
  get kubeconfigPath(): string {
    return path.join(this.#dir, 'kubeconfig');
  }

  /** A client of this server (the same object each time, so that connections are shared). */
  get client(): KubeClient {
    return this.#client as KubeClient;
  }

  /** The requests so far with this method and path; `watch` tells watches from plain GETs. */
  calls(method: string, path: string, options: { watch?: boolean } = {}): ApiRequest[] {
    return this.requests.filter(
      (r) =>
        r.method === method &&
        r.path === path &&
        (options.watch === undefined || (r.query.get('watch') === 'true') === options.watch),
    );
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** A failure as the apiserver answers it: a metav1.Status. */
export function sendStatus(res: ServerResponse, code: number, reason: string, message = reason): void {
  sendJson(res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
}

/** A watch response: headers now, then one JSON line per event, for as long as the test keeps it open. */
export class WatchStream {
  readonly #res: ServerResponse;
  /** The client went away (it aborted the watch, or the stream ended). */
  readonly closed: Promise<void>;

  constructor(res: ServerResponse) {
    this.#res = res;
    this.closed = new Promise((resolve) => res.on('close', () => resolve()));
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
  }

  send(type: string, object: unknown): void {
    this.#res.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** A clean end of the stream, as at the server's timeoutSeconds. */
  end(): void {
    this.#res.end();
  }
}

const LEASE_PATH = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;

/**
 * coordination.k8s.io/v1 Leases as the apiserver keeps them: create refuses an
 * existing name (409), replace refuses a stale metadata.resourceVersion (409).
 */
export class FakeLeases {
  // biome-ignore lint/suspicious/noExplicitAny: Lease JSON
  readonly #leases = new Map<string, any>();
  #version = 0;

  // biome-ignore lint/suspicious/noExplicitAny: Lease JSON
  get(namespace: string, name: string): any {
    return this.#leases.get(`${namespace}/${name}`);
  }

  /** Writes a Lease as another replica would (a new resourceVersion). */
  put(namespace: string, name: string, spec: object): void {
    this.#store(namespace, name, { metadata: { name, namespace }, spec });
  }

  /** Answers Lease requests; false for any other request. */
  handle(req: ApiRequest, res: ServerResponse): boolean {
    const match = LEASE_PATH.exec(req.path);
    if (!match) return false;
    const [, namespace = '', name] = match;
    const current = name ? this.get(namespace, name) : undefined;
    if (req.method === 'GET' && name) {
      if (current) sendJson(res, 200, current);
      else sendStatus(res, 404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`);
    } else if (req.method === 'POST' && !name) {
      const created = req.body?.metadata?.name as string;
      if (this.get(namespace, created)) sendStatus(res, 409, 'AlreadyExists');
      else sendJson(res, 201, this.#store(namespace, created, req.body));
    } else if (req.method === 'PUT' && name) {
      if (!current) sendStatus(res, 404, 'NotFound');
      else if (req.body?.metadata?.resourceVersion !== current.metadata.resourceVersion)
        sendStatus(res, 409, 'Conflict', 'the object has been modified');
      else sendJson(res, 200, this.#store(namespace, name, req.body));
    } else {
      sendStatus(res, 405, 'MethodNotAllowed');
    }
    return true;
  }

  // biome-ignore lint/suspicious/noExplicitAny: Lease JSON
  #store(namespace: string, name: string, lease: any): any {
    const stored = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      ...lease,
      metadata: { ...lease.metadata, name, namespace, resourceVersion: String(++this.#version) },
    };
    this.#leases.set(`${namespace}/${name}`, stored);
    return stored;
  }
}
