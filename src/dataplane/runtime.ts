// Binds a compiled table to the resources that serve it: a handler per ready
// route, with connection pools and signers reused across tables by key.
import type { Pool } from 'undici';
import type { Signer } from '../aws/signer.ts';
import { staticCredentialsKey, staticSigner } from '../aws/signers.ts';
import type { CompileResult } from '../compile/compile.ts';
import type { CompiledRoute, ReadyRoute } from '../compile/route.ts';
import { ReuseCache } from '../util/reuse-cache.ts';
import { sendError } from './errors.ts';
import type { RouteHandler } from './exchange.ts';
import { UrlForwarder } from './forward.ts';
import { createPool, poolKey } from './pools.ts';

/** What the data plane serves: one compile result and its handlers, swapped as a unit. */
export interface Serving {
  readonly result: CompileResult;
  readonly handlers: ReadonlyMap<CompiledRoute, RouteHandler>;
}

export interface RuntimeOptions {
  /** Largest request body buffered for signing (default 6 MiB). */
  bodyLimit?: number;
  /**
   * How long a pool no route uses any more stays open, for requests that
   * matched the previous table and have not been sent yet (default 30 s).
   */
  poolCloseDelayMs?: number;
}

export const DEFAULT_BODY_LIMIT = 6 * 1024 * 1024;

export class Runtime {
  readonly #bodyLimit: number;
  readonly #pools: ReuseCache<Pool>;
  readonly #signers = new ReuseCache<Signer>();

  constructor(options: RuntimeOptions = {}) {
    this.#bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
    const delay = options.poolCloseDelayMs ?? 30_000;
    this.#pools = new ReuseCache((pool) => setTimeout(() => void pool.close(), delay).unref());
  }

  build(result: CompileResult): Serving {
    this.#pools.begin();
    this.#signers.begin();
    const handlers = new Map<CompiledRoute, RouteHandler>();
    for (const route of result.table.routes) {
      if (route.ready) handlers.set(route, this.#handler(route));
    }
    this.#pools.commit();
    this.#signers.commit();
    return { result, handlers };
  }

  /** Open connection pools, for tests and metrics. */
  get poolCount(): number {
    return this.#pools.size;
  }

  /** Closes every pool, letting in-flight requests finish. */
  async close(): Promise<void> {
    await Promise.all(this.#pools.drain().map((pool) => pool.close()));
  }

  #handler(route: ReadyRoute): RouteHandler {
    const { target, connection } = route;
    const pool = this.#pools.get(poolKey(target.origin, connection), () =>
      createPool(target.origin, connection),
    );
    const credentials = route.auth.iam?.credentials;
    const signer =
      credentials?.kind === 'static'
        ? this.#signers.get(staticCredentialsKey(credentials), () => staticSigner(credentials))
        : undefined;
    if (target.kind !== 'url') return notYetServed;
    return new UrlForwarder(
      { ...route, target },
      { pool, bodyLimit: this.#bodyLimit, ...(signer && { signer }) },
    );
  }
}

const notYetServed: RouteHandler = {
  async handle(exchange) {
    sendError(exchange.res, 503, {
      error: 'route_not_ready',
      message: 'function targets are not served yet',
    });
  },
};
