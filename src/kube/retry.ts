// Per-key retries: each key (a route, a Secret) has its own backoff and at most
// one pending timer, so that one failing object neither delays nor speeds up
// the retries of another.
import { Backoff, type BackoffOptions } from './backoff.ts';

interface Entry {
  backoff: Backoff;
  timer?: NodeJS.Timeout | undefined;
}

export class KeyedRetry {
  readonly #backoff: BackoffOptions;
  readonly #run: (key: string) => void;
  readonly #entries = new Map<string, Entry>();

  /** `run(key)` is called when a scheduled retry of `key` is due. */
  constructor(backoff: BackoffOptions, run: (key: string) => void) {
    this.#backoff = backoff;
    this.#run = run;
  }

  /** Runs `key` again after its next backoff delay, replacing a retry already pending; returns the delay. */
  schedule(key: string): number {
    const entry = this.#entries.get(key) ?? { backoff: new Backoff(this.#backoff) };
    this.#entries.set(key, entry);
    clearTimeout(entry.timer);
    const wait = entry.backoff.next();
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.#run(key);
    }, wait);
    return wait;
  }

  /** A retry of `key` is waiting for its delay. */
  pending(key: string): boolean {
    return this.#entries.get(key)?.timer !== undefined;
  }

  /** Forgets `key` (it succeeded or no longer matters): no pending retry, and its backoff starts over. */
  clear(key: string): void {
    clearTimeout(this.#entries.get(key)?.timer);
    this.#entries.delete(key);
  }

  clearAll(): void {
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
    this.#entries.clear();
  }
}
