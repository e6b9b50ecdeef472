// Header rules for proxying: hop-by-hop headers never cross the proxy (RFC
// 9110 §7.6.1), the upstream sees its own Host and the X-Forwarded-* headers,
// and a route with its own credentials never passes the client's on.
// Forwarding headers (X-Forwarded-*, Forwarded, X-Real-IP) describe the
// original request only when a trusted proxy (--trusted-proxy) wrote them;
// from anyone else they are dropped and lambda-ingress sets its own.

export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  // Not hop-by-hop, but answered by the proxy itself (Node sends 100 Continue); undici refuses it.
  'expect',
]);

/** The Connection options that name no header. */
const IGNORED_TOKEN = /^(?:keep-alive|close)$/i;

/** Headers named in Connection are hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  // What nearly every peer sends names no header: spare the split.
  if (IGNORED_TOKEN.test(text)) return undefined;
  const tokens = text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '' && !IGNORED_TOKEN.test(t));
  return tokens.length > 0 ? new Set(tokens) : undefined;
}

/** Headers in which proxies tell the next hop about the original request. */
const FORWARDING = new Set([
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
]);

/** What lambda-ingress tells the next hop about the request it received. */
export interface Forwarding {
  /** The socket's peer, appended to X-Forwarded-For. */
  peerIp: string;
  /** The peer is a trusted proxy: its forwarding headers are kept. */
  trustedPeer: boolean;
  /** X-Forwarded-Proto and X-Forwarded-Port, unless a trusted proxy set them. */
  proto: string;
  port: string;
}

/** The forwarding headers a trusted proxy sent, gathered while the others are copied. */
class ForwardedBy {
  xff: string | undefined;
  proto = false;
  port = false;
  host = false;
  readonly #forwarding: Forwarding;

  constructor(forwarding: Forwarding) {
    this.#forwarding = forwarding;
  }

  /** Whether a client header is copied as it is: not a forwarding header, or one from a trusted proxy. */
  passes(lower: string, value: string): boolean {
    if (!FORWARDING.has(lower)) return true;
    if (!this.#forwarding.trustedPeer) return false;
    if (lower === 'x-forwarded-for') {
      // Never copied as it is: the peer is appended.
      this.xff = this.xff === undefined ? value : `${this.xff}, ${value}`;
      return false;
    }
    if (lower === 'x-forwarded-proto') this.proto = true;
    else if (lower === 'x-forwarded-port') this.port = true;
    else if (lower === 'x-forwarded-host') this.host = true;
    return true;
  }

  /** The trusted chain with the peer appended, or the peer alone. */
  get forwardedFor(): string {
    const { peerIp } = this.#forwarding;
    return this.xff === undefined ? peerIp : `${this.xff}, ${peerIp}`;
  }
}

export interface RequestHeaderPolicy {
  /** The upstream's Host header. */
  host: string;
  /** True when the route sends its own credentials: drop Authorization, x-api-key and every x-amz-* header. */
  ownCredentials: boolean;
}

/**
 * The headers to send upstream, as undici's flat [name, value, ...] list,
 * keeping the client's order, case and duplicates.
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  policy: RequestHeaderPolicy,
  forwarding: Forwarding,
  requestId: string,
): string[] {
  let connection: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      const value = rawHeaders[i + 1]!;
      connection = connection === undefined ? value : `${connection},${value}`;
    }
  }
  const named = connectionTokens(connection);
  const out: string[] = ['host', policy.host, 'x-request-id', requestId];
  // Only a trusted proxy's forwarding headers are read; anyone else's are dropped unread.
  const forwarded = forwarding.trustedPeer ? new ForwardedBy(forwarding) : undefined;
  let clientHost: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'host') {
      clientHost = value;
      continue;
    }
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || lower === 'x-request-id') continue;
    if (forwarded ? !forwarded.passes(lower, value) : FORWARDING.has(lower)) continue;
    if (
      policy.ownCredentials &&
      (lower === 'authorization' || lower === 'x-api-key' || lower.startsWith('x-amz-'))
    ) {
      continue;
    }
    out.push(name, value);
  }
  out.push('x-forwarded-for', forwarded ? forwarded.forwardedFor : forwarding.peerIp);
  // A trusted load balancer's X-Forwarded-Proto / -Port / -Host describe the original request better than we can.
  if (!forwarded?.proto) out.push('x-forwarded-proto', forwarding.proto);
  if (!forwarded?.port) out.push('x-forwarded-port', forwarding.port);
  if (!forwarded?.host && clientHost !== undefined) out.push('x-forwarded-host', clientHost);
  return out;
}

/**
 * The headers a function's event carries, as raw pairs: the client's, with
 * forwarding headers kept only from a trusted proxy, and X-Forwarded-For (the
 * peer appended), X-Forwarded-Proto and X-Forwarded-Port as API Gateway sets
 * them.
 */
export function eventHeaders(rawHeaders: readonly string[], forwarding: Forwarding): [string, string][] {
  const out: [string, string][] = [];
  const forwarded = new ForwardedBy(forwarding);
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (forwarded.passes(name.toLowerCase(), value)) out.push([name, value]);
  }
  out.push(['X-Forwarded-For', forwarded.forwardedFor]);
  if (!forwarded.proto) out.push(['X-Forwarded-Proto', forwarding.proto]);
  if (!forwarded.port) out.push(['X-Forwarded-Port', forwarding.port]);
  return out;
}

/** Upstream response headers minus hop-by-hop ones, plus our X-Request-Id, ready for ServerResponse.writeHead. */
export function downstreamResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  requestId: string,
): Record<string, string | string[]> {
  const named = connectionTokens(headers['connection']);
  const out: Record<string, string | string[]> = { 'x-request-id': requestId };
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name) || name === 'x-request-id') continue;
    out[name] = value;
  }
  return out;
}
