// What a request names (RFC 9112 §3.2): the path and query it is routed and
// forwarded by, and the host it is for; or why lambda-ingress refuses it.
// An absolute-form target ("GET http://host/x") is routed by its authority and
// path, and only its origin-form ever goes further; "*" is for OPTIONS alone.
// Refusals never quote the target: its query may carry secrets.
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import type { Refusal } from './errors.ts';

export interface RequestTarget {
  /** Origin-form path, percent-encoded as received; "*" for OPTIONS * (asterisk-form). */
  path: string;
  /** Query without "?", as received. */
  query: string;
  /** The host to route by: lower-case, without port or trailing dot. */
  host: string;
  /** The port the client addressed (Host, or the absolute-form authority): "80" ("443" over TLS) when it named none. */
  port: string;
  refusal?: Refusal;
}

interface HostPort {
  /** Lower-case, without a trailing dot; an IPv6 address keeps its brackets. */
  name: string;
  /** As written; "" when there is none. */
  port: string;
}

const badRequest = (message: string): Refusal => ({ error: 'bad_request', message });
const FRAGMENT = badRequest('the request target contains "#", which no request target may');
const BAD_ESCAPE = badRequest('the request path has a malformed percent-escape, or one that is not UTF-8');
const BAD_FORM = badRequest('the request target must be a path, an absolute http(s) URL, or "*" for OPTIONS');
const ASTERISK = badRequest('the request target "*" is only for OPTIONS');
const TWO_HOSTS = badRequest('the request has more than one Host header');
const NO_HOST_HEADER = badRequest('an HTTP/1.1 request must have a Host header');
const BAD_HOST = badRequest('the Host header is not a valid host[:port]');
const BAD_AUTHORITY = badRequest(
  'the authority of the absolute-form request target is not a valid host[:port]',
);
const AUTHORITY_MISMATCH = badRequest(
  'the Host header does not name the authority of the absolute-form request target',
);

const NO_HOST: HostPort = { name: '', port: '' };
/** scheme "://" authority, then the path and query. */
const ABSOLUTE_FORM = /^(https?):\/\/([^/?]*)(.*)$/i;
const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

/** `secure`: the request came over TLS, whose default port is 443. */
export function readTarget(req: IncomingMessage, secure = false): RequestTarget {
  let url = req.url ?? '/';
  // A fragment is never part of a request target; it is cut off here so that it is not logged either.
  const hash = url.indexOf('#');
  if (hash !== -1) url = url.slice(0, hash);
  const header = req.headers.host;
  // An empty Host is valid: it names no host (RFC 9110 §7.2).
  const given = header === undefined || header === '' ? NO_HOST : parseHost(header);
  const target: RequestTarget = {
    path: '',
    query: '',
    host: given?.name ?? '',
    port: given?.port || (secure ? '443' : '80'),
  };
  const lines = hostLines(req.rawHeaders);
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one before; Node would route by the first.
  let refusal: Refusal | undefined;
  if (lines > 1) refusal = TWO_HOSTS;
  else if (lines === 0 && req.httpVersion === '1.1') refusal = NO_HOST_HEADER;
  else if (!given) refusal = BAD_HOST;
  if (hash !== -1) refusal ??= FRAGMENT;
  if (url === '*') {
    target.path = '*';
    if (req.method !== 'OPTIONS') refusal ??= ASTERISK;
  } else {
    if (url.charCodeAt(0) !== 47 /* / */) {
      const absolute = readAbsoluteForm(url, header === undefined ? undefined : given);
      if (absolute.authority) {
        target.host = absolute.authority.name;
        target.port = absolute.authority.port;
      }
      refusal ??= absolute.refusal;
      url = absolute.origin;
    }
    const q = url.indexOf('?');
    target.path = q === -1 ? url : url.slice(0, q);
    target.query = q === -1 ? '' : url.slice(q + 1);
    if (!decodable(target.path)) refusal ??= BAD_ESCAPE;
  }
  if (refusal) target.refusal = refusal;
  return target;
}

/**
 * An absolute-form target: its authority replaces Host for routing (RFC 9112
 * §3.2.2), and a Host header that names another authority is refused.
 */
function readAbsoluteForm(
  url: string,
  given: HostPort | undefined,
): { origin: string; authority?: HostPort; refusal?: Refusal } {
  const absolute = ABSOLUTE_FORM.exec(url);
  if (!absolute) return { origin: '', refusal: BAD_FORM };
  const rest = absolute[3]!;
  const origin = rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
  const authority = parseHost(absolute[2]!);
  if (!authority) return { origin, refusal: BAD_AUTHORITY };
  const port = DEFAULT_PORT[absolute[1]!.toLowerCase()]!;
  const named = given ?? authority;
  const routed = { name: authority.name, port: authority.port || port };
  if (named.name !== authority.name || (named.port || port) !== routed.port) {
    return { origin, authority: routed, refusal: AUTHORITY_MISMATCH };
  }
  return { origin, authority: routed };
}

/** Host header lines: Node keeps the first in `req.headers.host` and drops the others. */
function hostLines(raw: readonly string[]): number {
  let lines = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') lines++;
  }
  return lines;
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

/**
 * host[:port] (RFC 3986 §3.2.2): DNS-style labels of letters, digits, "-" and
 * "_" with at most one trailing dot, or a bracketed IPv6 address. Anything else
 * (empty labels, a leading dot, userinfo, percent-escapes, non-ASCII) is not a
 * host lambda-ingress routes by.
 */
const HOST = /^(?:(\[[0-9a-f:.]+\])|([a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*)\.?)(?::(\d{0,5}))?$/i;

/** Requests on a connection name the same host over and over: the last Host parsed is kept. */
let lastHostText: string | undefined;
let lastHost: HostPort | undefined;

function parseHost(text: string): HostPort | undefined {
  if (text !== lastHostText) {
    lastHost = parseHostText(text);
    lastHostText = text;
  }
  return lastHost;
}

function parseHostText(text: string): HostPort | undefined {
  const match = HOST.exec(text);
  if (!match) return undefined;
  const [, literal, name, port = ''] = match;
  if (literal !== undefined && !isIPv6(literal.slice(1, -1))) return undefined;
  if (name !== undefined && name.length > 253) return undefined;
  if (port !== '' && Number(port) > 65535) return undefined;
  return { name: (literal ?? name!).toLowerCase(), port };
}
