// What a request names (RFC 9112 §3.2): the path and query it is routed and
// forwarded by, and the host it is for; or why lambda-ingress refuses it.
// Refusals never quote the target: its query may carry secrets.
import type { IncomingMessage } from 'node:http';
import type { Refusal } from './errors.ts';

export interface RequestTarget {
  /** Origin-form path, percent-encoded as received. */
  path: string;
  /** Query without "?", as received. */
  query: string;
  /** The host to route by: lower-case, without port or trailing dot. */
  host: string;
  refusal?: Refusal;
}

const badRequest = (message: string): Refusal => ({ status: 400, error: 'bad_request', message });
const FRAGMENT = badRequest('the request target contains "#", which no request target may');
const BAD_ESCAPE = badRequest('the request path has a malformed percent-escape, or one that is not UTF-8');

export function readTarget(req: IncomingMessage): RequestTarget {
  let url = req.url ?? '/';
  // A fragment is never part of a request target; it is cut off here so that it is not logged either.
  const hash = url.indexOf('#');
  if (hash !== -1) url = url.slice(0, hash);
  const q = url.indexOf('?');
  const target: RequestTarget = {
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '' : url.slice(q + 1),
    host: hostName(req.headers.host ?? ''),
  };
  if (hash !== -1) target.refusal = FRAGMENT;
  else if (!decodable(target.path)) target.refusal = BAD_ESCAPE;
  return target;
}

/** Every escape is "%" and two hex digits, and the bytes they make are UTF-8. */
function decodable(path: string): boolean {
  if (!path.includes('%')) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** A Host value without port, lower-cased, as the table indexes hosts. */
function hostName(host: string): string {
  if (host === '') return '';
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  const name = end > 0 ? host.slice(0, end) : host;
  return name.toLowerCase().replace(/\.$/, '');
}
