// Problems only found while serving: credentials that cannot be obtained, a
// function the Invoke API says does not exist. They turn a route's Ready
// condition False (status, /debug/routes) and clear themselves on recovery.
import type { Failure, ServingReason } from '../api/failure.ts';

export class RouteHealth {
  readonly #problems = new Map<string, Map<ServingReason, string>>();
  readonly #listeners: (() => void)[] = [];

  /** The route's first problem, if any. */
  get(routeKey: string): Failure<ServingReason> | undefined {
    const problems = this.#problems.get(routeKey);
    if (!problems) return undefined;
    const [reason, message] = problems.entries().next().value!;
    return { reason, message };
  }

  /** Records (message) or clears (undefined) one kind of problem for a route. */
  report(routeKey: string, reason: ServingReason, message: string | undefined): void {
    const problems = this.#problems.get(routeKey);
    if (problems?.get(reason) === message) return;
    if (message === undefined) {
      problems!.delete(reason);
      if (problems!.size === 0) this.#problems.delete(routeKey);
    } else if (problems) {
      problems.set(reason, message);
    } else {
      this.#problems.set(routeKey, new Map([[reason, message]]));
    }
    for (const listener of this.#listeners) listener();
  }

  /** Replaces every problem with `problems` (the union the worker processes report). */
  assign(problems: readonly (readonly [routeKey: string, reason: ServingReason, message: string])[]): void {
    const next = new Map<string, Map<ServingReason, string>>();
    for (const [key, reason, message] of problems) {
      if (!next.has(key)) next.set(key, new Map());
      next.get(key)!.set(reason, message);
    }
    const same =
      next.size === this.#problems.size &&
      [...next].every(([key, map]) => {
        const old = this.#problems.get(key);
        return old?.size === map.size && [...map].every(([reason, message]) => old.get(reason) === message);
      });
    if (same) return;
    this.#problems.clear();
    for (const [key, map] of next) this.#problems.set(key, map);
    for (const listener of this.#listeners) listener();
  }

  /** Every problem, as the worker processes report them to the primary. */
  list(): [routeKey: string, reason: ServingReason, message: string][] {
    const out: [string, ServingReason, string][] = [];
    for (const [key, map] of this.#problems)
      for (const [reason, message] of map) out.push([key, reason, message]);
    return out;
  }

  /** Forgets routes that are no longer served. */
  retain(routeKeys: ReadonlySet<string>): void {
    let changed = false;
    for (const key of this.#problems.keys()) {
      if (!routeKeys.has(key)) {
        this.#problems.delete(key);
        changed = true;
      }
    }
    if (changed) for (const listener of this.#listeners) listener();
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }
}
