// What the Lambda Invoke API's answer means for the client: the function's
// response to send, or the failure to answer with. Pure (no I/O): the
// README's "Error mapping" table in code, and what a function's result may
// not do to the response (framing headers, ids the proxy sets, a body where
// HTTP allows none); and the failures a response stream can end with (the
// README's "Response streaming" table). invoke.ts and stream-relay.ts do the
// I/O around it.
import type { InvocationType } from '../api/types.ts';
import type { UpstreamErrorKind } from '../metrics/upstream-error.ts';
import type { ErrorCode } from './errors.ts';
import type { PayloadCodec } from './events/types.ts';
import { HOP_BY_HOP } from './headers.ts';

/** Invoke API payload limits: 6 MB synchronous, 1 MB asynchronous (Event). */
export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;
/** Lambda answers at most 6 MB synchronously (in AWS's own figure, this many bytes); more is not a valid answer. */
export const RESPONSE_LIMIT = 6_291_556;
/** The most a response stream may carry, its metadata included: Lambda's limit, 200 MB. */
export const STREAM_LIMIT = 200 * 1024 * 1024;

/** The Invoke API's answer, as read. */
export interface InvokeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /**
   * The body. Reading stops once it is over RESPONSE_LIMIT: a longer
   * payload stands for an answer over Lambda's limit.
   */
  payload: Buffer;
}

/** What the mapping needs to know of the route; fixed when its handler is built. */
export interface InvokedFunction {
  /** As configured, for messages. */
  functionName: string;
  /** The payload format's name ("2.0", "1.0", "alb"), for messages. */
  formatName: string;
  format: PayloadCodec;
}

/** The function's response, ready for writeHead and end. */
export interface InvokeResponse {
  ok: true;
  status: number;
  /** A reason phrase the function chose (ALB statusDescription). */
  statusMessage: string | undefined;
  /** Names and values, flat; x-request-id and the framing included. */
  headers: string[];
  /** undefined: no body (202, 204, 304, a HEAD request). */
  body: Buffer | undefined;
  awsRequestId: string | undefined;
  /** A call that reached the function: the route's FunctionNotFound problem, if any, is over. */
  functionFound: true;
}

/** An answer the client gets as one of lambda-ingress's own errors. */
export interface InvokeFailure {
  ok: false;
  /** The status is the code's (errors.ts ERROR_STATUS). */
  error: ErrorCode;
  message: string;
  /** For the access log and metrics; undefined when Lambda refused the request itself (413). */
  upstreamError: UpstreamErrorKind | undefined;
  awsRequestId: string | undefined;
  /** x-amzn-RequestId, Retry-After. */
  headers: Record<string, string>;
  /** true: the function exists (clears FunctionNotFound); false: it does not (sets it); undefined: unknown. */
  functionFound: boolean | undefined;
}

export type InvokeOutcome = InvokeResponse | InvokeFailure;

/** The most an event may have for this invocation type. */
export function payloadLimit(invocationType: InvocationType): number {
  return invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
}

/** The limit in words, as the 413s name it. */
export function payloadLimitText(invocationType: InvocationType): string {
  return invocationType === 'Event' ? '1 MB' : '6 MB';
}

/** The 413 for an event over the Invoke API's limit (nothing is invoked), or undefined when it fits. */
export function eventTooLarge(size: number, invocationType: InvocationType): InvokeFailure | undefined {
  if (size <= payloadLimit(invocationType)) return undefined;
  const message = `the Lambda event for this request is ${size} bytes, over the ${payloadLimitText(invocationType)} limit`;
  return failure('payload_too_large', undefined, message, undefined, undefined);
}

/**
 * Maps the Invoke API's answer to a call made for a `method` request (with
 * id `requestId`) to what the client gets.
 */
export function invokeOutcome(
  answer: InvokeAnswer,
  fn: InvokedFunction,
  method: string,
  requestId: string,
): InvokeOutcome {
  const { status, headers, payload } = answer;
  const awsRequestId = header(headers, 'x-amzn-requestid');
  if (payload.length > RESPONSE_LIMIT) {
    const message = `the Invoke API answered more than ${RESPONSE_LIMIT} bytes, Lambda's limit`;
    return failure('bad_upstream_response', 'bad_response', message, awsRequestId, undefined);
  }
  const awsError = header(headers, 'x-amzn-errortype')?.split(':')[0];
  if (status === 404 && awsError === 'ResourceNotFoundException') {
    const message = `Lambda function ${fn.functionName} not found`;
    return failure('function_not_found', 'function_not_found', message, awsRequestId, false);
  }
  if (status === 429) {
    const message = 'the Lambda function is throttled; retry later';
    const retryAfter = header(headers, 'retry-after') ?? '1';
    return failure('throttled', 'throttled', message, awsRequestId, undefined, retryAfter);
  }
  if (status === 413) {
    const message = 'Lambda refused the request as too large';
    return failure('payload_too_large', undefined, message, awsRequestId, undefined);
  }
  if (status !== 200 && status !== 202) {
    const message = `the Lambda Invoke API answered ${status}${awsError ? ` ${awsError}` : ''}`;
    return failure('invoke_failed', 'invoke_failed', message, awsRequestId, undefined);
  }

  const functionError = header(headers, 'x-amz-function-error');
  if (functionError) return functionFailed(isTimeout(payload), functionError, awsRequestId);
  if (status === 202) {
    const flat = awsRequestId ? ['x-amzn-RequestId', awsRequestId] : [];
    flat.push('x-request-id', requestId, 'content-length', '0');
    return response(202, undefined, flat, undefined, awsRequestId);
  }
  const mapped = fn.format.toResponse(payload);
  if (!mapped.ok) {
    const message = `the function's response is not valid for payload format ${fn.formatName}: ${mapped.failures[0].message}`;
    return failure('bad_upstream_response', 'bad_response', message, awsRequestId, true);
  }

  const { statusCode, statusMessage, body } = mapped.value;
  const flat = functionHeaders(mapped.value.headers, awsRequestId, requestId);
  // 204 and 304 have no content (RFC 9110 §15.3.5, §15.4.5); a HEAD response tells the length of a GET's.
  const empty = statusCode === 204 || statusCode === 304;
  if (!empty) flat.push('content-length', String(body.length));
  return response(
    statusCode,
    statusMessage,
    flat,
    empty || method === 'HEAD' ? undefined : body,
    awsRequestId,
  );
}

/**
 * The function's own headers as they may be sent: without those it cannot set
 * (CONTROLLED), then Lambda's request id and ours.
 */
export function functionHeaders(
  headers: Iterable<readonly [string, string]>,
  awsRequestId: string | undefined,
  requestId: string,
): string[] {
  const flat: string[] = [];
  for (const [name, value] of headers) {
    if (!CONTROLLED.has(name.toLowerCase())) flat.push(name, value);
  }
  if (awsRequestId) flat.push('x-amzn-RequestId', awsRequestId);
  flat.push('x-request-id', requestId);
  return flat;
}

/**
 * The function failed (a function error, or a response stream's InvokeComplete
 * with an ErrorCode); `kind` is X-Amz-Function-Error's Unhandled or Handled.
 * Never the function's error message, stack trace or error type: they are
 * for its logs, not its callers.
 */
export function functionFailed(
  timedOut: boolean,
  kind: string | undefined,
  awsRequestId: string | undefined,
): InvokeFailure {
  if (timedOut) {
    return failure(
      'function_timeout',
      'function_timeout',
      'the Lambda function timed out',
      awsRequestId,
      true,
    );
  }
  const message = `the Lambda function failed${kind ? ` (${kind})` : ''}`;
  return failure('function_error', 'function_error', message, awsRequestId, true);
}

/** Lambda itself failed in the middle of a response stream (an error or exception message of type `type`). */
export function streamInvokeFailed(type: string, awsRequestId: string | undefined): InvokeFailure {
  const message = `the Lambda Invoke API failed in the middle of the response stream (${type})`;
  return failure('invoke_failed', 'invoke_failed', message, awsRequestId, true);
}

/** A response stream that cannot be passed on: a broken frame, bad metadata, over the size limit. */
export function badStream(message: string, awsRequestId: string | undefined): InvokeFailure {
  return failure('bad_upstream_response', 'bad_response', message, awsRequestId, true);
}

function failure(
  error: ErrorCode,
  upstreamError: UpstreamErrorKind | undefined,
  message: string,
  awsRequestId: string | undefined,
  functionFound: boolean | undefined,
  retryAfter?: string,
): InvokeFailure {
  const headers: Record<string, string> = {};
  if (awsRequestId) headers['x-amzn-RequestId'] = awsRequestId;
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  return { ok: false, error, message, upstreamError, awsRequestId, headers, functionFound };
}

function response(
  status: number,
  statusMessage: string | undefined,
  headers: string[],
  body: Buffer | undefined,
  awsRequestId: string | undefined,
): InvokeResponse {
  return { ok: true, status, statusMessage, headers, body, awsRequestId, functionFound: true };
}

/**
 * Headers a function's result cannot set: the framing (Content-Length, and
 * the hop-by-hop ones such as Transfer-Encoding and Trailer, which Node
 * refuses next to a Content-Length), and the ids the proxy sets itself.
 */
const CONTROLLED = new Set([...HOP_BY_HOP, 'content-length', 'x-amzn-requestid', 'x-request-id']);

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Lambda reports a timeout as an Unhandled function error of type Sandbox.Timedout. */
function isTimeout(payload: Buffer): boolean {
  try {
    const error = JSON.parse(payload.toString('utf8')) as { errorType?: string; errorMessage?: string };
    return error.errorType === 'Sandbox.Timedout' || /Task timed out/.test(error.errorMessage ?? '');
  } catch {
    return false;
  }
}

/** A function response that Node refuses to send (`code` says why) in spite of the checks above. */
export function unsendable(code: string, awsRequestId: string | undefined): InvokeFailure {
  const message = `the function's response cannot be sent (${code})`;
  return failure('bad_upstream_response', 'bad_response', message, awsRequestId, undefined);
}
