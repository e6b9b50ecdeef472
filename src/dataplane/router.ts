// The data plane's single entry point: match the request against the current
// table (read once, so a request sees one version from start to end), then
// answer 404 / 503 itself or hand over to the route's handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isTls } from '../tls/listener.ts';
import { httpsRedirect, sendHttpsRedirect } from '../tls/redirect.ts';
import type { CertificateStore } from '../tls/store.ts';
import { ClientIpResolver } from './client-ip.ts';
import { sendError } from './errors.ts';
import type { Exchange } from './exchange.ts';
import { refuseMessage } from './request-checks.ts';
import { readTarget } from './request-target.ts';
import type { Serving } from './runtime.ts';

/** The methods a route can name (OPTIONS * lists them). */
const SERVED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/** --redirect-http: plain HTTP for hosts with a certificate of their own goes to https on this port. */
export interface HttpsRedirect {
  certificates: CertificateStore;
  tlsPort: number;
}

export class Router {
  readonly #clientIp: ClientIpResolver;
  readonly #redirect: HttpsRedirect | undefined;
  #serving: Serving | undefined;
  #closing = false;

  constructor(clientIp = new ClientIpResolver(), redirect?: HttpsRedirect) {
    this.#clientIp = clientIp;
    this.#redirect = redirect;
  }

  /** Installs a new table; requests already under way finish with the one they started with. */
  swap(serving: Serving): void {
    this.#serving = serving;
  }

  /**
   * Shutdown began: requests still arriving on kept-alive connections get a
   * 503 that closes the connection, so their clients retry elsewhere.
   */
  close(): void {
    this.#closing = true;
  }

  /** Routes one request; `done` gets the exchange (for logs and metrics) when the response is done. */
  route(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    done: (exchange: RoutedExchange) => void,
  ): void {
    const secure = isTls(req);
    const target = readTarget(req, secure);
    const { path } = target;
    const refusal = refuseMessage(req) ?? target.refusal;
    const method = req.method ?? 'GET';
    const client = this.#clientIp.resolve(req);
    const found = refusal || path === '*' ? undefined : this.#serving?.table.match(target.host, method, path);
    const exchange: RoutedExchange = {
      req,
      res,
      method,
      path,
      query: target.query,
      prefixEnd: found?.prefixEnd ?? 0,
      requestId,
      clientIp: client.ip,
      forwarding: {
        peerIp: client.peer,
        trustedPeer: client.trustedPeer,
        proto: secure ? 'https' : 'http',
        port: target.port,
      },
      routeKey: found?.route.key,
      routeName: found?.route.name,
      namespace: found?.route.namespace,
    };
    if (this.#closing) {
      const message = 'lambda-ingress is shutting down; send the request again on a new connection';
      sendError(res, { error: 'shutting_down', message, requestId }, { connection: 'close' });
      done(exchange);
      return;
    }
    if (refusal) {
      const { error, message } = refusal;
      sendError(res, { error, message, requestId }, { connection: 'close' });
      done(exchange);
      return;
    }
    const redirect = this.#redirect;
    // A trusted proxy that says the client spoke https terminated TLS itself: redirecting would loop.
    const location =
      redirect &&
      !secure &&
      !(client.trustedPeer && req.headers['x-forwarded-proto'] === 'https') &&
      httpsRedirect(target, redirect.certificates, redirect.tlsPort);
    if (location) {
      sendHttpsRedirect(res, location, requestId);
      done(exchange);
      return;
    }
    if (path === '*') {
      // OPTIONS * asks about the server, not a resource: answered here, never forwarded.
      res.writeHead(204, { allow: SERVED_METHODS, 'x-request-id': requestId });
      res.end();
      done(exchange);
      return;
    }
    if (!found) {
      sendError(res, { error: 'no_route', message: `no route for ${method} ${path}`, requestId });
      done(exchange);
      return;
    }
    const { route } = found;
    if (!route.ready) {
      const { reason, message } = route;
      sendError(res, { error: 'route_not_ready', message, route: route.key, reason, requestId });
      done(exchange);
      return;
    }
    // Every ready route of a table has its handler: Runtime.build made them together.
    const handler = this.#serving!.handlers.get(route)!;
    let finished = false;
    const finish = (failure?: unknown) => {
      if (finished) return;
      finished = true;
      // A bug in the handler: the server answers 500, and the exchange is still logged and counted.
      if (failure !== undefined) exchange.failure = { error: failure };
      done(exchange);
    };
    try {
      handler.handle(exchange, finish);
    } catch (error) {
      finish(error);
    }
  }
}

export interface RoutedExchange extends Exchange {
  /** The matched route, "namespace/name"; undefined when nothing matched. */
  routeKey: string | undefined;
  routeName: string | undefined;
  namespace: string | undefined;
  /** What the route's handler threw, when it did. */
  failure?: { error: unknown };
}
