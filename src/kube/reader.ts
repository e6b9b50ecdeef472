// A raw JSON reader for list/get/watch, used by the reflectors and the Secret
// fetcher.
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
import { HttpMethod, type KubeConfig, RequestContext } from '@kubernetes/client-node';
import { type Dispatcher, fetch } from 'undici';
import { authenticate } from './connections.ts';
import { describeError, KubeApiError } from './errors.ts';

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

/** What the reflectors and the Secret fetcher read the cluster with: a KubeReader. */
export type ApiReader = Pick<KubeReader, 'get' | 'watch'>;

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
