// The data plane's HTTP server: Fastify with one catch-all route that hands
// every request to the Router. Bodies are never parsed: they stream to the
// upstream (or are buffered by the route's handler when it must sign them).
// Routes are never added at run time; the Router swaps whole tables.
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerFactory,
  LogController,
} from 'fastify';
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
  const serve = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    const started = performance.now();
    try {
      const exchange = await router.route(req, res, requestId);
      if (exchange.failure) fail(res, requestId, exchange.failure.error);
      onExchange?.(exchange, performance.now() - started);
    } catch (error) {
      fail(res, requestId, error);
    }
  };
  const handle = (request: FastifyRequest, reply: FastifyReply) => {
    reply.hijack();
    return serve(request.raw, reply.raw, request.id);
  };
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestIdOf,
    // No per-request child logger (it would cost an allocation and a redaction setup per request);
    // the access log line carries the request id instead.
    childLoggerFactory: (parent) => parent,
    return503OnClosing: true,
    // The request line and headers must arrive within HEADERS_TIMEOUT_MS (checked every second;
    // Node answers 408 and closes). The body is bounded by the route's timeout (body.ts), which
    // Node's requestTimeout cannot know: that one stays off. Fastify sets requestTimeout on the
    // server it made; headersTimeout and the check interval can only be given as it is made (http).
    requestTimeout: 0,
    // An HTTP/1.1 request without Host gets our JSON 400 from the Router, not Node's bare one.
    http: { requireHostHeader: false, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 },
    // Fastify's router answers a URL it cannot decode itself (FST_ERR_BAD_URL, quoting the URL and
    // its query). The Router decides what is malformed, and answers it like any other request.
    frameworkErrors: (_error, request, reply) => handle(request, reply),
    ...(certificates && { serverFactory: httpsServerFactory(certificates) }),
  });
  // A client that sent Expect: 100-continue waits for 100 Continue before sending its body: the
  // handler about to read it sends that (body.ts), so a 413, 404 or 503 decided from the headers
  // alone is sent instead, and the body never is.
  app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null));

  app.all('*', handle);
  app.setNotFoundHandler(handle); // methods Fastify has no route for (e.g. TRACE) still reach the Router
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
    void serve(req, res, requestIdOf(req));
  });
  return app;
}

/**
 * The same server over TLS. Fastify sets its timeouts only on servers it makes
 * itself; node:https servers speak the node:http API, which is all Fastify and
 * the data plane use of them.
 */
function httpsServerFactory(certificates: CertificateStore): FastifyServerFactory<Server> {
  return (handler, options) => {
    const server = createHttpsServer(certificates, handler, options.http as ServerOptions);
    server.keepAliveTimeout = options.keepAliveTimeout as number;
    server.requestTimeout = options.requestTimeout as number;
    return server as unknown as Server;
  };
}

/** The client's X-Request-Id when it is sane, otherwise a new one. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}
