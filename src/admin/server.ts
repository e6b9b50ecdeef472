// The admin port: liveness, readiness and the live table for debugging.
// Kept apart from the data plane so probes and scrapes never compete with,
// or get routed like, user traffic.
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import { Registry } from 'prom-client';
import { describeResult } from '../model/compile-result.ts';
import type { Pipeline } from '../pipeline.ts';

export interface AdminOptions {
  logger: FastifyBaseLogger;
  pipeline: Pipeline;
  /** The Prometheus exposition text: this process's registry, or all workers' aggregated. */
  metrics: () => Promise<string>;
  /** Ready to take traffic: a table is compiled, sources are synced, not shutting down. */
  ready: () => boolean;
  /** Serve /debug/routes: it shows upstream origins, function ARNs, account and role ids, file names. */
  debugRoutes: boolean;
}

export function createAdminServer({ logger, pipeline, metrics, ready, debugRoutes }: AdminOptions) {
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
    const current = pipeline.current;
    if (!current) return reply.code(503).send({ error: 'no routing table compiled yet' });
    return describeResult(current, pipeline.diagnostics());
  });
  return app;
}
