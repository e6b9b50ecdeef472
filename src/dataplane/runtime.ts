// Binds a compiled table to the resources that serve it: a handler per ready
// route, with connection pools and credential sources reused across
// tables by key, and the problems found while serving (RouteHealth).
import type { CredentialSource, RefreshOptions } from '../aws/credentials.ts';
import { credentialSourceSpec } from '../aws/route-credentials.ts';
import type { CompiledRoute, FunctionTarget, IamAuth, ReadyRoute, UrlTarget } from '../model/route.ts';
import type { RouteTable } from '../model/table.ts';
import { ReuseCache } from '../util/reuse-cache.ts';
import { payloadCodecs } from './events/index.ts';
import type { RouteHandler } from './exchange.ts';
import { UrlForwarder } from './forward.ts';
import { RouteHealth } from './health.ts';
import { FunctionInvoker } from './invoke.ts';
import { STREAM_LIMIT } from './invoke-outcome.ts';
import { createUpstream, poolKey, type Upstream } from './pools.ts';

/** What the data plane serves: one table and its handlers, swapped as a unit. */
export interface Serving {
  readonly table: RouteTable;
  readonly handlers: ReadonlyMap<CompiledRoute, RouteHandler>;
}

/** Defaults are in src/config.ts. */
export interface RuntimeOptions {
  /** Largest request body buffered for signing a url target. */
  bodyLimit: number;
  /**
   * How long a pool no route uses any more stays open, for requests that
   * matched the previous table and have not been sent yet.
   */
  poolCloseDelayMs: number;
  /** Refresh timing of expiring credentials (tests shorten it); absent, the AWS SDKs' timing. */
  credentialRefresh?: RefreshOptions;
  /** The most a function's response stream may carry (tests lower it); absent, Lambda's 200 MB. */
  responseStreamLimit?: number;
}

interface SharedCredentials {
  credentials: CredentialSource;
  /** Routes signing with this source in the current table. */
  routes: ReadonlySet<string>;
}

/** A route's handler and the shared resources it was built with, under their keys. */
interface Built {
  handler: RouteHandler;
  poolKey: string;
  upstream: Upstream;
  signingKey?: string;
  signing?: SharedCredentials;
}

export class Runtime {
  readonly health = new RouteHealth();
  readonly #options: RuntimeOptions;
  readonly #pools: ReuseCache<Upstream>;
  readonly #signing = new ReuseCache<SharedCredentials>((s) => s.credentials.close());
  /**
   * The current table's handlers by route. compile() hands over the same
   * CompiledRoute while its route and Secrets are unchanged: its handler is
   * kept, so a table after one change builds one handler, not one per route.
   */
  #built = new Map<CompiledRoute, Built>();

  constructor(options: RuntimeOptions) {
    this.#options = options;
    const delay = options.poolCloseDelayMs;
    this.#pools = new ReuseCache(({ pool }) => setTimeout(() => void pool.close(), delay).unref());
  }

  build(table: RouteTable): Serving {
    this.#pools.begin();
    this.#signing.begin();
    const built = new Map<CompiledRoute, Built>();
    const handlers = new Map<CompiledRoute, RouteHandler>();
    const served = new Set<string>();
    const usage = new Map<SharedCredentials, Set<string>>();
    for (const route of table.routes) {
      if (!route.ready) continue;
      const entry = this.#reuse(route) ?? this.#build(route);
      built.set(route, entry);
      handlers.set(route, entry.handler);
      served.add(route.key);
      const { signing } = entry;
      if (signing) usage.set(signing, (usage.get(signing) ?? new Set()).add(route.key));
    }
    this.#pools.commit();
    this.#signing.commit();
    this.#built = built;
    this.health.retain(served);
    for (const source of this.#signing.values()) {
      source.routes = usage.get(source) ?? new Set();
      this.#reportCredentials(source);
    }
    return { table, handlers };
  }

  /** Open connection pools, for tests and metrics. */
  get poolCount(): number {
    return this.#pools.size;
  }

  /** Closes every pool (letting in-flight requests finish) and stops credential refreshes. */
  async close(): Promise<void> {
    for (const source of this.#signing.drain()) source.credentials.close();
    await Promise.all(this.#pools.drain().map(({ pool }) => pool.close()));
  }

  /** The previous table's handler for this route, its pool and credentials marked as still in use. */
  #reuse(route: ReadyRoute): Built | undefined {
    const entry = this.#built.get(route);
    if (!entry) return undefined;
    const { poolKey, upstream, signingKey, signing } = entry;
    this.#pools.get(poolKey, () => upstream);
    if (signingKey && signing) this.#signing.get(signingKey, () => signing);
    return entry;
  }

  #build(route: ReadyRoute): Built {
    const { target, connection } = route;
    const key = poolKey(target.origin, connection);
    const upstream = this.#pools.get(key, () => createUpstream(target.origin, connection));
    const shared = { poolKey: key, upstream, ...(route.auth.iam && this.#signingFor(route.auth.iam)) };
    const credentials = shared.signing?.credentials;
    if (forwardsToUrl(route)) {
      const handler = new UrlForwarder(route, {
        upstream,
        bodyLimit: this.#options.bodyLimit,
        ...(credentials && { credentials }),
      });
      return { handler, ...shared };
    }
    const invoked = route as ReadyRoute<FunctionTarget>; // the one other kind
    const handler = new FunctionInvoker(invoked, {
      upstream,
      credentials: credentials!,
      format: payloadCodecs[invoked.target.payloadFormat],
      health: this.health,
      streamLimit: this.#options.responseStreamLimit ?? STREAM_LIMIT,
    });
    return { handler, ...shared };
  }

  #signingFor(iam: IamAuth): { signingKey: string; signing: SharedCredentials } {
    const spec = credentialSourceSpec(iam, this.#options.credentialRefresh);
    const signing = this.#signing.get(spec.key, () => {
      const credentials = spec.create();
      const created: SharedCredentials = { credentials, routes: new Set() };
      credentials.onChange(() => this.#reportCredentials(created));
      return created;
    });
    return { signingKey: spec.key, signing };
  }

  /** Marks every route using `source` not ready while it has no credentials, and ready again after. */
  #reportCredentials(source: SharedCredentials): void {
    for (const key of source.routes)
      this.health.report(key, 'CredentialsUnavailable', source.credentials.problem);
  }
}

/** The handlers take the table's route itself (not a narrowed copy: 10,000 routes, 10,000 copies). */
const forwardsToUrl = (route: ReadyRoute): route is ReadyRoute<UrlTarget> => route.target.kind === 'url';
