// sources -> snapshot -> compile -> serving backend: the one path every
// configuration change takes, in standalone and controller mode alike.
import type { FastifyBaseLogger } from 'fastify';
import type { Snapshot, SourceError } from './api/snapshot.ts';
import type { Condition, SecretObject } from './api/types.ts';
import { type CompileOptions, compile } from './compile/compile.ts';
import type { ServingBackend } from './dataplane/data-plane.ts';
import type { CompileResult, RouteDiagnostic } from './model/compile-result.ts';
import type { HostCertificateReport } from './tls/store.ts';
import { registerSecrets } from './util/log.ts';
import { perObject } from './util/per-object.ts';

export type CompileListener = (result: CompileResult, stats: { compileMs: number }) => void;

/** What the pipeline needs of the serving backend. */
type Backend = Pick<ServingBackend, 'serve' | 'health' | 'certificates'>;

export class Pipeline {
  readonly #backend: Backend;
  readonly #compileOptions: CompileOptions;
  /** The application log, for messages about configuration and serving. */
  readonly log: FastifyBaseLogger;
  readonly #listeners: CompileListener[] = [];
  readonly #diagnosticsListeners: (() => void)[] = [];
  #version = 0;
  #current: CompileResult | undefined;
  /** The Ready condition last logged per route, so that only changes are logged. */
  #loggedReady = new Map<string, Condition>();
  /** What was last logged of each host's certificate. */
  #loggedCertificates = new Map<string, string>();

  constructor(backend: Backend, log: FastifyBaseLogger, compileOptions: CompileOptions = {}) {
    this.#backend = backend;
    this.#compileOptions = compileOptions;
    this.log = log;
    backend.health.onChange(() => this.#diagnosticsChanged());
  }

  /**
   * Every route's conditions: compile's, with Ready turned False by problems
   * the data plane found while serving (credentials, missing functions), and
   * ResolvedRefs saying what the HTTPS listener serves for a certificate it
   * cannot use (the last good one, or none).
   */
  diagnostics(): RouteDiagnostic[] {
    const health = this.#backend.health;
    const certificates = certificateProblems(this.#backend.certificates.report());
    return (this.#current?.diagnostics ?? []).map((diagnostic) => {
      const problem = health.get(diagnostic.key);
      const certificate = certificates.get(diagnostic.key);
      if (!problem && !certificate) return diagnostic;
      const conditions = diagnostic.conditions.map((c) => {
        if (c.type === 'Ready' && problem) {
          return { ...c, status: 'False' as const, reason: problem.reason, message: problem.message };
        }
        return c.type === 'ResolvedRefs' && certificate ? withCertificate(c, certificate) : c;
      });
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

  /** Compiles a snapshot and has the backend serve it. */
  apply(snapshot: Snapshot): CompileResult {
    registerSecrets(this, secretValues(snapshot));
    const started = performance.now();
    const result = compile(snapshot, ++this.#version, this.#compileOptions);
    const compileMs = performance.now() - started;
    this.#backend.serve(result, snapshot);
    this.#logSourceErrors(this.#current, result);
    this.#current = result;
    this.log.info(
      {
        version: result.table.version,
        routes: result.table.routes.length,
        compileMs: Math.round(compileMs * 100) / 100,
      },
      'routing table updated',
    );
    for (const listener of this.#listeners) listener(result, { compileMs });
    this.#diagnosticsChanged();
    return result;
  }

  #diagnosticsChanged(): void {
    this.#logReadiness();
    this.#logCertificates();
    for (const listener of this.#diagnosticsListeners) listener();
  }

  #logSourceErrors(previous: CompileResult | undefined, next: CompileResult): void {
    const seen = new Set(previous?.errors.map(errorText));
    for (const error of next.errors) {
      if (!seen.has(errorText(error))) this.log.warn({ origin: error.origin }, error.message);
    }
  }

  /**
   * Logs each route whose readiness changed, with the reason. The first time,
   * ready routes are counted in one line rather than listed (10,000 of them
   * would flood the log at startup); routes that are not ready are listed.
   */
  #logReadiness(): void {
    const first = this.#loggedReady.size === 0;
    const next = new Map<string, Condition>();
    let ready = 0;
    for (const diagnostic of this.diagnostics()) {
      const condition = diagnostic.conditions.find((c) => c.type === 'Ready')!;
      next.set(diagnostic.key, condition);
      if (condition.status === 'True') ready++;
      const old = this.#loggedReady.get(diagnostic.key);
      if (
        old?.status === condition.status &&
        old.reason === condition.reason &&
        old.message === condition.message
      ) {
        continue;
      }
      const fields = { route: diagnostic.key, origin: diagnostic.origin, reason: condition.reason };
      if (condition.status === 'False') this.log.warn(fields, `route not ready: ${condition.message}`);
      else if (!first) this.log.info(fields, 'route ready');
    }
    if (first && next.size > 0)
      this.log.info({ ready, notReady: next.size - ready }, `${ready} of ${next.size} routes ready`);
    this.#loggedReady = next;
  }

  /** Logs each host whose certificate changed: what TLS clients are served now, and why not the bound one. */
  #logCertificates(): void {
    const next = new Map<string, string>();
    for (const report of this.#backend.certificates.report()) {
      const text = describeServed(report);
      next.set(report.host, text);
      if (this.#loggedCertificates.get(report.host) === text) continue;
      const fields = { host: report.host, secret: report.secret, route: report.route };
      if (report.state === 'serving' && report.warnings.length === 0) this.log.info(fields, text);
      else this.log.warn(fields, text);
    }
    this.#loggedCertificates = next;
  }
}

/** By route key: the first host bound to the route whose certificate is not the one it names. */
function certificateProblems(reports: readonly HostCertificateReport[]): Map<string, HostCertificateReport> {
  const problems = new Map<string, HostCertificateReport>();
  for (const report of reports) {
    if (report.route !== undefined && report.problem !== undefined && !problems.has(report.route)) {
      problems.set(report.route, report);
    }
  }
  return problems;
}

/**
 * ResolvedRefs with what the listener serves instead: compile found the
 * Secret unreadable (InvalidCertificate) or, when OpenSSL refused it, only
 * the listener did.
 */
function withCertificate(condition: Condition, served: HostCertificateReport): Condition {
  const kept =
    served.state === 'kept' ? `; serving the last good certificate (${describeCertificate(served)})` : '';
  if (condition.status === 'True') {
    return {
      ...condition,
      status: 'False',
      reason: 'InvalidCertificate',
      message: `spec.certificateRef: ${served.problem}${kept}`,
    };
  }
  return condition.reason === 'InvalidCertificate'
    ? { ...condition, message: condition.message + kept }
    : condition;
}

const describeCertificate = ({ certificate }: HostCertificateReport) =>
  `${certificate?.subject}, fingerprint ${certificate?.fingerprint}, not after ${certificate?.notAfter}`;

/** One line for the log: what a host is served, and why not what it is bound to. */
function describeServed(report: HostCertificateReport): string {
  const warnings = report.warnings.length > 0 ? ` (${report.warnings.join('; ')})` : '';
  switch (report.state) {
    case 'serving':
      return `serving the certificate of Secret ${report.secret} for ${report.host}: ${describeCertificate(report)}${warnings}`;
    case 'kept':
      return `serving the last good certificate for ${report.host} (${describeCertificate(report)}): ${report.problem}`;
    case 'none':
      return `no certificate for ${report.host}: ${report.problem}`;
  }
}

const decodedValues = perObject((secret: SecretObject) =>
  Object.values(secret.data).map((bytes) => bytes.toString('utf8').trim()),
);

function secretValues(snapshot: Snapshot): string[] {
  const values: string[] = [];
  for (const secret of snapshot.secrets.values()) values.push(...decodedValues(secret));
  return values;
}

const errorText = (e: SourceError) => `${e.origin}\n${e.message}`;
