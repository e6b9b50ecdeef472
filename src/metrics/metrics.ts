// Prometheus metrics, all prefixed lambda_ingress_. Label values are bounded:
// route and namespace come from the configuration (never from requests), a
// request that matches no route is counted under route="(none)", methods
// outside the standard set count as "OTHER", codes are status codes.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { UPSTREAM_ERROR_KINDS, type UpstreamErrorKind } from './upstream-error.ts';

const NO_ROUTE = '(none)';
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/**
 * Request and upstream latency, 1 ms to Lambda's longest synchronous calls.
 * Kept short: every route gets two histograms, and thousands of routes mean
 * tens of thousands of series.
 */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface RequestObservation {
  route: string | undefined;
  namespace: string | undefined;
  method: string;
  status: number;
  durationMs: number;
  upstreamMs: number | undefined;
  upstreamError: UpstreamErrorKind | undefined;
}

/** What the expiry gauge reads of a served certificate (a TlsCertificate has it). */
export interface ServedCertificate {
  /** The Secret it comes from, "namespace/name". */
  description: { secret: string };
  notAfter: Date;
}

interface RouteSeries {
  labels: { route: string; namespace: string };
  /** By "METHOD code". */
  requests: Map<string, { method: string; code: string; counter: { inc(): void } }>;
  duration: { observe(value: number): void };
  upstream: { observe(value: number): void };
  /** The upstream error kinds counted for the route: the labels to remove with it. */
  errorKinds: Set<string>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #series = new Map<string, RouteSeries>();
  readonly #requests = new Counter({
    name: 'lambda_ingress_requests_total',
    help: 'Requests answered by the data plane.',
    labelNames: ['route', 'namespace', 'method', 'code'] as const,
    registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'lambda_ingress_request_duration_seconds',
    help: 'Time from request to the end of the response, as the data plane saw it.',
    labelNames: ['route', 'namespace'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });
  readonly #upstream = new Histogram({
    name: 'lambda_ingress_upstream_duration_seconds',
    help: 'Time spent waiting for the upstream (API Gateway, function URL, Lambda Invoke API).',
    labelNames: ['route', 'namespace'] as const,
    buckets: BUCKETS,
    registers: [this.registry],
  });
  readonly #overhead = new Histogram({
    name: 'lambda_ingress_overhead_duration_seconds',
    help: "The data plane's own time per proxied request, total minus upstream (all routes together: it does not depend on the route).",
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
    registers: [this.registry],
  });
  readonly #upstreamErrors = new Counter({
    name: 'lambda_ingress_upstream_errors_total',
    help: `Upstream failures by kind: ${UPSTREAM_ERROR_KINDS.join(', ')}.`,
    labelNames: ['route', 'namespace', 'kind'] as const,
    registers: [this.registry],
  });
  readonly routes = new Gauge({
    name: 'lambda_ingress_routes',
    help: 'LambdaRoutes known, by state (ready, not_ready).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly tableVersion = new Gauge({
    name: 'lambda_ingress_table_version',
    help: 'Version of the routing table being served.',
    registers: [this.registry],
  });
  readonly compileSeconds = new Gauge({
    name: 'lambda_ingress_last_compile_duration_seconds',
    help: 'How long the last compile of the routing table took.',
    registers: [this.registry],
  });
  readonly configErrors = new Gauge({
    name: 'lambda_ingress_config_errors',
    help: 'Problems in the current configuration: unreadable documents (source) and routes not accepted (invalid, conflicted).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'lambda_ingress_watch_restarts_total',
    help: 'Kubernetes watches re-established after an error, a 410 Gone or a silent watch.',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });
  readonly lastSync = new Gauge({
    name: 'lambda_ingress_last_sync_timestamp_seconds',
    help: 'When the Kubernetes source last completed a list or received a watch event.',
    registers: [this.registry],
  });
  readonly apiserverConnected = new Gauge({
    name: 'lambda_ingress_apiserver_connected',
    help: '1 while the Kubernetes watches are established, 0 during an outage (the last good table keeps serving).',
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'lambda_ingress_leader',
    help: '1 when this replica holds the Lease and writes status.',
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({
    name: 'lambda_ingress_status_writes_total',
    help: 'LambdaRoute status updates, by result (ok, conflict, not_found, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly #certificateExpiry = new Gauge({
    name: 'lambda_ingress_certificate_expiry_timestamp_seconds',
    help: 'When each served TLS certificate expires (Unix time), by the Secret it comes from.',
    labelNames: ['namespace', 'secret'] as const,
    // Every serving process serves the same certificates: aggregated, the value is the same, not a sum.
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly uncaughtErrors = new Counter({
    name: 'lambda_ingress_uncaught_errors_total',
    help: 'Errors that escaped every handler; the process logged them and kept serving.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'lambda_ingress_' });
  }

  observeRequest(o: RequestObservation): void {
    const route = o.route ?? NO_ROUTE;
    const namespace = o.namespace ?? '';
    const series = this.#seriesOf(route, namespace);
    const method = METHODS.has(o.method) ? o.method : 'OTHER';
    const code = String(o.status);
    const requestsKey = `${method} ${code}`;
    let requests = series.requests.get(requestsKey);
    if (!requests) {
      requests = { method, code, counter: this.#requests.labels({ route, namespace, method, code }) };
      series.requests.set(requestsKey, requests);
    }
    requests.counter.inc();
    series.duration.observe(o.durationMs / 1000);
    if (o.upstreamMs !== undefined) {
      series.upstream.observe(o.upstreamMs / 1000);
      this.#overhead.observe(Math.max(0, o.durationMs - o.upstreamMs) / 1000);
    }
    if (o.upstreamError) {
      series.errorKinds.add(o.upstreamError);
      this.#upstreamErrors.inc({ route, namespace, kind: o.upstreamError });
    }
  }

  /**
   * Drops the series of every route not in `routes` (the table just swapped
   * in), so that series do not pile up as routes are created and deleted.
   * A request that matched a removed route and finishes later counts under it
   * again, until the next swap.
   */
  retainRoutes(routes: Iterable<{ namespace: string; name: string }>): void {
    const kept = new Set([`/${NO_ROUTE}`]);
    for (const { namespace, name } of routes) kept.add(`${namespace}/${name}`);
    for (const [key, { labels, requests, errorKinds }] of this.#series) {
      if (kept.has(key)) continue;
      this.#series.delete(key);
      for (const { method, code } of requests.values()) this.#requests.remove({ ...labels, method, code });
      this.#duration.remove(labels);
      this.#upstream.remove(labels);
      for (const kind of errorKinds) this.#upstreamErrors.remove({ ...labels, kind });
    }
  }

  /**
   * The certificates served now; their series replace the previous ones, so a
   * withdrawn one leaves. One series per Secret, not per host: a Secret serving
   * fifty hosts is one certificate, and the labels stay bounded by the Secrets
   * the configuration names. Two versions of one Secret served at once (a host
   * on its last good version): the sooner expiry counts.
   */
  certificatesServed(certificates: Iterable<ServedCertificate>): void {
    const bySecret = new Map<string, number>();
    for (const { description, notAfter } of certificates) {
      const expiresAt = notAfter.getTime() / 1000;
      bySecret.set(description.secret, Math.min(expiresAt, bySecret.get(description.secret) ?? Infinity));
    }
    this.#certificateExpiry.reset();
    for (const [key, expiresAt] of bySecret) {
      const slash = key.indexOf('/');
      this.#certificateExpiry.set(
        { namespace: key.slice(0, slash), secret: key.slice(slash + 1) },
        expiresAt,
      );
    }
  }

  /**
   * The labelled series of one route, looked up once and kept: prom-client
   * would otherwise hash the label set on every observation.
   */
  #seriesOf(route: string, namespace: string): RouteSeries {
    const key = `${namespace}/${route}`;
    let series = this.#series.get(key);
    if (!series) {
      const labels = { route, namespace };
      series = {
        labels,
        requests: new Map(),
        duration: this.#duration.labels(labels),
        upstream: this.#upstream.labels(labels),
        errorKinds: new Set(),
      };
      this.#series.set(key, series);
    }
    return series;
  }
}
