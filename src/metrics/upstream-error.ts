// Why a request's upstream call (API Gateway, a function URL, any url
// upstream, the Lambda Invoke API) did not give the client its answer: the
// access log's upstreamError and the `kind` label of
// lambda_ingress_upstream_errors_total. Listed once, here; the README's
// metrics table names the same values (test/dataplane/upstream-error.test.ts).
// No imports: the metrics import it too.

export const UPSTREAM_ERROR_KINDS = [
  'timeout',
  'queue_timeout',
  'connect',
  'tls',
  'reset',
  'function_error',
  'function_timeout',
  'throttled',
  'function_not_found',
  'invoke_failed',
  'bad_response',
  'client_closed',
] as const;

export type UpstreamErrorKind = (typeof UPSTREAM_ERROR_KINDS)[number];
