import type { CompileResult, RouteDiagnostic } from '../compile/compile.ts';

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
