// Header rules for proxying: hop-by-hop headers never cross the proxy (RFC
// 9110 §7.6.1), the upstream sees its own Host and the X-Forwarded-* headers,
// and a route with its own credentials never passes the client's on.

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

/** Headers named in Connection are hop-by-hop too. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '' && t !== 'close' && t !== 'keep-alive');
  return tokens.length > 0 ? new Set(tokens) : undefined;
}

export interface RequestFacts {
  clientIp: string;
  proto: string;
  /** The request id (the client's X-Request-Id when it was usable), sent upstream as X-Request-Id. */
  requestId: string;
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
  facts: RequestFacts,
): string[] {
  let connection: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection')
      connection = `${connection ?? ''},${rawHeaders[i + 1]}`;
  }
  const named = connectionTokens(connection);
  const out: string[] = ['host', policy.host, 'x-request-id', facts.requestId];
  let xff: string | undefined;
  let hasProto = false;
  let hasForwardedHost = false;
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
    if (lower === 'x-forwarded-for') {
      xff = xff === undefined ? value : `${xff}, ${value}`;
      continue;
    }
    if (
      policy.ownCredentials &&
      (lower === 'authorization' || lower === 'x-api-key' || lower.startsWith('x-amz-'))
    ) {
      continue;
    }
    if (lower === 'x-forwarded-proto') hasProto = true;
    if (lower === 'x-forwarded-host') hasForwardedHost = true;
    out.push(name, value);
  }
  out.push('x-forwarded-for', xff === undefined ? facts.clientIp : `${xff}, ${facts.clientIp}`);
  // An outer load balancer's X-Forwarded-Proto / -Host describe the original request better than we can.
  if (!hasProto) out.push('x-forwarded-proto', facts.proto);
  if (!hasForwardedHost && clientHost !== undefined) out.push('x-forwarded-host', clientHost);
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
