// Targeted GETs of single Secrets: the ones a route starts referencing after
// the store dropped them (only referenced Secrets are kept). Transient failures
// are retried per Secret with backoff; 404 (the watch brings it once created)
// and 403 (not ours to read) are not. A GET that a list or watch event
// overtook (cancel()) is ignored when it answers: the watch is the newer truth.
import type { BackoffOptions } from '../kube/backoff.ts';
import type { ApiReader } from '../kube/client.ts';
import { describeError, statusOf } from '../kube/errors.ts';
import type { Log } from '../kube/log.ts';
import type { RawObject } from '../kube/reflector.ts';
import { KeyedRetry } from '../kube/retry.ts';
import { namespaceOf } from './kubernetes-convert.ts';

export interface SecretFetcherOptions {
  reader: ApiReader;
  requestTimeoutMs: number;
  backoff: BackoffOptions;
  log: Log;
  /** Still worth fetching when a retry is due (referenced, and not in the store). */
  wanted(key: string): boolean;
  /** The GET answered, and nothing overtook it. */
  fetched(key: string, raw: RawObject): void;
}

export class SecretFetcher {
  readonly #o: SecretFetcherOptions;
  /** GETs in flight by Secret key; cancel() drops the token, and an answer whose token is gone is ignored. */
  readonly #inFlight = new Map<string, object>();
  readonly #retries: KeyedRetry;
  #stopped = false;

  constructor(options: SecretFetcherOptions) {
    this.#o = options;
    this.#retries = new KeyedRetry(options.backoff, (key) => {
      if (this.#o.wanted(key)) this.fetch(key);
      else this.#retries.clear(key);
    });
  }

  /** GETs in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** GETs the Secret "namespace/name", unless a GET or a retry of it is already under way. */
  fetch(key: string): void {
    if (this.#stopped || this.#inFlight.has(key) || this.#retries.pending(key)) return;
    const token = {};
    this.#inFlight.set(key, token);
    const namespace = namespaceOf(key);
    const name = key.slice(namespace.length + 1);
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
    const log = this.#o.log;
    this.#o.reader.get(path, { timeoutMs: this.#o.requestTimeoutMs }).then(
      (raw: RawObject) => {
        if (this.#inFlight.get(key) !== token) return;
        this.#inFlight.delete(key);
        this.#retries.clear(key);
        log.debug({ secret: key }, 'fetched newly referenced Secret');
        this.#o.fetched(key, raw);
      },
      (error: unknown) => {
        if (this.#inFlight.get(key) !== token) return;
        this.#inFlight.delete(key);
        const status = statusOf(error);
        if (status === 404 || status === 403) {
          // Not there (the watch will bring it when it is created), or not ours to read.
          this.#retries.clear(key);
          if (status === 403) log.warn({ secret: key, error: describeError(error) }, 'cannot read Secret');
          return;
        }
        const wait = this.#retries.schedule(key);
        log.info({ secret: key, error: describeError(error), retryInMs: wait }, 'Secret fetch failed');
      },
    );
  }

  /** Forgets the Secret's GET in flight (its answer will be ignored) and its pending retry. */
  cancel(key: string): void {
    this.#inFlight.delete(key);
    this.#retries.clear(key);
  }

  stop(): void {
    this.#stopped = true;
    this.#inFlight.clear();
    this.#retries.clearAll();
  }
}
