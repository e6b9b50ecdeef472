// Streams an upstream response to the client as it arrives, through undici's
// dispatch handler API: no intermediate streams, backpressure both ways.
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { BodyTimeoutError } from './body.ts';
import {
  badUpstreamResponse,
  classifyUpstreamError,
  lostReusedConnection,
  requestTimeout,
  sendUpstreamFailure,
  type UpstreamFailure,
} from './errors.ts';
import type { Exchange } from './exchange.ts';
import { downstreamResponseHeaders } from './headers.ts';

/** The call being relayed, as far as the relay needs it. */
export interface RelayedCall {
  routeKey: string;
  timeoutMs: number;
  /** The upstream's host:port, named in the access log when the call fails. */
  upstream: string;
  pool: Dispatcher;
  options: Dispatcher.DispatchOptions;
  /**
   * The request may be sent again once, on another connection, if the one it
   * went out on was lost under it: the method is idempotent and the body, if
   * any, is buffered.
   */
  retryable: boolean;
}

const CLIENT_CLOSED = 'client closed the connection';

export class ResponseRelay implements Dispatcher.DispatchHandler {
  readonly #exchange: Exchange;
  readonly #res: ServerResponse;
  readonly #call: RelayedCall;
  readonly #started = performance.now();
  readonly #done: () => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** The upstream began a response (interim or final): too late to send the request again. */
  #begun = false;
  #retried = false;
  /** The client already has our answer (408) although undici had not started the request. */
  #answered = false;
  /** Why the relay itself stopped the upstream request, when it did. */
  #failure: UpstreamFailure | undefined;

  constructor(exchange: Exchange, call: RelayedCall, done: () => void) {
    this.#exchange = exchange;
    this.#res = exchange.res;
    this.#call = call;
    this.#done = done;
    // The client went away: stop the upstream request too. (A response closes once: `on` spares
    // the wrapper `once` would make per request.)
    this.#res.on('close', () => {
      if (!this.#res.writableFinished) this.#controller?.abort(new Error(CLIENT_CLOSED));
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // The client left, or has its answer, while the request waited for a connection.
    if (this.#answered || this.#res.destroyed) controller.abort(new Error(CLIENT_CLOSED));
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.#begun = true;
    const requestId = headers['x-amzn-requestid'];
    if (typeof requestId === 'string') this.#exchange.upstreamRequestId = requestId;
    if (this.#res.destroyed) {
      controller.abort(new Error(CLIENT_CLOSED));
      return;
    }
    if (statusCode < 100 || statusCode > 599) {
      // HTTP's status codes are 100 to 599 (RFC 9110 §15); undici passes on any three digits.
      this.#stop(controller, badUpstreamResponse(`the upstream answered with status ${statusCode}`));
      return;
    }
    if (statusCode < 200) {
      this.#interim(statusCode, headers);
      return;
    }
    this.#res.writeHead(statusCode, downstreamResponseHeaders(headers, this.#exchange.requestId));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#exchange.upstreamMs = performance.now() - this.#started;
    this.#res.end();
    this.#done();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#exchange.upstreamMs = performance.now() - this.#started;
    const exchange = this.#exchange;
    if (this.#answered) {
      // The 408 is sent; this is the request undici was still holding, now stopped.
    } else if (this.#res.destroyed) {
      exchange.upstreamError = 'client_closed';
    } else if (this.#call.retryable && !this.#begun && !this.#retried && lostReusedConnection(error)) {
      // The upstream closed a kept-alive connection as this request went out on it: once more, on another.
      this.#retried = true;
      this.#call.pool.dispatch(this.#call.options, this);
      return;
    } else if (error instanceof BodyTimeoutError) {
      requestTimeout(exchange, this.#call.routeKey, error);
    } else {
      const failure = this.#failure ?? classifyUpstreamError(error, this.#call.timeoutMs);
      sendUpstreamFailure(exchange, this.#call.routeKey, this.#call.upstream, failure);
    }
    this.#done();
  }

  /**
   * The client's streamed body did not all arrive within the route's
   * timeout: answer 408 and stop the upstream request, unless the upstream
   * has already begun its answer.
   */
  bodyTimedOut(error: BodyTimeoutError): void {
    if (this.#begun || this.#res.destroyed || this.#exchange.req.complete) return;
    if (this.#controller) {
      this.#controller.abort(error);
      return;
    }
    this.#answered = true;
    requestTimeout(this.#exchange, this.#call.routeKey, error);
  }

  /** Stops the upstream request, answering the client with `failure`. */
  #stop(controller: Dispatcher.DispatchController, failure: UpstreamFailure): void {
    this.#failure = failure;
    controller.abort(new Error(failure.message));
  }

  /**
   * An interim (1xx) response before the final one. 103 Early Hints goes on
   * to HTTP/1.1 clients (HTTP/1.0 ones must not get a 1xx), its Link headers
   * only; 102 and the rest concern the upstream and us alone. (undici refuses
   * a 100 Continue it did not ask for: classifyUpstreamError makes it a 502.)
   */
  #interim(statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    const link = headers['link'];
    if (statusCode !== 103 || link === undefined || this.#exchange.req.httpVersion !== '1.1') return;
    try {
      this.#res.writeEarlyHints({ link });
    } catch {
      // A Link value Node will not send as a hint: the hint is dropped, the response is not.
    }
  }
}
