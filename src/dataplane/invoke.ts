// function targets: turn the request into the API Gateway / ALB event the
// function expects, call the Lambda Invoke API with SigV4, and turn the
// function's result (or Lambda's error) back into HTTP. The mapping of every
// Lambda outcome to a status code is documented in the README.
import type { Dispatcher } from 'undici';
import type { Reason } from '../api/failure.ts';
import { type CredentialSource, waitForCredentials } from '../aws/credentials.ts';
import { payloadHash, RouteSigner } from '../aws/sigv4.ts';
import type { FunctionTarget, ReadyRoute } from '../model/route.ts';
import { hasBody, readBody } from './body.ts';
import {
  badUpstreamResponse,
  classifyUpstreamError,
  credentialsUnavailable,
  type ErrorCode,
  queueTimeout,
  rejectBody,
  sendError,
  sendUpstreamFailure,
} from './errors.ts';
import type { EventResponse, PayloadCodec } from './events/types.ts';
import type { Exchange, RouteHandler } from './exchange.ts';
import { eventHeaders, HOP_BY_HOP } from './headers.ts';
import type { RouteHealth } from './health.ts';
import type { Upstream } from './pools.ts';

/** Invoke API payload limits: 6 MB synchronous, 1 MB asynchronous (Event). */
export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;
/** Lambda answers at most 6 MB synchronously (in AWS's own figure, this many bytes); more is not a valid answer. */
const RESPONSE_LIMIT = 6_291_556;
const EMPTY = Buffer.alloc(0);

export interface InvokerOptions {
  upstream: Upstream;
  credentials: CredentialSource;
  format: PayloadCodec;
  health: RouteHealth;
}

export class FunctionInvoker implements RouteHandler {
  readonly #route: ReadyRoute;
  readonly #target: FunctionTarget;
  readonly #options: InvokerOptions;
  readonly #limit: number;
  readonly #path: string;
  readonly #query: string;
  readonly #signer: RouteSigner;
  readonly #context: { accountId: string; apiId: string; stage: string; region: string };

  constructor(route: ReadyRoute & { target: FunctionTarget }, options: InvokerOptions) {
    this.#route = route;
    this.#target = route.target;
    this.#options = options;
    this.#limit = route.target.invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
    const q = route.target.invokePath.indexOf('?');
    this.#path = q === -1 ? route.target.invokePath : route.target.invokePath.slice(0, q);
    this.#query = q === -1 ? '' : route.target.invokePath.slice(q + 1);
    this.#signer = new RouteSigner({
      host: route.target.host,
      region: route.target.region,
      service: 'lambda',
      path: this.#path,
      query: this.#query,
    });
    this.#context = {
      // Function URLs without IAM report "anonymous"; a full or partial ARN names the real account.
      accountId: /(?:^|:)(\d{12}):function:/.exec(route.target.functionName)?.[1] ?? 'anonymous',
      apiId: 'lambda-ingress',
      stage: '$default',
      region: route.target.region,
    };
  }

  async handle(exchange: Exchange): Promise<void> {
    const { req } = exchange;
    const fail = (status: number, body: Failure, headers?: Record<string, string>) =>
      sendError(
        exchange.res,
        status,
        { ...body, route: this.#route.key, requestId: exchange.requestId },
        headers,
      );

    const { timeoutMs } = this.#route.connection;
    let body: Buffer = EMPTY;
    try {
      if (hasBody(req)) body = await readBody(req, exchange.res, this.#limit, timeoutMs);
    } catch (error) {
      return rejectBody(
        exchange,
        this.#route.key,
        error,
        `request body is over the ${this.#limitText()} Lambda limit`,
      );
    }
    const event = this.#options.format.toEvent({
      method: exchange.method,
      rawPath: exchange.path,
      rawQuery: exchange.query,
      headers: eventHeaders(req.rawHeaders, exchange.forwarding),
      body,
      sourceIp: exchange.clientIp,
      protocol: `HTTP/${req.httpVersion}`,
      requestId: exchange.requestId,
      time: new Date(),
      route: {
        path: this.#route.match.path,
        pathType: this.#route.match.pathType,
        methods: this.#route.match.methods,
        prefixEnd: exchange.prefixEnd,
      },
      context: this.#context,
    });
    const payload = Buffer.from(JSON.stringify(event));
    if (payload.length > this.#limit) {
      return fail(413, {
        error: 'payload_too_large',
        message: `the Lambda event for this request is ${payload.length} bytes, over the ${this.#limitText()} limit`,
      });
    }

    const { credentials: source, format, health } = this.#options;
    const credentials = source.current() ?? (await waitForCredentials(source));
    if (!credentials) return fail(503, credentialsUnavailable(source));
    const target = this.#target;
    const headers = [
      'host',
      target.host,
      'content-type',
      'application/json',
      'x-amz-invocation-type',
      target.invocationType,
    ];
    this.#signer.sign(headers, credentials, 'POST', this.#path, this.#query, payloadHash(payload));
    // X-Ray: Lambda continues the caller's trace when it is given its header.
    const traceId = req.headers['x-amzn-trace-id'];
    if (typeof traceId === 'string') headers.push('x-amzn-trace-id', traceId);

    const answer = await this.#invoke(exchange, {
      method: 'POST',
      path: target.invokePath,
      headers,
      body: payload,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (!answer) return;
    const { status, headers: responseHeaders, result } = answer;
    const awsRequestId = header(responseHeaders, 'x-amzn-requestid');
    if (awsRequestId) exchange.upstreamRequestId = awsRequestId;
    const idHeader: Record<string, string> = awsRequestId ? { 'x-amzn-RequestId': awsRequestId } : {};
    const awsError = header(responseHeaders, 'x-amzn-errortype')?.split(':')[0];

    if (status === 404 && awsError === 'ResourceNotFoundException') {
      health.report(
        this.#route.key,
        'FunctionNotFound',
        `the Invoke API says function ${target.functionName} does not exist`,
      );
      exchange.upstreamError = 'function_not_found';
      return fail(
        502,
        {
          error: 'function_not_found',
          message: `Lambda function ${target.functionName} not found`,
          awsRequestId,
        },
        idHeader,
      );
    }
    if (status === 429) {
      exchange.upstreamError = 'throttled';
      const retryAfter = header(responseHeaders, 'retry-after') ?? '1';
      return fail(
        429,
        { error: 'throttled', message: 'the Lambda function is throttled; retry later', awsRequestId },
        { ...idHeader, 'retry-after': retryAfter },
      );
    }
    if (status === 413) {
      return fail(
        413,
        { error: 'payload_too_large', message: 'Lambda refused the request as too large', awsRequestId },
        idHeader,
      );
    }
    if (status !== 200 && status !== 202) {
      exchange.upstreamError = 'invoke_failed';
      return fail(
        502,
        {
          error: 'invoke_failed',
          message: `the Lambda Invoke API answered ${status}${awsError ? ` ${awsError}` : ''}`,
          awsRequestId,
        },
        idHeader,
      );
    }
    health.report(this.#route.key, 'FunctionNotFound', undefined);

    const functionError = header(responseHeaders, 'x-amz-function-error');
    if (functionError) {
      if (isTimeout(result)) {
        exchange.upstreamError = 'function_timeout';
        return fail(
          504,
          { error: 'function_timeout', message: 'the Lambda function timed out', awsRequestId },
          idHeader,
        );
      }
      exchange.upstreamError = 'function_error';
      // Never the function's error message or stack trace: they are for its logs, not its callers.
      return fail(
        502,
        { error: 'function_error', message: `the Lambda function failed (${functionError})`, awsRequestId },
        idHeader,
      );
    }
    if (status === 202) {
      exchange.res.writeHead(202, { ...idHeader, 'x-request-id': exchange.requestId, 'content-length': 0 });
      exchange.res.end();
      return;
    }
    const mapped = format.toResponse(result);
    if (!mapped.ok) {
      exchange.upstreamError = 'bad_response';
      return fail(
        502,
        {
          error: 'bad_upstream_response',
          message: `the function's response is not valid for payload format ${target.payloadFormat}: ${mapped.failures[0].message}`,
          awsRequestId,
        },
        idHeader,
      );
    }
    this.#send(exchange, mapped.value, awsRequestId);
  }

  /**
   * Calls the Invoke API: waits for a free connection (when they are capped),
   * stops the call if the client goes away, and reads Lambda's answer. Answers
   * the client itself, and gives undefined, when the call fails.
   */
  async #invoke(exchange: Exchange, options: Dispatcher.RequestOptions): Promise<InvokeAnswer | undefined> {
    const { pool, slots, address } = this.#options.upstream;
    const { timeoutMs } = this.#route.connection;
    if (slots && !slots.tryAcquire() && !(await slots.wait(timeoutMs))) {
      sendUpstreamFailure(exchange, this.#route.key, address, queueTimeout(timeoutMs));
      return undefined;
    }
    const { res } = exchange;
    // The client going away stops the call (a function once invoked still runs, but its answer
    // would have nowhere to go): its connection is free the sooner. It may have gone already.
    const abort = new AbortController();
    const onClose = () => abort.abort();
    res.once('close', onClose);
    if (res.destroyed) abort.abort();
    const started = performance.now();
    try {
      const response = await pool.request({ ...options, signal: abort.signal });
      const result = await readLimited(response.body, RESPONSE_LIMIT);
      return { status: response.statusCode, headers: response.headers, result };
    } catch (error) {
      if (res.destroyed) {
        exchange.upstreamError = 'client_closed';
      } else {
        const failure =
          error instanceof ResponseTooLargeError
            ? badUpstreamResponse(`the Invoke API answered more than ${RESPONSE_LIMIT} bytes, Lambda's limit`)
            : classifyUpstreamError(error, timeoutMs);
        sendUpstreamFailure(exchange, this.#route.key, address, failure);
      }
      return undefined;
    } finally {
      exchange.upstreamMs = performance.now() - started;
      res.off('close', onClose);
      slots?.release();
    }
  }

  /** Sends the function's response: never a header that would make Node refuse it or the framing lie. */
  #send(exchange: Exchange, response: EventResponse, awsRequestId: string | undefined): void {
    const { res } = exchange;
    if (res.destroyed) {
      exchange.upstreamError = 'client_closed';
      return;
    }
    const { statusCode, statusMessage, headers, body } = response;
    const flat: string[] = [];
    for (const [name, value] of headers) {
      if (!CONTROLLED.has(name.toLowerCase())) flat.push(name, value);
    }
    if (awsRequestId) flat.push('x-amzn-RequestId', awsRequestId);
    flat.push('x-request-id', exchange.requestId);
    // 204 and 304 have no content (RFC 9110 §15.3.5, §15.4.5); a HEAD response tells the length of a GET's.
    const empty = statusCode === 204 || statusCode === 304;
    if (!empty) flat.push('content-length', String(body.length));
    try {
      if (statusMessage) res.writeHead(statusCode, statusMessage, flat);
      else res.writeHead(statusCode, flat);
    } catch (error) {
      // What events/response.ts lets through and Node still refuses (a reason phrase, a rule of its own).
      const reason = (error as { code?: string }).code ?? 'invalid header';
      exchange.upstreamError = 'bad_response';
      sendError(
        res,
        502,
        {
          error: 'bad_upstream_response',
          message: `the function's response cannot be sent (${reason})`,
          route: this.#route.key,
          requestId: exchange.requestId,
          awsRequestId,
        },
        awsRequestId ? { 'x-amzn-RequestId': awsRequestId } : {},
      );
      return;
    }
    res.end(empty || exchange.method === 'HEAD' ? undefined : body);
  }

  #limitText(): string {
    return this.#limit === SYNC_PAYLOAD_LIMIT ? '6 MB' : '1 MB';
  }
}

interface Failure {
  error: ErrorCode;
  message: string;
  reason?: Reason;
  awsRequestId?: string | undefined;
}

interface InvokeAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  result: Buffer;
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

class ResponseTooLargeError extends Error {}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new ResponseTooLargeError();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
