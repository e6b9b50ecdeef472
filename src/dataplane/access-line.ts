// What the access log says of one request: only fields that cannot carry
// credentials (no headers, no query string). Written as JSON text directly,
// in one fixed order, as this runs once per request; absent fields are left
// out, as JSON.stringify would. Values that come from outside (the path, the
// upstream's request id, a trusted proxy's client address) are escaped;
// the request id is already restricted to [\w.:-] (server.ts) or a UUID, and
// Node's parser takes only the methods it knows, all of them tokens.
import type { RoutedExchange } from './router.ts';

export function accessLogMembers(exchange: RoutedExchange, status: number, durationMs: number): string {
  const { routeName, namespace, upstreamMs, upstreamError, upstream, upstreamRequestId } = exchange;
  return (
    `,"requestId":"${exchange.requestId}"` +
    (routeName === undefined ? '' : `,"route":${JSON.stringify(routeName)}`) +
    (namespace === undefined ? '' : `,"namespace":${JSON.stringify(namespace)}`) +
    `,"method":"${exchange.method}","path":${JSON.stringify(exchange.path)},"status":${status}` +
    `,"durationMs":${milliseconds(durationMs)}` +
    (upstreamMs === undefined ? '' : `,"upstreamMs":${milliseconds(upstreamMs)}`) +
    (upstreamError === undefined ? '' : `,"upstreamError":"${upstreamError}"`) +
    (upstream === undefined ? '' : `,"upstream":${JSON.stringify(upstream)}`) +
    (upstreamRequestId === undefined ? '' : `,"upstreamRequestId":${JSON.stringify(upstreamRequestId)}`) +
    `,"clientIp":${JSON.stringify(exchange.clientIp)}`
  );
}

/**
 * A duration in milliseconds to the microsecond, as `Math.round(ms * 1000) /
 * 1000` prints it, from the integer microseconds: printing a fraction is
 * V8's costliest step of the line (BENCHMARKS.md, issue 13).
 */
export function milliseconds(ms: number): string {
  const us = Math.round(ms * 1000);
  const whole = Math.trunc(us / 1000);
  const fraction = us - whole * 1000;
  if (fraction === 0) return `${whole}`;
  // Three digits, trailing zeros dropped.
  if (fraction % 100 === 0) return `${whole}.${fraction / 100}`;
  if (fraction % 10 === 0) return `${whole}.${fraction < 100 ? '0' : ''}${fraction / 10}`;
  return `${whole}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
}
