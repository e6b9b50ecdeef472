// Small pieces shared by the Kubernetes source and the status writer: a logger
// shape, API error classification, capped exponential backoff with jitter, and a
// raw JSON reader for list/get/watch.
//
// Reads go through this reader instead of client-node's typed clients and
// ListWatch because (client-node 2.0.1):
// - ListWatch caches every object it sees (all Secrets of the cluster), does not
//   paginate lists, cannot pass allowWatchBookmarks, and stops for good on any
//   error other than 410;
// - Watch aborts a stream after a fixed, private 30 s without data, which is
//   shorter than the apiserver's bookmark period (~1 min), so it cannot tell a
//   quiet watch from a dead one on our terms;
// - typed clients turn timestamps into Date objects and have no request timeout.
// Authentication still comes from the KubeConfig (client certs, tokens, exec and
// in-cluster token files), through its own applySecurityAuthentication().
import { setTimeout as delay } from 'node:timers/promises';
import { HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { type Dispatcher, fetch } from 'undici';
import { authenticate } from './kube-connections.ts';

/** The logging calls used here; a pino or Fastify logger fits. */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** A failed API request. `status` is the HTTP status, or 0 when no response came (network, timeout). */
export class KubeApiError extends Error {
  readonly status: number;
  /** metav1.Status reason when the server gave one: NotFound, Conflict, Expired, Gone, ... */
  readonly reason: string | undefined;

  constructor(status: number, message: string, reason?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

/**
 * The HTTP status of an error from this module or from client-node's typed
 * clients (ApiException has `code`), or 0 when the request never got an answer.
 */
export function statusOf(error: unknown): number {
  if (error instanceof KubeApiError) return error.status;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : 0;
}

/** Worth retrying: no answer at all, throttling, timeouts and server errors. */
export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** A short, secret-free description of an error for logs (never the request or response body). */
export function describeError(error: unknown): string {
  if (error instanceof KubeApiError) return error.message;
  const status = statusOf(error);
  if (status) {
    // ApiException's message embeds the whole response body; keep the Status message only.
    const body = (error as { body?: unknown }).body;
    let message: string | undefined;
    try {
      message = (typeof body === 'string' ? JSON.parse(body) : body)?.message;
    } catch {}
    return `HTTP ${status}${message ? `: ${message}` : ''}`;
  }
  if (error instanceof Error) {
    const cause = (error.cause as { code?: string; message?: string } | undefined) ?? undefined;
    const detail = cause?.code ?? cause?.message;
    return detail ? `${error.message} (${detail})` : error.message;
  }
  return String(error);
}

export interface BackoffOptions {
  /** First delay (default 500 ms). */
  initialMs?: number;
  /** Cap (default 30 s). */
  maxMs?: number;
}

/** Capped exponential backoff with "equal jitter": each delay is in [d/2, d], d doubling up to the cap. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 500;
    this.#maxMs = options.maxMs ?? 30_000;
  }

  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, signal ? { signal } : undefined).catch(() => {});
}

/** A watch event as the apiserver sends it. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON from the apiserver
  object: any;
}

export type WatchEnd =
  /** The server ended the stream cleanly (its timeout, or a graceful shutdown). */
  | 'closed'
  /** Nothing arrived, not even a bookmark, for `silentMs`: the connection was dropped. */
  | 'silent'
  /** The caller's signal aborted it. */
  | 'aborted';

export interface RequestOptions {
  /** Abort when no answer arrives in time (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Time allowed to get the response headers (default 30 s). */
  connectTimeoutMs?: number;
  /** End the watch when no bytes arrive for this long. */
  silentMs: number;
  /** Called once the server accepted the watch (200). */
  onOpen?: () => void;
}

/** Raw JSON reads (GET, list pages, watch streams) with the KubeConfig's credentials. */
export class KubeReader {
  readonly #kc: KubeConfig;

  constructor(kubeConfig: KubeConfig) {
    this.#kc = kubeConfig;
  }

  /** GET a JSON document; throws KubeApiError for non-2xx answers and failed requests. */
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON from the apiserver
  async get(path: string, options: RequestOptions = {}): Promise<any> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const response = await this.#open(path, signal);
    try {
      if (response.status !== 200) throw await apiError(response, path);
      return await response.json();
    } catch (error) {
      throw error instanceof KubeApiError ? error : requestFailed(path, error);
    }
  }

  /**
   * Streams a watch, calling `onEvent` for each event in order. Resolves with how
   * the stream ended; throws KubeApiError when it could not be opened (or broke
   * with a network error), and rethrows whatever `onEvent` throws.
   */
  async watch(
    path: string,
    params: Record<string, string>,
    onEvent: (event: WatchEvent) => void,
    options: WatchOptions,
  ): Promise<WatchEnd> {
    const query = new URLSearchParams({ ...params, watch: 'true' });
    const url = `${path}${path.includes('?') ? '&' : '?'}${query}`;
    const local = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
    let silent = false;
    let connectTimedOut = false;
    const connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    let timer = setTimeout(() => {
      connectTimedOut = true;
      local.abort();
    }, connectTimeoutMs);
    const armSilenceTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        silent = true;
        local.abort();
      }, options.silentMs);
    };
    const ended = (error: unknown): WatchEnd => {
      if (options.signal?.aborted) return 'aborted';
      if (silent) return 'silent';
      if (connectTimedOut)
        throw new KubeApiError(0, `watch ${path}: no answer within ${connectTimeoutMs} ms`);
      throw error instanceof KubeApiError ? error : requestFailed(url, error);
    };
    let handlerError: { error: unknown } | undefined;
    try {
      let response: Awaited<ReturnType<typeof fetch>>;
      try {
        response = await this.#open(url, signal);
      } catch (error) {
        return ended(error);
      }
      if (response.status !== 200 || !response.body) throw await apiError(response, path);
      connectTimedOut = false;
      options.onOpen?.();
      armSilenceTimer();
      const decoder = new TextDecoder();
      let buffered = '';
      try {
        for await (const chunk of response.body) {
          armSilenceTimer();
          buffered += decoder.decode(chunk, { stream: true });
          let newline = buffered.indexOf('\n');
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            newline = buffered.indexOf('\n');
            if (!line) continue;
            let event: WatchEvent;
            try {
              event = JSON.parse(line) as WatchEvent;
            } catch {
              throw new KubeApiError(0, `watch ${path}: unparsable event`);
            }
            try {
              onEvent(event);
            } catch (error) {
              handlerError = { error };
              throw error;
            }
          }
        }
      } catch (error) {
        if (handlerError) throw handlerError.error;
        return ended(error);
      }
      return options.signal?.aborted ? 'aborted' : 'closed';
    } finally {
      clearTimeout(timer);
      // Ends the stream (and its connection) whatever happened.
      local.abort();
    }
  }

  async #open(path: string, signal: AbortSignal): Promise<Awaited<ReturnType<typeof fetch>>> {
    const cluster = this.#kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError(0, 'the kubeconfig has no current cluster');
    const url = `${cluster.server.replace(/\/+$/, '')}${path}`;
    const context = new RequestContext(url, HttpMethod.GET);
    await authenticate(this.#kc, context);
    const dispatcher = context.getDispatcher() as Dispatcher | undefined;
    return fetch(url, {
      method: 'GET',
      headers: { ...context.getHeaders(), accept: 'application/json' },
      signal,
      ...(dispatcher && { dispatcher }),
    });
  }
}

function requestFailed(what: string, error: unknown): KubeApiError {
  const path = what.replace(/\?.*/, '');
  return new KubeApiError(0, `GET ${path}: ${describeError(error)}`, undefined, { cause: error });
}

async function apiError(response: Awaited<ReturnType<typeof fetch>>, path: string): Promise<KubeApiError> {
  let reason: string | undefined;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const status = (await response.json()) as { reason?: string; message?: string };
    reason = status.reason;
    if (status.message) message = status.message;
  } catch {}
  return new KubeApiError(response.status, `GET ${path}: ${response.status} ${message}`, reason);
}
