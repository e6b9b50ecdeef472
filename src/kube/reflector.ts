// One list+watch loop for one resource in one scope (all namespaces or one):
// list (paginated), then watch from the list's resourceVersion with bookmarks,
// forever. Unlike client-node's ListWatch it never stops on its own:
// - 410 Gone (expired resourceVersion or continue token): relist at once;
// - any other failure (connection refused or reset, timeout, 403, 5xx): retry
//   with capped exponential backoff and jitter, from the last resourceVersion;
// - a clean end of the stream (server timeout, graceful apiserver shutdown):
//   watch again at once (backing off only when that keeps happening instantly);
// - no event and no bookmark for `silentWatchMs`: drop the connection and watch again.
// It keeps no cache: the handlers decide what to keep.
import { Backoff, type BackoffOptions, sleep } from './backoff.ts';
import type { ApiReader } from './client.ts';
import { describeError, KubeApiError, statusOf } from './errors.ts';
import type { Log } from './log.ts';

// biome-ignore lint/suspicious/noExplicitAny: raw JSON from the apiserver
export type RawObject = any;

export type RestartReason = 'error' | 'gone' | 'silent' | 'closed';

export interface ReflectorHandlers {
  /** A fresh full list: `items` (those `keep` accepted) replace everything in this scope. */
  replace(items: RawObject[]): void;
  /** One watch event, in order. */
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: RawObject): void;
}

export interface ReflectorOptions {
  reader: ApiReader;
  /** Plural resource name, for logs and metrics ("lambdaroutes", "secrets"). */
  resource: string;
  /** The scope; undefined = all namespaces. */
  namespace: string | undefined;
  /** Collection path, e.g. /api/v1/secrets or /api/v1/namespaces/ns/secrets. */
  path: string;
  handlers: ReflectorHandlers;
  /** Decides, page by page while listing, which items are worth keeping (default: all). */
  keep?: (object: RawObject) => boolean;
  silentWatchMs: number;
  requestTimeoutMs: number;
  pageSize: number;
  backoff: BackoffOptions;
  log: Log;
  /** Called whenever `synced` or `connected` may have changed. */
  onStateChange: () => void;
  /** Called on every successful contact (list, watch opened, event, bookmark). */
  onContact: () => void;
  onListed?: (durationMs: number, items: number) => void;
  onRestart?: (reason: RestartReason) => void;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * A listed item without what no handler reads, so that a list of thousands
 * does not hold it until its last page is in: server-side apply's
 * managedFields and kubectl's last-applied annotation (a second copy of the
 * object: every spec, every Secret's data).
 */
function withoutBookkeeping(item: RawObject): RawObject {
  const metadata = item?.metadata;
  if (metadata) {
    delete metadata.managedFields;
    if (metadata.annotations) delete metadata.annotations[LAST_APPLIED];
  }
  return item;
}

/** Watches are ended by the server after a random 5-10 min, as client-go does, to spread reconnections. */
const watchTimeoutSeconds = () => String(300 + Math.floor(Math.random() * 300));

export class Reflector {
  readonly #o: ReflectorOptions;
  readonly #abort = new AbortController();
  /** What logs say of this reflector. */
  readonly #where: { resource: string; namespace: string };
  #running: Promise<void> | undefined;
  #synced = false;
  #connected = false;

  constructor(options: ReflectorOptions) {
    this.#o = options;
    this.#where = { resource: options.resource, namespace: options.namespace ?? '*' };
  }

  /** A full list has been delivered at least once. Stays true through outages. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The last request to the apiserver succeeded (the watch is open). */
  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    this.#o.onStateChange();
  }

  async #run(): Promise<void> {
    const o = this.#o;
    const signal = this.#abort.signal;
    const backoff = new Backoff(o.backoff);
    const where = this.#where;
    let resourceVersion = '';
    while (!signal.aborted) {
      try {
        if (!resourceVersion) {
          resourceVersion = await this.#relist(signal);
          if (signal.aborted) break;
          backoff.reset();
        }
        const opened = Date.now();
        let events = 0;
        const end = await o.reader.watch(
          o.path,
          { resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: watchTimeoutSeconds() },
          (event) => {
            if (event.type === 'ERROR') {
              const status = event.object ?? {};
              throw new KubeApiError(
                typeof status.code === 'number' ? status.code : 500,
                `watch ${o.path}: ${status.message ?? 'error event'}`,
                status.reason,
              );
            }
            if (event.type !== 'BOOKMARK') o.handlers.event(event.type, event.object);
            resourceVersion = event.object?.metadata?.resourceVersion || resourceVersion;
            if (events++ === 0) backoff.reset();
            o.onContact();
          },
          {
            signal,
            silentMs: o.silentWatchMs,
            connectTimeoutMs: o.requestTimeoutMs,
            onOpen: () => {
              this.#setConnected(true);
              o.onContact();
            },
          },
        );
        if (end === 'aborted') break;
        o.onRestart?.(end);
        if (end === 'silent') {
          o.log.warn(
            { ...where, silentMs: o.silentWatchMs },
            'watch silent (no event, no bookmark); re-establishing it',
          );
        } else if (events === 0 && Date.now() - opened < 1000) {
          // Closed as soon as opened: don't spin; the next attempt shows whether the server is there.
          await sleep(backoff.next(), signal);
        }
      } catch (error) {
        if (signal.aborted) break;
        if (statusOf(error) === 410) {
          // The resourceVersion (or list continue token) expired: relist now.
          resourceVersion = '';
          o.onRestart?.('gone');
          o.log.info({ ...where }, 'resourceVersion expired (410 Gone); relisting');
          continue;
        }
        this.#setConnected(false);
        o.onRestart?.('error');
        const wait = backoff.next();
        const log = backoff.attempt > 3 ? o.log.warn : o.log.info;
        log.call(
          o.log,
          { ...where, error: describeError(error), attempt: backoff.attempt, retryInMs: wait },
          resourceVersion ? 'watch failed; retrying' : 'list failed; retrying',
        );
        await sleep(wait, signal);
      }
    }
  }

  /**
   * Lists and hands the items over; gives the list's resourceVersion ("" when
   * aborted). Its own function, not part of #run: a suspended async function
   * can keep a dead local alive in its frame, and #run waits on a watch for
   * minutes; the listed items must go once the handlers have taken them.
   */
  async #relist(signal: AbortSignal): Promise<string> {
    const o = this.#o;
    const started = performance.now();
    const list = await this.#list(signal);
    if (signal.aborted) return '';
    o.handlers.replace(list.items);
    this.#synced = true;
    this.#connected = true;
    o.onStateChange();
    o.onContact();
    const durationMs = performance.now() - started;
    o.onListed?.(durationMs, list.items.length);
    o.log.debug({ ...this.#where, items: list.items.length, durationMs: Math.round(durationMs) }, 'listed');
    return list.resourceVersion;
  }

  async #list(signal: AbortSignal): Promise<{ items: RawObject[]; resourceVersion: string }> {
    const o = this.#o;
    const items: RawObject[] = [];
    let next = '';
    let resourceVersion = '';
    do {
      const query = new URLSearchParams({ limit: String(o.pageSize) });
      if (next) query.set('continue', next);
      const page = await o.reader.get(`${o.path}?${query}`, { timeoutMs: o.requestTimeoutMs, signal });
      for (const item of page?.items ?? []) {
        if (!o.keep || o.keep(item)) items.push(withoutBookkeeping(item));
      }
      next = page?.metadata?.continue ?? '';
      resourceVersion = page?.metadata?.resourceVersion ?? '';
    } while (next && !signal.aborted);
    return { items, resourceVersion };
  }
}
