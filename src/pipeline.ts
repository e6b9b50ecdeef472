// sources -> snapshot -> compile -> runtime -> router: the one path every
// configuration change takes, in standalone and controller mode alike.
import type { FastifyBaseLogger } from 'fastify';
import { type CompileResult, compile, type RouteDiagnostic } from './compile/compile.ts';
import type { Snapshot, SourceError } from './compile/snapshot.ts';
import type { Router } from './dataplane/router.ts';
import type { Runtime } from './dataplane/runtime.ts';

export type CompileListener = (result: CompileResult, stats: { compileMs: number }) => void;

export class Pipeline {
  readonly #runtime: Runtime;
  readonly #router: Router;
  readonly #log: FastifyBaseLogger;
  readonly #listeners: CompileListener[] = [];
  #version = 0;
  #current: CompileResult | undefined;

  readonly #diagnosticsListeners: (() => void)[] = [];

  constructor(runtime: Runtime, router: Router, log: FastifyBaseLogger) {
    this.#runtime = runtime;
    this.#router = router;
    this.#log = log;
    runtime.health.onChange(() => {
      for (const listener of this.#diagnosticsListeners) listener();
    });
  }

  /**
   * Every route's conditions: compile's, with Ready turned False by problems
   * the data plane found while serving (credentials, missing functions).
   */
  diagnostics(): RouteDiagnostic[] {
    const health = this.#runtime.health;
    return (this.#current?.diagnostics ?? []).map((diagnostic) => {
      const problem = health.get(diagnostic.key);
      if (!problem) return diagnostic;
      const conditions = diagnostic.conditions.map((c) =>
        c.type === 'Ready'
          ? { ...c, status: 'False' as const, reason: problem.reason, message: problem.message }
          : c,
      );
      return { ...diagnostic, conditions };
    });
  }

  /** Called when diagnostics() may have changed: after each compile, and when serving finds or clears a problem. */
  onDiagnostics(listener: () => void): void {
    this.#diagnosticsListeners.push(listener);
  }

  /** The last compile result, once there is one. */
  get current(): CompileResult | undefined {
    return this.#current;
  }

  onCompiled(listener: CompileListener): void {
    this.#listeners.push(listener);
  }

  /** Compiles a snapshot and swaps the data plane to it. */
  apply(snapshot: Snapshot): CompileResult {
    const started = performance.now();
    const result = compile(snapshot, ++this.#version);
    const compileMs = performance.now() - started;
    this.#router.swap(this.#runtime.build(result));
    this.#report(this.#current, result);
    this.#current = result;
    this.#log.info(
      {
        version: result.table.version,
        routes: result.table.routes.length,
        compileMs: Math.round(compileMs * 100) / 100,
      },
      'routing table updated',
    );
    for (const listener of this.#listeners) listener(result, { compileMs });
    for (const listener of this.#diagnosticsListeners) listener();
    return result;
  }

  /** Logs what changed for users: new source errors, and routes whose readiness changed. */
  #report(previous: CompileResult | undefined, next: CompileResult): void {
    const seen = new Set(previous?.errors.map(errorText));
    for (const error of next.errors) {
      if (!seen.has(errorText(error))) this.#log.warn({ origin: error.origin }, error.message);
    }
    const before = new Map(previous?.diagnostics.map((d) => [d.key, readyCondition(d)]));
    for (const diagnostic of next.diagnostics) {
      const ready = readyCondition(diagnostic);
      const old = before.get(diagnostic.key);
      if (old && old.status === ready.status && old.reason === ready.reason && old.message === ready.message)
        continue;
      const fields = { route: diagnostic.key, origin: diagnostic.origin, reason: ready.reason };
      if (ready.status === 'True') this.#log.info(fields, 'route ready');
      else this.#log.warn(fields, `route not ready: ${ready.message}`);
    }
  }
}

const errorText = (e: SourceError) => `${e.origin}\n${e.message}`;
const readyCondition = (d: RouteDiagnostic) => d.conditions.find((c) => c.type === 'Ready')!;
