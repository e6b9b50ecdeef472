import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UpstreamErrorKind } from '../metrics/upstream-error.ts';
import type { Forwarding } from './headers.ts';

/** One request through the data plane: what handlers read, and what they record for logs and metrics. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly method: string;
  /** Raw request path, as received (percent-encoded), without the query. */
  readonly path: string;
  /** Raw query string without "?", as received. */
  readonly query: string;
  /** Where the matched route's prefix ends in `path`. */
  readonly prefixEnd: number;
  readonly requestId: string;
  readonly clientIp: string;
  /** What the upstream or function is told in X-Forwarded-* headers. */
  readonly forwarding: Forwarding;
  /** Time spent waiting for the upstream, from dispatch to the end of its response. */
  upstreamMs?: number;
  /** Why the upstream call failed, for the access log and metrics. */
  upstreamError?: UpstreamErrorKind;
  /** The upstream's host:port, recorded when the call to it failed (never a path or query). */
  upstream?: string;
  /** The upstream's request id (x-amzn-RequestId), when it gave one. */
  upstreamRequestId?: string;
}

/** Called once a handler is done with an exchange; with what it threw, when it failed (a bug: 500). */
export type HandlerDone = (failure?: unknown) => void;

export interface RouteHandler {
  /**
   * Answers the exchange and calls `done` once, when the response is
   * complete or abandoned. A callback rather than a promise: a signed GET is
   * answered with no promise at all on its way.
   */
  handle(exchange: Exchange, done: HandlerDone): void;
}
