// What compile() hands on: the routing table, the certificates, every route's
// conditions and the sources' errors. The data plane takes the table and the
// certificates; status, logs, metrics and /debug/routes read the diagnostics.
import type { SourceError } from '../api/snapshot.ts';
import type { Condition } from '../api/types.ts';
import type { CertificateSet } from '../tls/store.ts';
import type { RouteTable } from './table.ts';

export interface RouteDiagnostic {
  key: string;
  namespace: string;
  name: string;
  generation?: number;
  origin?: string;
  conditions: Condition[];
}

export interface CompileResult {
  table: RouteTable;
  /** What the HTTPS listener serves by SNI: each host's certificate, and the default one. */
  certificates: CertificateSet;
  /** One entry per LambdaRoute in the snapshot, served or not, by namespace/name. */
  diagnostics: RouteDiagnostic[];
  errors: readonly SourceError[];
}

/**
 * The compile result as plain data, for /debug/routes and the golden tests.
 * Secret values are Sensitive and serialize as <redacted>.
 */
export function describeResult(
  result: CompileResult,
  diagnostics: readonly RouteDiagnostic[] = result.diagnostics,
): unknown {
  return JSON.parse(
    JSON.stringify({
      version: result.table.version,
      routes: result.table.routes,
      diagnostics,
      errors: result.errors,
    }),
  );
}
