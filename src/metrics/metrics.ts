// Prometheus metrics, all prefixed lambda_ingress_. Label values are bounded:
// route and namespace come from the configuration (never from requests), a
// request that matches no route is counted under route="(none)", methods
// outside the standard set count as "OTHER", codes are status codes.
// What every request updates is plain numbers (collected.ts), written out at
// scrape time after prom-client's own metrics, which are set rarely.
import v8 from 'node:v8';
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import {
  Buckets,
  type CollectedMetric,
  exposition,
  labelText,
  type Sample,
  sumProcesses,
} from './collected.ts';
import { UPSTREAM_ERROR_KINDS, type UpstreamErrorKind } from './upstream-error.ts';

const NO_ROUTE = '(none)';
/** Methods by index; any other counts as the last, OTHER. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
const METHOD_INDEX = new Map<string, number>(METHODS.map((method, i) => [method, i]));
const OTHER = METHODS.length - 1;
/**
 * Request and upstream latency of all routes together, 1 ms to Lambda's
 * longest synchronous calls: one histogram each, so it can be fine-grained.
 */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/**
 * The same per route (--route-histograms): coarse, because every route gets
 * two histograms of (buckets + 3) series each.
 */
export const ROUTE_BUCKETS = [0.025, 0.1, 0.25, 1, 2.5, 10];
const OVERHEAD_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

const DURATION = 'lambda_ingress_request_duration_seconds';
const UPSTREAM = 'lambda_ingress_upstream_duration_seconds';
const OVERHEAD = 'lambda_ingress_overhead_duration_seconds';

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

export interface MetricsOptions {
  /** A request and an upstream latency histogram per route, instead of one each for all routes. */
  routeHistograms: boolean;
}

/** One process's metrics: what a --workers worker sends the primary. */
export interface ProcessMetrics {
  /** prom-client's, as getMetricsAsJSON gives them. */
  registry: MetricObjectWithValues<MetricValue<string>>[];
  /** The request metrics. */
  collected: CollectedMetric[];
}

/** A counter cell: its series text, written once, and its count. */
interface Count {
  series: string;
  count: number;
}

/** What is counted for one route; dropping it drops all its series. */
interface RouteSeries {
  /** `route="…",namespace="…"` */
  labels: string;
  /** By method index * 1000 + status code. */
  requests: Map<number, Count>;
  /** The cell counted last, and its key: most requests of a route are one method and code. */
  lastKey: number;
  last: Count | undefined;
  upstreamErrors: Map<UpstreamErrorKind, Count>;
  /** Only with routeHistograms; upstream once the route has called its upstream. */
  duration: Buckets | undefined;
  upstream: Buckets | undefined;
}

/** prom-client's registry with the request metrics appended to its text. */
class RequestMetricsRegistry extends Registry {
  readonly #collect: () => CollectedMetric[];

  constructor(collect: () => CollectedMetric[]) {
    super();
    this.#collect = collect;
  }

  override async metrics(): Promise<string> {
    return joinExposition(await super.metrics(), this.#collect());
  }
}

export class Metrics {
  readonly registry: Registry = new RequestMetricsRegistry(() => this.#collect());
  readonly #routeHistograms: boolean;
  /** By namespace, then route name: two lookups of strings whose hashes are cached, nothing built. */
  readonly #series = new Map<string, Map<string, RouteSeries>>();
  /** All routes together, unless routeHistograms. */
  readonly #duration = new Buckets(BUCKETS);
  readonly #upstream = new Buckets(BUCKETS);
  readonly #overhead = new Buckets(OVERHEAD_BUCKETS);
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

  constructor({ routeHistograms }: MetricsOptions) {
    this.#routeHistograms = routeHistograms;
    collectDefaultMetrics({ register: this.registry, prefix: 'lambda_ingress_' });
    // Next to prom-client's committed sizes: how much of each V8 space is resident, and what
    // ArrayBuffers (Buffers) hold outside it, tell heap V8 keeps unused from memory malloc keeps.
    new Gauge({
      name: 'lambda_ingress_nodejs_heap_space_size_resident_bytes',
      help: 'Process heap space size resident in memory (V8 physical_space_size), in bytes.',
      labelNames: ['space'] as const,
      registers: [this.registry],
      collect() {
        for (const space of v8.getHeapSpaceStatistics())
          this.set({ space: space.space_name.replace(/_space$/, '') }, space.physical_space_size);
      },
    });
    new Gauge({
      name: 'lambda_ingress_nodejs_array_buffers_bytes',
      help: 'Memory of ArrayBuffers and Buffers (process.memoryUsage().arrayBuffers), in bytes.',
      registers: [this.registry],
      collect() {
        this.set(process.memoryUsage().arrayBuffers);
      },
    });
  }

  /** This process's metrics, for the --workers primary to add up. */
  async snapshot(): Promise<ProcessMetrics> {
    return { registry: await this.registry.getMetricsAsJSON(), collected: this.#collect() };
  }

  /** Counts one answered request: a few map lookups and adds, no allocation once its series exist. */
  observeRequest(o: RequestObservation): void {
    const series = this.#seriesOf(o.route ?? NO_ROUTE, o.namespace ?? '');
    const method = METHOD_INDEX.get(o.method) ?? OTHER;
    const key = method * 1000 + o.status;
    let requests = series.last;
    if (series.lastKey !== key || requests === undefined) {
      requests = series.requests.get(key) ?? this.#newRequestCount(series, key, method, o.status);
      series.last = requests;
      series.lastKey = key;
    }
    requests.count++;
    (series.duration ?? this.#duration).observe(o.durationMs / 1000);
    if (o.upstreamMs !== undefined) {
      this.#upstreamOf(series).observe(o.upstreamMs / 1000);
      this.#overhead.observe(Math.max(0, o.durationMs - o.upstreamMs) / 1000);
    }
    if (o.upstreamError) {
      let errors = series.upstreamErrors.get(o.upstreamError);
      if (!errors) {
        const labels = `${series.labels},kind="${o.upstreamError}"`;
        errors = { series: `lambda_ingress_upstream_errors_total{${labels}}`, count: 0 };
        series.upstreamErrors.set(o.upstreamError, errors);
      }
      errors.count++;
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
    for (const [namespace, byRoute] of this.#series) {
      for (const route of byRoute.keys()) if (!kept.has(`${namespace}/${route}`)) byRoute.delete(route);
      if (byRoute.size === 0) this.#series.delete(namespace);
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

  #seriesOf(route: string, namespace: string): RouteSeries {
    let byRoute = this.#series.get(namespace);
    if (!byRoute) {
      byRoute = new Map();
      this.#series.set(namespace, byRoute);
    }
    let series = byRoute.get(route);
    if (!series) {
      series = {
        labels: labelText({ route, namespace }),
        requests: new Map(),
        lastKey: -1,
        last: undefined,
        upstreamErrors: new Map(),
        duration: this.#routeHistograms ? new Buckets(ROUTE_BUCKETS) : undefined,
        upstream: undefined,
      };
      byRoute.set(route, series);
    }
    return series;
  }

  /** A route's upstream histogram starts with its first upstream call: one never called has none. */
  #upstreamOf(series: RouteSeries): Buckets {
    if (!this.#routeHistograms) return this.#upstream;
    series.upstream ??= new Buckets(ROUTE_BUCKETS);
    return series.upstream;
  }

  #newRequestCount(series: RouteSeries, key: number, method: number, status: number): Count {
    const labels = `${series.labels},method="${METHODS[method]}",code="${status}"`;
    const count = { series: `lambda_ingress_requests_total{${labels}}`, count: 0 };
    series.requests.set(key, count);
    return count;
  }

  /** The request metrics now. */
  #collect(): CollectedMetric[] {
    const overhead: Sample[] = [];
    this.#overhead.samples(OVERHEAD, '', overhead);
    return [
      {
        name: 'lambda_ingress_requests_total',
        help: 'Requests answered by the data plane.',
        type: 'counter',
        samples: this.#counts((series) => series.requests),
      },
      {
        name: DURATION,
        help: 'Time from request to the end of the response, as the data plane saw it.',
        type: 'histogram',
        samples: this.#histogram(DURATION, this.#duration, (series) => series.duration),
      },
      {
        name: UPSTREAM,
        help: 'Time spent waiting for the upstream (API Gateway, function URL, Lambda Invoke API).',
        type: 'histogram',
        samples: this.#histogram(UPSTREAM, this.#upstream, (series) => series.upstream),
      },
      {
        name: OVERHEAD,
        help: "The data plane's own time per proxied request, total minus upstream (all routes together: it does not depend on the route).",
        type: 'histogram',
        samples: overhead,
      },
      {
        name: 'lambda_ingress_upstream_errors_total',
        help: `Upstream failures by kind: ${UPSTREAM_ERROR_KINDS.join(', ')}.`,
        type: 'counter',
        samples: this.#counts((series) => series.upstreamErrors),
      },
    ];
  }

  /** The samples of a per-route counter. */
  #counts(cells: (series: RouteSeries) => Map<unknown, Count>): Sample[] {
    const samples: Sample[] = [];
    for (const byRoute of this.#series.values()) {
      for (const series of byRoute.values()) {
        for (const { series: line, count } of cells(series).values()) samples.push([line, count]);
      }
    }
    return samples;
  }

  /** The samples of a latency histogram: per route with routeHistograms, else the one for all routes. */
  #histogram(name: string, all: Buckets, ofRoute: (series: RouteSeries) => Buckets | undefined): Sample[] {
    const samples: Sample[] = [];
    if (!this.#routeHistograms) {
      all.samples(name, '', samples);
      return samples;
    }
    for (const byRoute of this.#series.values()) {
      for (const series of byRoute.values()) ofRoute(series)?.samples(name, series.labels, samples);
    }
    return samples;
  }
}

const joinExposition = (registryText: string, collected: CollectedMetric[]) =>
  `${registryText}\n${exposition(collected)}`;

/** Several processes' metrics as one exposition text: counters and histograms summed. */
export async function aggregateMetrics(processes: ProcessMetrics[]): Promise<string> {
  const registry = AggregatorRegistry.aggregate(processes.map((p) => p.registry));
  return joinExposition(await registry.metrics(), sumProcesses(processes.map((p) => p.collected)));
}
