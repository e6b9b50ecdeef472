// Raw JSON requests to the apiserver: list/get/watch for the reflectors and the
// Secret fetcher, and the few writes the controller makes (Lease, Events,
// LambdaRoute status), with the credentials and connections of an ApiAccess.
//
// Not client-node's typed clients and ListWatch (client-node 2.0.1), because:
// - ListWatch caches every object it sees (all Secrets of the cluster), does not
//   paginate lists, cannot pass allowWatchBookmarks, and stops for good on any
//   error other than 410;
// - Watch aborts a stream after a fixed, private 30 s without data, which is
//   shorter than the apiserver's bookmark period (~1 min), so it cannot tell a
//   quiet watch from a dead one on our terms;
// - typed clients turn timestamps into Date objects and have no request timeout;
// - importing it costs ~50 MB of RSS.
import { fetch } from '../util/undici.ts';
import type { ApiAccess } from './api-access.ts';
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

export interface SendOptions extends RequestOptions {
  /** Default application/json; PATCH needs its kind, e.g. MERGE_PATCH. */
  contentType?: string;
}

export const MERGE_PATCH = 'application/merge-patch+json';

/** metav1.MicroTime for now: the apiserver wants exactly six fractional digits. */
export const microTime = (): string => new Date().toISOString().replace(/Z$/, '000Z');

/** What the reflectors and the Secret fetcher read the cluster with: a KubeClient. */
export type ApiReader = Pick<KubeClient, 'get' | 'watch'>;

/** Raw JSON requests (GET, list pages, watch streams, writes) with an ApiAccess's credentials. */
export class KubeClient {
  readonly #access: ApiAccess;

  constructor(access: ApiAccess) {
    this.#access = access;
  }

  /** GET a JSON document; throws KubeApiError for non-2xx answers and failed requests. */
  // biome-ignore lint/suspicious/noExplicitAny: raw JSON from the apiserver
  async get(path: string, options: RequestOptions = {}): Promise<any> {
    return this.#request('GET', path, undefined, options);
  }

  /**
   * Sends a JSON body (POST, PUT, PATCH) and resolves with the JSON answer;
   * throws KubeApiError for non-2xx answers (409 for a stale resourceVersion)
   * and failed requests.
   */
  send(
    method: 'POST' | 'PUT' | 'PATCH',
    path: string,
    body: unknown,
    options: SendOptions = {},
    // biome-ignore lint/suspicious/noExplicitAny: raw JSON from the apiserver
  ): Promise<any> {
    return this.#request(method, path, body, options);
  }

  // biome-ignore lint/suspicious/noExplicitAny: raw JSON from the apiserver
  async #request(method: string, path: string, body: unknown, options: SendOptions): Promise<any> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 30_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      const response = await this.#open(method, path, signal, body, options.contentType);
      if (response.status < 200 || response.status > 299) throw await apiError(response, method, path);
      return await response.json();
    } catch (error) {
      throw error instanceof KubeApiError ? error : requestFailed(method, path, error);
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
      throw error instanceof KubeApiError ? error : requestFailed('GET', url, error);
    };
    let handlerError: { error: unknown } | undefined;
    try {
      let response: Awaited<ReturnType<typeof fetch>>;
      try {
        response = await this.#open('GET', url, signal);
      } catch (error) {
        return ended(error);
      }
      if (response.status !== 200 || !response.body) throw await apiError(response, 'GET', path);
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

  async #open(
    method: string,
    path: string,
    signal: AbortSignal,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<Awaited<ReturnType<typeof fetch>>> {
    const url = `${this.#access.server}${path}`;
    const { headers, dispatcher } = await this.#access.authorize(url, method);
    return fetch(url, {
      method,
      headers: {
        ...headers,
        accept: 'application/json',
        ...(body !== undefined && { 'content-type': contentType }),
      },
      signal,
      ...(body !== undefined && { body: JSON.stringify(body) }),
      ...(dispatcher && { dispatcher }),
    });
  }
}

function requestFailed(method: string, what: string, error: unknown): KubeApiError {
  const path = what.replace(/\?.*/, '');
  return new KubeApiError(0, `${method} ${path}: ${describeError(error)}`, undefined, { cause: error });
}

async function apiError(
  response: Awaited<ReturnType<typeof fetch>>,
  method: string,
  what: string,
): Promise<KubeApiError> {
  const path = what.replace(/\?.*/, '');
  let reason: string | undefined;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const status = (await response.json()) as { reason?: string; message?: string };
    reason = status.reason;
    if (status.message) message = status.message;
  } catch {}
  return new KubeApiError(response.status, `${method} ${path}: ${response.status} ${message}`, reason);
}
