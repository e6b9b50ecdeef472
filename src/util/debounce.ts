// Turns a burst of changes into one call: `fire` runs once the changes have
// been quiet for `quietMs`, and, with `maxWaitMs`, no later than that after the
// first change of the burst, so that a steady stream of changes still fires.

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
}

const RECHECK_MS = 20;

export class Debounce {
  readonly #fire: () => void;
  readonly #quietMs: number;
  readonly #maxWaitMs: number;
  readonly #ready: (() => boolean) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending burst began. */
  #firstAt: number | undefined;

  constructor(fire: () => void, options: DebounceOptions) {
    this.#fire = fire;
    this.#quietMs = options.quietMs;
    this.#maxWaitMs = options.maxWaitMs ?? Number.POSITIVE_INFINITY;
    this.#ready = options.ready;
  }

  /** Something changed: fire after the quiet time (or the max wait). */
  trigger(): void {
    const now = Date.now();
    this.#firstAt ??= now;
    clearTimeout(this.#timer);
    const due = Math.min(now + this.#quietMs, this.#firstAt + this.#maxWaitMs);
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
    if (this.#ready && !this.#ready() && waited < this.#maxWaitMs) {
      this.#timer = setTimeout(() => this.#due(), RECHECK_MS);
      return;
    }
    this.#timer = undefined;
    this.#firstAt = undefined;
    this.#fire();
  }
}
