// Request-side helpers shared by the payload formats: header grouping, query
// parsing, percent-decoding, body encoding, time stamps and the API Gateway
// resource a LambdaRoute stands for.
import { isUtf8 } from 'node:buffer';
import { perSecond } from '../../util/per-second.ts';
import type { EventRequest, EventRoute } from './types.ts';

export type Headers = EventRequest['headers'];

/**
 * Header values grouped by name (case-insensitively), in order of first appearance.
 * The name is lower-cased (HTTP API, ALB) or kept as first spelled by the client (REST API).
 */
export function groupHeaders(headers: Headers, lowerCase: boolean): [string, string[]][] {
  const groups = new Map<string, [string, string[]]>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    const group = groups.get(key);
    if (group) group[1].push(value);
    else groups.set(key, [lowerCase ? key : name, [value]]);
  }
  return [...groups.values()];
}

/** The first value of a header, by case-insensitive name. */
export function firstHeader(headers: Headers, name: string): string | undefined {
  for (const [key, value] of headers) if (key.toLowerCase() === name) return value;
  return undefined;
}

/**
 * Query parameters in order of first appearance, each with all its values.
 * `decode` percent-decodes keys and values and reads "+" as a space, as API
 * Gateway does; ALB passes them exactly as sent. Empty segments ("a=1&&b=2")
 * are skipped; "flag" without "=" has the value "".
 */
export function parseQuery(rawQuery: string, decode: boolean): [string, string[]][] {
  const params = new Map<string, string[]>();
  for (const segment of rawQuery.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    let key = eq === -1 ? segment : segment.slice(0, eq);
    let value = eq === -1 ? '' : segment.slice(eq + 1);
    if (decode) {
      key = percentDecode(key, true);
      value = percentDecode(value, true);
    }
    if (key === '') continue;
    const values = params.get(key);
    if (values) values.push(value);
    else params.set(key, [value]);
  }
  return [...params];
}

/**
 * Percent-decodes as UTF-8. Malformed escapes ("%zz", a lone "%") stay as they
 * are and byte sequences that are not UTF-8 become U+FFFD, so any input decodes.
 */
export function percentDecode(text: string, plusAsSpace: boolean): string {
  if (!text.includes('%') && !(plusAsSpace && text.includes('+'))) return text;
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0x25 /* % */ && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[n++] = (hexValue(bytes[i + 1]!) << 4) | hexValue(bytes[i + 2]!);
      i += 2;
    } else {
      out[n++] = plusAsSpace && byte === 0x2b /* + */ ? 0x20 : byte;
    }
  }
  return out.toString('utf8', 0, n);
}

function isHex(byte: number | undefined): boolean {
  return (
    byte !== undefined &&
    ((byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 70) || (byte >= 97 && byte <= 102))
  );
}

function hexValue(byte: number): number {
  return byte <= 57 ? byte - 48 : (byte | 0x20) - 87;
}

/** The media type of a Content-Type value, lower-cased, without parameters. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/**
 * Text for API Gateway (HTTP API 2.0 and REST 1.0). AWS documents no list for
 * them: a function that honours isBase64Encoded works either way, one that
 * assumes text only works with text, so every textual type is text.
 */
export function isApiTextType(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript' ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/graphql'
  );
}

/** Text for ALB: exactly the list in "Lambda functions as targets"; everything else is base64. */
export function isAlbTextType(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/javascript' ||
    type === 'application/xml'
  );
}

/**
 * The body as the event carries it: UTF-8 text for a text media type, base64
 * otherwise (also without a Content-Type, and for "text" that is not valid
 * UTF-8, which a JSON string could not carry losslessly).
 */
export function encodeBody(
  body: Buffer,
  contentType: string | undefined,
  isText: (type: string) => boolean,
): { body: string; isBase64Encoded: boolean } {
  if (isText(mediaType(contentType)) && isUtf8(body))
    return { body: body.toString('utf8'), isBase64Encoded: false };
  return { body: body.toString('base64'), isBase64Encoded: true };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number) => String(n).padStart(2, '0');
const formatRequestTime = perSecond(
  (time) =>
    `${two(time.getUTCDate())}/${MONTHS[time.getUTCMonth()]}/${time.getUTCFullYear()}:` +
    `${two(time.getUTCHours())}:${two(time.getUTCMinutes())}:${two(time.getUTCSeconds())} +0000`,
);

/** API Gateway's request time, "21/Apr/2020:15:08:21 +0000" (UTC). */
export function requestTime(time: Date): string {
  return formatRequestTime(time.getTime());
}

/** The Host header without its port ("" without a Host header). */
export function domainName(headers: Headers): string {
  const host = firstHeader(headers, 'host')?.trim() ?? '';
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The first label of the domain, as API Gateway's domainPrefix. */
export function domainPrefix(domain: string): string {
  if (domain.startsWith('[')) return domain;
  const dot = domain.indexOf('.');
  return dot === -1 ? domain : domain.slice(0, dot);
}

/** The API Gateway resource a LambdaRoute stands for, for this request. */
export interface Resource {
  /** "/path" for an Exact route (or a Prefix route's own path), "/path/{proxy+}" below a prefix. */
  resource: string;
  /** The rest of the raw path below the prefix, still percent-encoded; undefined at the prefix itself. */
  proxy: string | undefined;
  /** A Prefix route on "/": the whole API, HTTP API's $default route. */
  catchAll: boolean;
}

/**
 * An Exact route is the API Gateway resource "/path". A Prefix route is the
 * pair "/path" + "/path/{proxy+}" (API Gateway's greedy variable needs at least
 * one segment), so "/path" and "/path/" map to the first, deeper paths to the
 * second with the rest as the proxy parameter.
 */
export function resourceFor(route: EventRoute, rawPath: string): Resource {
  if (route.pathType === 'Exact') return { resource: route.path, proxy: undefined, catchAll: false };
  const base = route.path.endsWith('/') ? route.path.slice(0, -1) : route.path;
  let rest = rawPath.slice(Math.min(Math.max(route.prefixEnd, 0), rawPath.length));
  if (rest.startsWith('/')) rest = rest.slice(1);
  const catchAll = base === '';
  if (rest === '') return { resource: route.path, proxy: undefined, catchAll };
  return { resource: `${base}/{proxy+}`, proxy: rest, catchAll };
}

/** API Gateway's method for the route: ANY unless the route names its methods. */
export function routeMethod(route: EventRoute, method: string): string {
  return route.methods && route.methods.length > 0 ? method : 'ANY';
}
