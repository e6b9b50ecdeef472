// url targets: forward the request to an API Gateway stage, a function URL or
// any HTTP upstream, signing it with SigV4 when the route says so.
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { CredentialSource } from '../aws/credentials.ts';
import type { ReadyRoute, UrlTarget } from '../model/route.ts';
import { BodyTimeoutError, hasBody, sendContinue } from './body.ts';
import { queueTimeout, sendError, sendUpstreamFailure } from './errors.ts';
import type { Exchange, HandlerDone, RouteHandler } from './exchange.ts';
import { type RequestHeaderPolicy, upstreamRequestHeaders } from './headers.ts';
import type { Upstream } from './pools.ts';
import { ResponseRelay } from './relay.ts';
import { RouteSigning } from './signing.ts';
import { upstreamPath } from './upstream-path.ts';

export interface ForwarderOptions {
  upstream: Upstream;
  /** The credentials to sign with, when the route signs requests (auth.iam). */
  credentials?: CredentialSource;
  /** Largest body buffered for signing; larger ones get 413. */
  bodyLimit: number;
}

/** Methods a request of which may be sent twice with the effect of once (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export class UrlForwarder implements RouteHandler {
  readonly #route: ReadyRoute;
  readonly #target: UrlTarget;
  /** Set when the route signs its requests (auth.iam). */
  readonly #signing: RouteSigning | undefined;
  readonly #apiKey: string | undefined;
  readonly #options: ForwarderOptions;
  readonly #headerPolicy: RequestHeaderPolicy;

  constructor(route: ReadyRoute<UrlTarget>, options: ForwarderOptions) {
    this.#route = route;
    this.#target = route.target;
    const { iam } = route.auth;
    const { credentials, bodyLimit } = options;
    this.#signing =
      iam &&
      credentials &&
      new RouteSigning({
        routeKey: route.key,
        target: {
          host: route.target.host,
          region: iam.region,
          service: iam.service,
          path: route.target.basePath,
        },
        credentials,
        bodyLimit,
        tooLarge: `request body is larger than ${bodyLimit} bytes, the most that can be signed`,
        timeoutMs: route.connection.timeoutMs,
      });
    this.#apiKey = route.auth.apiKey?.reveal();
    this.#options = options;
    this.#headerPolicy = {
      host: route.target.host,
      ownCredentials: route.auth.iam !== undefined || route.auth.apiKey !== undefined,
    };
  }

  handle(exchange: Exchange, done: HandlerDone): void {
    const { req } = exchange;
    const target = this.#target;
    const path = upstreamPath(
      target.basePath,
      target.forwardSubpath ? exchange.path.slice(exchange.prefixEnd) : '',
    );
    if (path === undefined) {
      sendError(
        exchange.res,
        {
          error: 'bad_request',
          message: "the request path could resolve above the target's path once decoded; it is not forwarded",
          route: this.#route.key,
          requestId: exchange.requestId,
        },
        { connection: 'close' },
      );
      done();
      return;
    }
    const headers = upstreamRequestHeaders(
      req.rawHeaders,
      this.#headerPolicy,
      exchange.forwarding,
      exchange.requestId,
    );
    if (this.#apiKey !== undefined) headers.push('x-api-key', this.#apiKey);
    const streamed = hasBody(req);
    const signing = this.#signing;
    if (!signing) {
      this.#send(exchange, path, headers, streamed ? req : null, done);
      return;
    }
    // A signed body is hashed: read whole first.
    if (streamed) {
      this.#signBody(exchange, signing, path, headers).then(
        (body) => (body === undefined ? done() : this.#send(exchange, path, headers, body, done)),
        done,
      );
      return;
    }
    const signed = signing.sign(exchange, headers, exchange.method, path, exchange.query, undefined);
    if (signed === true) {
      this.#send(exchange, path, headers, null, done);
      return;
    }
    signed.then((ok) => (ok ? this.#send(exchange, path, headers, null, done) : done()), done);
  }

  /** Reads and signs the body; undefined once the client has been answered (413, 408, 503) or has left. */
  async #signBody(
    exchange: Exchange,
    signing: RouteSigning,
    path: string,
    headers: string[],
  ): Promise<Buffer | undefined> {
    const body = await signing.readBody(exchange);
    if (body === undefined) return undefined;
    const signed = signing.sign(exchange, headers, exchange.method, path, exchange.query, body);
    return signed === true || (await signed) ? body : undefined;
  }

  /** Sends the request once a connection slot is free (when they are capped). */
  #send(
    exchange: Exchange,
    path: string,
    headers: string[],
    body: Buffer | IncomingMessage | null,
    done: HandlerDone,
  ): void {
    const { timeoutMs } = this.#route.connection;
    const options: Dispatcher.DispatchOptions = {
      method: exchange.method as 'GET',
      path: exchange.query === '' ? path : `${path}?${exchange.query}`,
      headers,
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    };
    const { slots, address } = this.#options.upstream;
    if (!slots || slots.tryAcquire()) {
      this.#relay(exchange, options, done);
      return;
    }
    slots.wait(timeoutMs).then((granted) => {
      if (granted) {
        this.#relay(exchange, options, done);
        return;
      }
      sendUpstreamFailure(exchange, this.#route.key, address, queueTimeout(timeoutMs));
      done();
    }, done);
  }

  /**
   * Sends the request and streams the response back, then frees the
   * connection slot it holds; a streamed body must arrive within the
   * route's timeout.
   */
  #relay(exchange: Exchange, options: Dispatcher.DispatchOptions, done: HandlerDone): void {
    const { pool, address, slots } = this.#options.upstream;
    if (exchange.res.destroyed) {
      exchange.upstreamError = 'client_closed';
      slots?.release();
      done();
      return;
    }
    const { timeoutMs } = this.#route.connection;
    const streamed = options.body === exchange.req;
    let timer: NodeJS.Timeout | undefined;
    const relay = new ResponseRelay(
      exchange,
      {
        routeKey: this.#route.key,
        timeoutMs,
        upstream: address,
        pool,
        options,
        retryable: !streamed && IDEMPOTENT.has(exchange.method),
      },
      () => {
        clearTimeout(timer);
        slots?.release();
        done();
      },
    );
    if (streamed) {
      sendContinue(exchange.req, exchange.res);
      if (timeoutMs > 0)
        timer = setTimeout(() => relay.bodyTimedOut(new BodyTimeoutError(timeoutMs)), timeoutMs);
    }
    pool.dispatch(options, relay);
  }
}
