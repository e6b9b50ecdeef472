// What the access log says of one request: only fields that cannot carry
// credentials (no headers, no query string). Written as JSON text directly,
// in one fixed order, as this runs once per request; absent fields are left
// out, as JSON.stringify would. Values that come from outside (the path, the
// upstream's request id, a trusted proxy's client address) are escaped;
// the request id is already restricted to [\w.:-] (server.ts) or a UUID.
import type { RoutedExchange } from './router.ts';

export function accessLogMembers(exchange: RoutedExchange, status: number, durationMs: number): string {
  const { routeName, namespace, upstreamMs, upstreamError, upstream, upstreamRequestId } = exchange;
  return (
    `,"requestId":"${exchange.requestId}"` +
    (routeName === undefined ? '' : `,"route":${JSON.stringify(routeName)}`) +
    (namespace === undefined ? '' : `,"namespace":${JSON.stringify(namespace)}`) +
    `,"method":${JSON.stringify(exchange.method)},"path":${JSON.stringify(exchange.path)},"status":${status}` +
    `,"durationMs":${round(durationMs)}` +
    (upstreamMs === undefined ? '' : `,"upstreamMs":${round(upstreamMs)}`) +
    (upstreamError === undefined ? '' : `,"upstreamError":"${upstreamError}"`) +
    (upstream === undefined ? '' : `,"upstream":${JSON.stringify(upstream)}`) +
    (upstreamRequestId === undefined ? '' : `,"upstreamRequestId":${JSON.stringify(upstreamRequestId)}`) +
    `,"clientIp":${JSON.stringify(exchange.clientIp)}`
  );
}

/** Milliseconds to the microsecond. */
const round = (ms: number) => Math.round(ms * 1000) / 1000;
