// function targets: turn the request into the API Gateway / ALB event the
// function expects, call the Lambda Invoke API with SigV4, and answer with
// what invoke-outcome.ts makes of Lambda's answer (the README's "Error
// mapping"). With invokeMode ResponseStream the call is
// InvokeWithResponseStream, and stream-relay.ts passes a 200's stream on as
// it comes.
import type { Dispatcher } from 'undici';
import type { CredentialSource } from '../aws/credentials.ts';
import type { FunctionTarget, ReadyRoute } from '../model/route.ts';
import { hasBody } from './body.ts';
import { classifyUpstreamError, queueTimeout, sendError, sendUpstreamFailure } from './errors.ts';
import type { PayloadCodec } from './events/types.ts';
import type { Exchange, HandlerDone, RouteHandler } from './exchange.ts';
import { eventHeaders } from './headers.ts';
import type { RouteHealth } from './health.ts';
import {
  eventTooLarge,
  type InvokeAnswer,
  type InvokedFunction,
  type InvokeFailure,
  type InvokeResponse,
  invokeOutcome,
  payloadLimit,
  payloadLimitText,
  RESPONSE_LIMIT,
  unsendable,
} from './invoke-outcome.ts';
import type { Upstream } from './pools.ts';
import { RouteSigning } from './signing.ts';

const EMPTY = Buffer.alloc(0);

/**
 * stream-relay.ts, with the event stream decoder it brings (@smithy/core's
 * codec), loaded by the first streamed answer: a process without
 * ResponseStream routes never holds them.
 */
let streamRelay: Promise<typeof import('./stream-relay.ts')> | undefined;
const loadStreamRelay = () => {
  streamRelay ??= import('./stream-relay.ts');
  return streamRelay;
};

export interface InvokerOptions {
  upstream: Upstream;
  credentials: CredentialSource;
  format: PayloadCodec;
  health: RouteHealth;
  /** The most a response stream may carry (invokeMode ResponseStream). */
  streamLimit: number;
}

export class FunctionInvoker implements RouteHandler {
  readonly #route: ReadyRoute;
  readonly #target: FunctionTarget;
  readonly #options: InvokerOptions;
  readonly #path: string;
  readonly #query: string;
  readonly #signing: RouteSigning;
  readonly #function: InvokedFunction;
  /** The route's FunctionNotFound problem, in words. */
  readonly #notFound: string;
  readonly #context: { accountId: string; apiId: string; stage: string; region: string };

  constructor(route: ReadyRoute<FunctionTarget>, options: InvokerOptions) {
    const { target } = route;
    this.#route = route;
    this.#target = target;
    this.#options = options;
    const q = target.invokePath.indexOf('?');
    this.#path = q === -1 ? target.invokePath : target.invokePath.slice(0, q);
    this.#query = q === -1 ? '' : target.invokePath.slice(q + 1);
    this.#signing = new RouteSigning({
      routeKey: route.key,
      target: {
        host: target.host,
        region: target.region,
        service: 'lambda',
        path: this.#path,
        query: this.#query,
      },
      credentials: options.credentials,
      bodyLimit: payloadLimit(target.invocationType),
      tooLarge: `request body is over the ${payloadLimitText(target.invocationType)} Lambda limit`,
      timeoutMs: route.connection.timeoutMs,
    });
    this.#function = {
      functionName: target.functionName,
      formatName: target.payloadFormat,
      format: options.format,
    };
    this.#notFound = `the Invoke API says function ${target.functionName} does not exist`;
    this.#context = {
      // Function URLs without IAM report "anonymous"; a full or partial ARN names the real account.
      accountId: /(?:^|:)(\d{12}):function:/.exec(target.functionName)?.[1] ?? 'anonymous',
      apiId: 'lambda-ingress',
      stage: '$default',
      region: target.region,
    };
  }

  handle(exchange: Exchange, done: HandlerDone): void {
    this.#handle(exchange).then(() => done(), done);
  }

  async #handle(exchange: Exchange): Promise<void> {
    const { req } = exchange;
    const target = this.#target;
    const body = hasBody(req) ? await this.#signing.readBody(exchange) : EMPTY;
    if (body === undefined) return;
    const payload = Buffer.from(JSON.stringify(this.#event(exchange, body)));
    const tooLarge = eventTooLarge(payload.length, target.invocationType);
    if (tooLarge) return this.#fail(exchange, tooLarge);

    const headers = [
      'host',
      target.host,
      'content-type',
      'application/json',
      'x-amz-invocation-type',
      target.invocationType,
    ];
    const signed = this.#signing.sign(exchange, headers, 'POST', this.#path, this.#query, payload);
    if (signed !== true && !(await signed)) return;
    // X-Ray: Lambda continues the caller's trace when it is given its header.
    const traceId = req.headers['x-amzn-trace-id'];
    if (typeof traceId === 'string') headers.push('x-amzn-trace-id', traceId);

    // A stream's timeout bounds the wait for its first byte and each gap between chunks (undici's
    // bodyTimeout, which does not run while the client's backpressure pauses the read).
    const { timeoutMs } = this.#route.connection;
    const options: Dispatcher.RequestOptions = {
      method: 'POST',
      path: target.invokePath,
      headers,
      body: payload,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    };
    if (target.invokeMode === 'ResponseStream') {
      await this.#invoke(exchange, () => {
        const abort = new AbortController();
        return {
          answer: this.#options.upstream.pool
            .request({ ...options, signal: abort.signal })
            .then((response) => this.#stream(exchange, response)),
          abort: () => abort.abort(),
        };
      });
      return;
    }
    const answer = await this.#invoke(exchange, () => {
      const reader = new AnswerReader();
      this.#options.upstream.pool.dispatch(options, reader);
      return reader;
    });
    if (answer) this.#answer(exchange, answer);
  }

  #answer(exchange: Exchange, answer: InvokeAnswer): void {
    const outcome = invokeOutcome(answer, this.#function, exchange.method, exchange.requestId);
    this.#found(exchange, outcome.awsRequestId, outcome.functionFound);
    if (outcome.ok) this.#send(exchange, outcome);
    else this.#fail(exchange, outcome);
  }

  /** An InvokeWithResponseStream answer: a 200's stream relayed to the client, anything else mapped as Invoke's. */
  async #stream(exchange: Exchange, response: Dispatcher.ResponseData): Promise<void> {
    if (response.statusCode !== 200) return this.#answer(exchange, await readAnswer(response));
    const requestId = response.headers['x-amzn-requestid'];
    const awsRequestId = typeof requestId === 'string' ? requestId : undefined;
    this.#found(exchange, awsRequestId, true);
    const { relayResponseStream } = await loadStreamRelay();
    const failure = await relayResponseStream(
      exchange,
      response.body,
      awsRequestId,
      this.#options.streamLimit,
    );
    if (failure) this.#fail(exchange, failure);
  }

  /** Records Lambda's request id, and whether the function exists when the answer tells. */
  #found(exchange: Exchange, awsRequestId: string | undefined, functionFound: boolean | undefined): void {
    if (awsRequestId) exchange.upstreamRequestId = awsRequestId;
    if (functionFound === undefined) return;
    this.#options.health.report(
      this.#route.key,
      'FunctionNotFound',
      functionFound ? undefined : this.#notFound,
    );
  }

  #event(exchange: Exchange, body: Buffer): Record<string, unknown> {
    const { req } = exchange;
    return this.#options.format.toEvent({
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
  }

  /**
   * Calls the Invoke API: waits for a free connection (when they are capped),
   * then `start`s the call, stops it if the client goes away, and gives what
   * the call gives. Answers the client itself (or cuts a response under way),
   * and gives undefined, when the call or the reading fails.
   */
  async #invoke<T>(exchange: Exchange, start: () => InvokeCall<T>): Promise<T | undefined> {
    const { slots, address } = this.#options.upstream;
    const { timeoutMs } = this.#route.connection;
    if (slots && !slots.tryAcquire() && !(await slots.wait(timeoutMs))) {
      sendUpstreamFailure(exchange, this.#route.key, address, queueTimeout(timeoutMs));
      return undefined;
    }
    const { res } = exchange;
    const started = performance.now();
    const call = start();
    // The client going away stops the call (a function once invoked still runs, but its answer
    // would have nowhere to go): its connection is free the sooner. It may have gone already.
    const onClose = () => call.abort();
    res.once('close', onClose);
    if (res.destroyed) call.abort();
    try {
      return await call.answer;
    } catch (error) {
      if (res.destroyed) exchange.upstreamError = 'client_closed';
      else sendUpstreamFailure(exchange, this.#route.key, address, classifyUpstreamError(error, timeoutMs));
      return undefined;
    } finally {
      exchange.upstreamMs = performance.now() - started;
      res.off('close', onClose);
      slots?.release();
    }
  }

  /** Sends the function's response, unless the client has gone. */
  #send(exchange: Exchange, response: InvokeResponse): void {
    const { res } = exchange;
    if (res.destroyed) {
      exchange.upstreamError = 'client_closed';
      return;
    }
    try {
      if (response.statusMessage) res.writeHead(response.status, response.statusMessage, response.headers);
      else res.writeHead(response.status, response.headers);
    } catch (error) {
      // What events/response.ts lets through and Node still refuses (a reason phrase, a rule of its own).
      const code = (error as { code?: string }).code ?? 'invalid header';
      this.#fail(exchange, unsendable(code, response.awsRequestId));
      return;
    }
    res.end(response.body);
  }

  #fail(exchange: Exchange, failure: InvokeFailure): void {
    if (failure.upstreamError) exchange.upstreamError = failure.upstreamError;
    sendError(
      exchange.res,
      {
        error: failure.error,
        message: failure.message,
        awsRequestId: failure.awsRequestId,
        route: this.#route.key,
        requestId: exchange.requestId,
      },
      failure.headers,
    );
  }
}

/** A call under way: what it gives, and how to stop it. */
interface InvokeCall<T> {
  answer: Promise<T>;
  abort(): void;
}

/**
 * The Invoke API's answer, read whole (up to just over RESPONSE_LIMIT) as
 * undici pushes it: no body stream, no async iteration.
 */
class AnswerReader implements Dispatcher.DispatchHandler, InvokeCall<InvokeAnswer> {
  readonly answer: Promise<InvokeAnswer>;
  #resolve!: (answer: InvokeAnswer) => void;
  #reject!: (error: Error) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #aborted = false;
  #settled = false;
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;

  constructor() {
    this.answer = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  abort(): void {
    this.#aborted = true;
    this.#controller?.abort(new Error(CLIENT_CLOSED));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#aborted) controller.abort(new Error(CLIENT_CLOSED));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // An interim (1xx) response is not the answer; the final one follows.
    if (statusCode < 200) return;
    this.#status = statusCode;
    this.#headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size > RESPONSE_LIMIT) {
      // Over Lambda's limit: what is read stands for the answer; the rest is not read.
      this.onResponseEnd();
      controller.abort(new Error(`the answer is over ${RESPONSE_LIMIT} bytes`));
    }
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    this.#settled = true;
    const payload = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    this.#resolve({ status: this.#status, headers: this.#headers, payload });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}

const CLIENT_CLOSED = 'client closed the connection';

/** The Invoke API's answer to a call that was to stream, when it is not a stream (not 200): read whole. */
async function readAnswer(response: Dispatcher.ResponseData): Promise<InvokeAnswer> {
  const payload = await readPayload(response.body, RESPONSE_LIMIT);
  return { status: response.statusCode, headers: response.headers, payload };
}

/** The body, read until its end or until it is over `limit` (the payload is then longer than `limit`). */
async function readPayload(body: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) break;
  }
  return Buffer.concat(chunks, size);
}
