// The responses the data plane gives itself (contract: "Responses the data
// plane gives itself"), and how upstream failures map onto them.
import type { ServerResponse } from 'node:http';
import type { Reason } from '../api/failure.ts';
import type { UpstreamErrorKind } from '../metrics/upstream-error.ts';
import { type BodyError, BodyTimeoutError, BodyTooLargeError, hasBody } from './body.ts';
import type { Exchange } from './exchange.ts';

/**
 * Every `error` code of the responses lambda-ingress gives itself, and the
 * status it always goes with (the README's "Responses lambda-ingress gives
 * itself" and "Error mapping" tables; test/dataplane/error-codes.test.ts
 * holds them to this).
 */
export const ERROR_STATUS = {
  bad_request: 400,
  no_route: 404,
  route_not_ready: 503,
  shutting_down: 503,
  payload_too_large: 413,
  request_timeout: 408,
  upstream_timeout: 504,
  upstream_unavailable: 502,
  bad_upstream_response: 502,
  function_error: 502,
  function_timeout: 504,
  function_not_found: 502,
  invoke_failed: 502,
  throttled: 429,
  not_implemented: 501,
  http_version_not_supported: 505,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** A request answered before routing, because it cannot be served as sent. */
export interface Refusal {
  error: ErrorCode;
  /** Says what is wrong without quoting the request (its query may hold secrets). */
  message: string;
}

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  route?: string;
  reason?: Reason;
  requestId?: string;
  [extra: string]: unknown;
}

/** Answers with `body`, under the status its error code goes with. */
export function sendError(res: ServerResponse, body: ErrorBody, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    // Too late for a status code: cut the connection so the client sees a failure, not a short body.
    res.destroy();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(ERROR_STATUS[body.error], {
    ...headers,
    // An answer given before the request body was read (413, 404, 503, 408) closes the connection:
    // keeping it would mean reading, for as long as the client cares to send it, a body nobody wants.
    ...(!res.req.complete && hasBody(res.req) && { connection: 'close' }),
    ...(body.requestId && { 'x-request-id': body.requestId }),
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

/** The 408 of a request whose body did not arrive within the route's timeout. */
export function requestTimeout(exchange: Exchange, route: string, error: BodyTimeoutError): void {
  sendError(exchange.res, {
    error: 'request_timeout',
    message: error.message,
    route,
    requestId: exchange.requestId,
  });
}

/**
 * Answers a request whose body could not be read (body.ts readBody): 413
 * saying `tooLarge`, 408, or nothing when the client is gone.
 */
export function rejectBody(exchange: Exchange, route: string, error: BodyError, tooLarge: string): void {
  if (error instanceof BodyTooLargeError) {
    sendError(exchange.res, {
      error: 'payload_too_large',
      message: tooLarge,
      route,
      requestId: exchange.requestId,
    });
  } else if (error instanceof BodyTimeoutError) {
    requestTimeout(exchange, route, error);
  } else {
    exchange.upstreamError = 'client_closed';
    exchange.res.destroy();
  }
}

/** The 503 of a route whose credentials cannot be obtained (STS, IRSA, Pod Identity failing). */
export function credentialsUnavailable(source: { problem: string | undefined }) {
  return {
    error: 'route_not_ready' as const,
    reason: 'CredentialsUnavailable' as const,
    message: source.problem ?? 'no AWS credentials available',
  };
}

/** What went wrong talking to an upstream, as the error code the client gets. */
export interface UpstreamFailure {
  code: 'upstream_timeout' | 'upstream_unavailable' | 'bad_upstream_response';
  /** For metrics and logs. */
  kind: Extract<
    UpstreamErrorKind,
    'timeout' | 'queue_timeout' | 'connect' | 'tls' | 'reset' | 'bad_response'
  >;
  message: string;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** The connection was lost under the request: what a keep-alive connection closed by the upstream gives. */
const CONNECTION_LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

export function classifyUpstreamError(error: unknown, timeoutMs: number): UpstreamFailure {
  const code = (error as { code?: string }).code ?? '';
  if (TIMEOUT_CODES.has(code) || (error as Error).name === 'TimeoutError') {
    return {
      code: 'upstream_timeout',
      kind: 'timeout',
      message: `upstream did not answer within ${timeoutMs} ms`,
    };
  }
  if (
    code.startsWith('ERR_TLS') ||
    code.includes('CERT') ||
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    /certificate|SSL/i.test(code)
  ) {
    return {
      code: 'upstream_unavailable',
      kind: 'tls',
      message: `TLS handshake with upstream failed (${code})`,
    };
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH'
  ) {
    return {
      code: 'upstream_unavailable',
      kind: 'connect',
      message: `cannot connect to upstream (${code})`,
    };
  }
  // undici refuses what is not an HTTP/1.1 response: its parser's errors (a bad status line, a
  // control character in a header), and "bad response" (a 100 Continue it did not ask for).
  const { name, message } = error as Error;
  if (name === 'HTTPParserError' || (code === 'UND_ERR_SOCKET' && message === 'bad response')) {
    return badUpstreamResponse(`the upstream's response is not valid HTTP/1.1 (${message})`);
  }
  return {
    code: 'upstream_unavailable',
    kind: 'reset',
    message: `upstream connection failed (${code || (error as Error).name || 'error'})`,
  };
}

/** Answers with `failure`, recording it (and the upstream's host:port) for the access log and metrics. */
export function sendUpstreamFailure(
  exchange: Exchange,
  route: string,
  upstream: string,
  failure: UpstreamFailure,
): void {
  exchange.upstreamError = failure.kind;
  exchange.upstream = upstream;
  sendError(exchange.res, {
    error: failure.code,
    message: failure.message,
    route,
    requestId: exchange.requestId,
  });
}

export function badUpstreamResponse(message: string): UpstreamFailure {
  return { code: 'bad_upstream_response', kind: 'bad_response', message };
}

/** A request that waited longer than the route's timeout for a free connection (keepalive.maxConnections). */
export function queueTimeout(timeoutMs: number): UpstreamFailure {
  return {
    code: 'upstream_timeout',
    kind: 'queue_timeout',
    message: `no connection to the upstream became free within ${timeoutMs} ms`,
  };
}

/**
 * True when the request may be sent again on a fresh connection: the
 * connection it went out on had carried an earlier response (it was reused)
 * and was lost before this response began, which is how an upstream closing
 * an idle keep-alive connection races the next request. undici's socket
 * errors carry the connection's byte counts; pools.ts gives system errors
 * (ECONNRESET, EPIPE) the same field.
 */
export function lostReusedConnection(error: unknown): boolean {
  const { code, message, socket } = error as {
    code?: string;
    message?: string;
    socket?: { bytesRead?: number };
  };
  return (
    code !== undefined &&
    CONNECTION_LOST_CODES.has(code) &&
    message !== 'bad response' &&
    (socket?.bytesRead ?? 0) > 0
  );
}
