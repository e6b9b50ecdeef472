// The step both target kinds take before a signed request goes out: the
// client's body read whole (it is hashed), credentials at hand, and the SigV4
// headers. Built once per route with all that does not change per request;
// a step that cannot be done answers the client itself (413, 408, 503).
import { type CredentialSource, waitForCredentials } from '../aws/credentials.ts';
import { payloadHash, RouteSigner, type SigningTarget } from '../aws/sigv4.ts';
import { type BodyReading, readBody } from './body.ts';
import { credentialsUnavailable, rejectBody, sendError } from './errors.ts';
import type { Exchange } from './exchange.ts';

export interface RouteSigningOptions {
  routeKey: string;
  /** What every request of the route is signed for (host, region, service, fixed path and query). */
  target: SigningTarget;
  credentials: CredentialSource;
  /** The largest body read, and what the 413 for a larger one says. */
  bodyLimit: number;
  tooLarge: string;
  /** The route's timeout: the most the body may take to arrive. */
  timeoutMs: number;
}

export class RouteSigning {
  readonly #routeKey: string;
  readonly #signer: RouteSigner;
  readonly #credentials: CredentialSource;
  readonly #reading: BodyReading;

  constructor(options: RouteSigningOptions) {
    const { routeKey, tooLarge } = options;
    this.#routeKey = routeKey;
    this.#signer = new RouteSigner(options.target);
    this.#credentials = options.credentials;
    this.#reading = {
      limit: options.bodyLimit,
      timeoutMs: options.timeoutMs,
      refuse: (exchange, error) => rejectBody(exchange, routeKey, error, tooLarge),
    };
  }

  /**
   * The request's whole body, within the route's limit and timeout, after
   * the 100 Continue the client may be waiting for; undefined once the client
   * has been answered (413, 408) or has left. Only for a request with a body
   * (body.ts hasBody).
   */
  readBody(exchange: Exchange): Promise<Buffer | undefined> {
    return readBody(exchange, this.#reading);
  }

  /**
   * Adds the SigV4 headers to `headers` (a flat list of names and values) for
   * a request with `payload` (undefined: none). Synchronous, giving true,
   * while the credentials are at hand; a promise only while a new source is
   * on its first fetch, giving false once the client has its 503.
   */
  sign(
    exchange: Exchange,
    headers: string[],
    method: string,
    path: string,
    query: string,
    payload: Buffer | undefined,
  ): true | Promise<boolean> {
    const credentials = this.#credentials.current();
    if (credentials === undefined)
      return this.#signOnceFetched(exchange, headers, method, path, query, payload);
    this.#signer.sign(headers, credentials, method, path, query, payloadHash(payload));
    return true;
  }

  async #signOnceFetched(
    exchange: Exchange,
    headers: string[],
    method: string,
    path: string,
    query: string,
    payload: Buffer | undefined,
  ): Promise<boolean> {
    const credentials = await waitForCredentials(this.#credentials);
    if (credentials === undefined) {
      sendError(exchange.res, {
        ...credentialsUnavailable(this.#credentials),
        route: this.#routeKey,
        requestId: exchange.requestId,
      });
      return false;
    }
    this.#signer.sign(headers, credentials, method, path, query, payloadHash(payload));
    return true;
  }
}
