// Turns a burst of changes into one call: `fire` runs once the changes have
// been quiet for `quietMs`, and, with `maxWaitMs`, no later than that after the
// first change of the burst, so that a steady stream of changes still fires.
// With `busyShare`, the max wait stretches with how long `fire` took last, so
// that a steady stream (10,000 routes being created) does not have it run
// back to back: each compile of a large table allocates the whole table anew.

export interface DebounceOptions {
  /** Quiet time after the last trigger. */
  quietMs: number;
  /** Longest delay from the first trigger of a burst to `fire` (default: none). */
  maxWaitMs?: number;
  /**
   * Checked when `fire` is due: while it returns false, firing is put off (and
   * checked again every 20 ms), though never beyond `maxWaitMs`.
   */
  ready?: () => boolean;
  /**
   * Under a steady stream of triggers, `fire` takes at most about this share
   * of the time: the max wait is at least `fire`'s last duration divided by
   * it (a 300 ms compile and 0.1: 3 s), up to `longestWaitMs`. A burst that
   * goes quiet still fires after `quietMs`. Default: the max wait is fixed.
   */
  busyShare?: number;
  /** Longest max wait `busyShare` stretches to (default 10 × maxWaitMs). */
  longestWaitMs?: number;
}

const RECHECK_MS = 20;

export class Debounce {
  readonly #fire: () => void;
  readonly #quietMs: number;
  readonly #maxWaitMs: number;
  readonly #ready: (() => boolean) | undefined;
  readonly #busyShare: number | undefined;
  readonly #longestWaitMs: number;
  /** How long the last `fire` took. */
  #lastFireMs = 0;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending burst began. */
  #firstAt: number | undefined;

  constructor(fire: () => void, options: DebounceOptions) {
    this.#fire = fire;
    this.#quietMs = options.quietMs;
    this.#maxWaitMs = options.maxWaitMs ?? Number.POSITIVE_INFINITY;
    this.#ready = options.ready;
    this.#busyShare = options.busyShare;
    this.#longestWaitMs = options.longestWaitMs ?? this.#maxWaitMs * 10;
  }

  /** The max wait of the pending burst: `maxWaitMs`, stretched by `busyShare`. */
  get maxWaitMs(): number {
    if (this.#busyShare === undefined) return this.#maxWaitMs;
    const stretched = Math.min(this.#lastFireMs / this.#busyShare, this.#longestWaitMs);
    return Math.max(this.#maxWaitMs, stretched);
  }

  /** Something changed: fire after the quiet time (or the max wait). */
  trigger(): void {
    const now = Date.now();
    this.#firstAt ??= now;
    clearTimeout(this.#timer);
    const due = Math.min(now + this.#quietMs, this.#firstAt + this.maxWaitMs);
    this.#timer = setTimeout(() => this.#due(), Math.max(0, due - now));
  }

  /** Drops the pending burst, if any. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#firstAt = undefined;
  }

  #due(): void {
    const waited = Date.now() - (this.#firstAt ?? Date.now());
    if (this.#ready && !this.#ready() && waited < this.maxWaitMs) {
      this.#timer = setTimeout(() => this.#due(), RECHECK_MS);
      return;
    }
    this.#timer = undefined;
    this.#firstAt = undefined;
    const started = Date.now();
    try {
      this.#fire();
    } finally {
      this.#lastFireMs = Date.now() - started;
    }
  }
}
