// Problems only found while serving: credentials that cannot be obtained, a
// function the Invoke API says does not exist. They turn a route's Ready
// condition False (status, /debug/routes) and clear themselves on recovery.
export type ProblemReason = 'CredentialsUnavailable' | 'FunctionNotFound';

export interface RouteProblem {
  reason: ProblemReason;
  message: string;
}

export class RouteHealth {
  readonly #problems = new Map<string, Map<ProblemReason, string>>();
  readonly #listeners: (() => void)[] = [];

  /** The route's first problem, if any. */
  get(routeKey: string): RouteProblem | undefined {
    const problems = this.#problems.get(routeKey);
    if (!problems) return undefined;
    const [reason, message] = problems.entries().next().value!;
    return { reason, message };
  }

  /** Records (message) or clears (undefined) one kind of problem for a route. */
  report(routeKey: string, reason: ProblemReason, message: string | undefined): void {
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
