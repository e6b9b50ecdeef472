// The data plane's HTTP server. Fastify owns it (listening, closing, the 400
// for a request Node cannot parse), but requests go straight from node:http
// to the Router: the data plane has one catch-all route, and Fastify's
// per-request router, Request and Reply would cost about a tenth of the
// Node floor's CPU per request (BENCHMARKS.md, "Issue 13") and decide
// nothing. Bodies are never parsed: they stream to the upstream (or are
// buffered by the route's handler when it must sign them). Routes are never
// added at run time; the Router swaps whole tables.
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyServerFactory } from 'fastify';
import { createHttpsServer } from '../tls/listener.ts';
import type { CertificateStore } from '../tls/store.ts';
import { sendError } from './errors.ts';
import type { RoutedExchange, Router } from './router.ts';

export interface DataPlaneServerOptions {
  router: Router;
  logger: FastifyBaseLogger;
  /** Serve HTTPS with these certificates (chosen by SNI on each handshake) rather than plain HTTP. */
  certificates?: CertificateStore | undefined;
  /** Called once per request after the response is done. */
  onExchange?: (exchange: RoutedExchange, durationMs: number) => void;
  /** Called when a request fails in a way no handler caught (it gets a 500, logged and counted; the process keeps serving). */
  onUncaught?: () => void;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
/** Server-wide: the route, and its timeout, are known only once the headers are in. */
const HEADERS_TIMEOUT_MS = 10_000;

export function createDataPlaneServer({
  router,
  logger,
  onExchange,
  onUncaught,
  certificates,
}: DataPlaneServerOptions) {
  // One request's failure never takes the process down.
  const fail = (res: ServerResponse, requestId: string, error: unknown) => {
    logger.error({ err: error, requestId }, 'request failed');
    onUncaught?.();
    sendError(res, { error: 'internal_error', message: 'internal error', requestId });
  };
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    try {
      router.route(req, res, requestId, (exchange) => {
        if (exchange.failure) fail(res, requestId, exchange.failure.error);
        onExchange?.(exchange, performance.now() - started);
      });
    } catch (error) {
      fail(res, requestId, error);
    }
  };
  const serverFactory: FastifyServerFactory<Server> = (_fastifyRoutes, options) => {
    const http = options.http as ServerOptions;
    const server = certificates ? createHttpsServer(certificates, serve, http) : createServer(http, serve);
    server.keepAliveTimeout = options.keepAliveTimeout as number;
    // The body is bounded by the route's timeout (body.ts), which Node's requestTimeout cannot know.
    server.requestTimeout = 0;
    return server as Server;
  };
  const app = Fastify({
    loggerInstance: logger,
    // The request line and headers must arrive within HEADERS_TIMEOUT_MS (checked every second;
    // Node answers 408 and closes). An HTTP/1.1 request without Host gets our JSON 400 from the
    // Router, not Node's bare one.
    http: { requireHostHeader: false, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    serverFactory,
  });
  // A client that sent Expect: 100-continue waits for 100 Continue before sending its body: the
  // handler about to read it sends that (body.ts), so a 413, 404 or 503 decided from the headers
  // alone is sent instead, and the body never is.
  app.server.on('checkContinue', serve);
  // Node hands a CONNECT request's socket over instead of making it a request (and closes it when
  // nobody takes it): answer it on that socket like any request, so the Router refuses it with
  // our JSON, logged and counted.
  app.server.on('connect', (req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => {
      res.detachSocket(socket);
      socket.destroySoon();
    });
    serve(req, res);
  });
  return app;
}

/** The client's X-Request-Id when it is sane, otherwise a new one. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}
