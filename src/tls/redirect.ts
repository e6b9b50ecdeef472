// --redirect-http: plain HTTP for a host that has a certificate of its own is
// answered 308 (method and body kept, RFC 9110 §15.4.9) to the same URL over
// https. Hosts served only by the default certificate are not redirected.
import type { ServerResponse } from 'node:http';
import type { CertificateStore } from './store.ts';

/** What the redirect reads of a request (the data plane's RequestTarget has these). */
export interface RedirectTarget {
  /** Lower-case, without port. */
  host: string;
  /** The port the client addressed; "80" when it named none. */
  port: string;
  /** Origin-form path as received, or "*". */
  path: string;
  /** Query without "?", as received. */
  query: string;
}

/**
 * The https URL to send a plain HTTP request to, or undefined when it is
 * served as it is. A client that named no port (or 80) reached us on the
 * standard port, through a Service or load balancer, and is sent to 443; one
 * that named a port is talking to the listeners directly and is sent to
 * `tlsPort`.
 */
export function httpsRedirect(
  target: RedirectTarget,
  store: CertificateStore,
  tlsPort: number,
): string | undefined {
  if (target.path === '*' || target.host === '' || !store.hasCertificate(target.host)) return undefined;
  const port = target.port === '80' || tlsPort === 443 ? '' : `:${tlsPort}`;
  const query = target.query === '' ? '' : `?${target.query}`;
  return `https://${target.host}${port}${target.path}${query}`;
}

export function sendHttpsRedirect(res: ServerResponse, location: string, requestId: string): void {
  res.writeHead(308, { location, 'x-request-id': requestId, 'content-length': 0 });
  res.end();
}
