// The admin port: liveness, readiness and the live table for debugging.
// Kept apart from the data plane so probes and scrapes never compete with,
// or get routed like, user traffic. It is handed what it shows, as functions.
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { Registry } from 'prom-client';

export interface AdminOptions {
  logger: FastifyBaseLogger;
  /** The Prometheus exposition text: this process's registry, or all workers' aggregated. */
  metrics: () => Promise<string>;
  /** Ready to take traffic: a table is compiled, sources are synced, not shutting down. */
  ready: () => boolean;
  /**
   * The live table and every route's conditions as plain data (undefined before the first
   * compile), for /debug/routes; absent, /debug/routes is off. It shows upstream origins,
   * function ARNs, account and role ids, file names.
   */
  debugRoutes: (() => unknown) | undefined;
}

export function createAdminServer({ logger, metrics, ready, debugRoutes }: AdminOptions) {
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ok = ready();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(Registry.PROMETHEUS_CONTENT_TYPE).send(await metrics()),
  );
  // Secret values are Sensitive and serialize as <redacted>.
  app.get('/debug/routes', async (_request, reply) => {
    if (!debugRoutes) {
      return reply.code(404).send({
        error: 'not_enabled',
        message: '/debug/routes is off: start lambda-ingress with --debug-routes to serve it',
      });
    }
    const routes = debugRoutes();
    if (routes === undefined) return reply.code(503).send({ error: 'no routing table compiled yet' });
    return routes;
  });
  return app;
}
