// A stand-in for kube-apiserver on 127.0.0.1, for unit tests of the Kubernetes
// plumbing without a cluster: plain HTTP/1.1 (skipTLSVerify), JSON in and out,
// metav1.Status failures, watch streams as newline-delimited JSON events. Each
// test answers with its own handler; every request is recorded. The clients
// under test are the real ones (KubeReader, client-node's typed clients).
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

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
  readonly #kubeConfig = new KubeConfig();

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
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    const { port } = server.#server.address() as AddressInfo;
    server.#kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'test-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return server;
  }

  /** A KubeConfig that points at this server (the same object each time, so that connections are shared). */
  get kubeConfig(): KubeConfig {
    return this.#kubeConfig;
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
