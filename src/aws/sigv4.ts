// SigV4 compiled per route. A RouteSigner is built once per route from what
// never changes (host, region, service, the fixed path and query); signing a
// request then builds one canonical request string and costs one SHA-256 and
// one HMAC whose pads are laid out once per day, synchronously. Only the
// headers we set are signed (host, the payload hash, x-amz-date and the
// session token), so nothing a client sends can break or steer the signature.
//
// Paths and queries are taken as they are sent. The canonical URI is the path
// with empty and dot segments removed, encoded once more (AWS's "double
// encoding" for every service but S3: `%2F` is signed as `%252F`). The
// canonical query decodes each escape to its byte and re-encodes the bytes, so
// escapes that are not UTF-8 (`caf%E9`) are signed as AWS sees them.

import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';
import type { AwsCredentialIdentity } from '@smithy/types';
import { perObject } from '../util/per-object.ts';
import { perSecond } from '../util/per-second.ts';

const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_PAYLOAD_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The hex SHA-256 of the body as sent, for x-amz-content-sha256 and the canonical request. */
export function payloadHash(body: Uint8Array | undefined): string {
  return body === undefined || body.length === 0 ? EMPTY_PAYLOAD_HASH : hash('sha256', body, 'hex');
}

export interface SigningTarget {
  /** Host header value, with port when not default. */
  host: string;
  region: string;
  service: string;
  /**
   * The path every request has (a function's invoke path), or the fixed
   * leading part of it (a url target's base path, "" for the root).
   */
  path?: string;
  /** The query every request has, without "?" (a function's `Qualifier=…`). */
  query?: string;
}

/** What a route signs with for one credential set on one day. */
interface KeyedScope {
  credentials: AwsCredentialIdentity;
  shortDate: string;
  signature: ScopeSignature;
  /** The Authorization value up to the signature. */
  authorization: string;
  sessionToken: string | undefined;
  /** The canonical request after the x-amz-date value, up to the payload hash. */
  tail: string;
}

export class RouteSigner {
  readonly #region: string;
  readonly #service: string;
  /** "\nhost:…\nx-amz-content-sha256:", between the canonical query and the payload hash. */
  readonly #hostLine: string;
  readonly #path: string;
  readonly #pathUri: string;
  /** The canonical URI of #path as the start of a longer path, when it can be one (see #canonicalUri). */
  readonly #prefixUri: string | undefined;
  readonly #query: string;
  readonly #canonicalQuery: string;
  #keyed: KeyedScope | undefined;

  constructor(target: SigningTarget) {
    this.#region = target.region;
    this.#service = target.service;
    this.#hostLine = `\nhost:${canonicalHeaderValue(target.host)}\nx-amz-content-sha256:`;
    this.#path = target.path ?? '';
    this.#pathUri = canonicalUri(this.#path);
    const prefixable = isNormal(this.#path, 0) && !this.#path.endsWith('/');
    this.#prefixUri = prefixable ? encode(this.#path, 0, this.#path.length, true) : undefined;
    this.#query = target.query ?? '';
    this.#canonicalQuery = canonicalQuery(this.#query);
  }

  /**
   * Appends x-amz-date, x-amz-content-sha256, x-amz-security-token (for
   * temporary credentials) and authorization to `headers`, a flat list of
   * names and values. `credentials` is the credential source's current()
   * object: keys are derived again only when it or the day changes.
   */
  sign(
    headers: string[],
    credentials: AwsCredentialIdentity,
    method: string,
    path: string,
    query: string,
    payloadHash: string,
    now: number = Date.now(),
  ): void {
    const date = amzDate(now);
    let keyed = this.#keyed;
    if (keyed === undefined || keyed.credentials !== credentials || !date.startsWith(keyed.shortDate)) {
      keyed = this.#keyed = this.#keyedScope(credentials, date.slice(0, 8));
    }
    const canonicalRequest =
      method +
      '\n' +
      this.#canonicalUri(path) +
      '\n' +
      (query === this.#query ? this.#canonicalQuery : canonicalQuery(query)) +
      this.#hostLine +
      payloadHash +
      '\nx-amz-date:' +
      date +
      keyed.tail +
      payloadHash;
    headers.push('x-amz-date', date, 'x-amz-content-sha256', payloadHash);
    if (keyed.sessionToken !== undefined) headers.push('x-amz-security-token', keyed.sessionToken);
    headers.push('authorization', keyed.authorization + keyed.signature.of(date, canonicalRequest));
  }

  #canonicalUri(path: string): string {
    if (path === this.#path) return this.#pathUri;
    // The fixed part followed by "/" and segments that need no normalising: only the rest needs encoding.
    const fixed = this.#path.length;
    if (
      this.#prefixUri !== undefined &&
      path.charCodeAt(fixed) === SLASH &&
      path.startsWith(this.#path) &&
      isNormal(path, fixed)
    ) {
      return this.#prefixUri + encode(path, fixed, path.length, true);
    }
    return canonicalUri(path);
  }

  #keyedScope(credentials: AwsCredentialIdentity, shortDate: string): KeyedScope {
    const scope = `${shortDate}/${this.#region}/${this.#service}/aws4_request`;
    const sessionToken = credentials.sessionToken || undefined; // an empty token is none, as in smithy
    const signedHeaders = `host;x-amz-content-sha256;x-amz-date${sessionToken === undefined ? '' : ';x-amz-security-token'}`;
    const tokenLine =
      sessionToken === undefined ? '' : `\nx-amz-security-token:${canonicalHeaderValue(sessionToken)}`;
    return {
      credentials,
      shortDate,
      signature: new ScopeSignature(signingKey(credentials, shortDate, this.#region, this.#service), scope),
      authorization: `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=`,
      sessionToken,
      tail: `${tokenLine}\n\n${signedHeaders}\n`,
    };
  }
}

const SHA256_BLOCK = 64;
const SHA256_HEX = 64;
/** Where the X-Amz-Date goes in the string to sign: after "AWS4-HMAC-SHA256\n". */
const DATE_AT = SHA256_BLOCK + ALGORITHM.length + 1;

/**
 * The signatures of one scope (day, region, service) with its derived key:
 * HMAC-SHA256 (RFC 2104) laid out for the string to sign, whose only parts
 * that change are the date and the canonical request's hash, both of fixed
 * length. The key's inner and outer pads, the algorithm and the scope are
 * written once; a request writes its two parts in place and costs three
 * one-shot hashes. createHmac costs about twice that per call: it looks the
 * digest up by name and allocates a context every time (BENCHMARKS.md).
 */
export class ScopeSignature {
  /** key ⊕ ipad, then the string to sign: algorithm, date, scope, canonical request hash. */
  readonly #inner: Buffer;
  /** key ⊕ opad, then the inner hash. */
  readonly #outer: Buffer;
  readonly #hashAt: number;

  constructor(key: KeyObject, scope: string) {
    const bytes = key.export();
    const head = `${ALGORITHM}\n${'0'.repeat(16)}\n${scope}\n`;
    this.#hashAt = SHA256_BLOCK + Buffer.byteLength(head);
    // One allocation from Buffer's shared pool for both: a route holds one of these per day.
    const innerLength = this.#hashAt + SHA256_HEX;
    const pads = Buffer.allocUnsafe(innerLength + SHA256_BLOCK + 32);
    this.#inner = pads.subarray(0, innerLength).fill(0x36);
    this.#outer = pads.subarray(innerLength).fill(0x5c);
    // A derived key is one SHA-256 digest: shorter than a block, so used as it is (zero-padded).
    for (let i = 0; i < bytes.length; i++) {
      this.#inner[i]! ^= bytes[i]!;
      this.#outer[i]! ^= bytes[i]!;
    }
    bytes.fill(0);
    this.#inner.write(head, SHA256_BLOCK);
  }

  /** The hex signature of a canonical request signed at `date` (X-Amz-Date, YYYYMMDDTHHMMSSZ). */
  of(date: string, canonicalRequest: string): string {
    const inner = this.#inner;
    // Synchronous from here to the return: no other request can write in between.
    inner.write(date, DATE_AT, 'latin1');
    inner.write(hash('sha256', canonicalRequest, 'hex'), this.#hashAt, 'latin1');
    // 'binary' is latin1: the 32 bytes as a string, which costs less to make than a Buffer.
    this.#outer.write(hash('sha256', inner, 'binary'), SHA256_BLOCK, 'latin1');
    return hash('sha256', this.#outer, 'hex');
  }
}

/** Derived keys per credential set (while it lives), by day, region and service. */
const derivedKeys = perObject((_: AwsCredentialIdentity) => new Map<string, KeyObject>());

/** The signing key of a credential set for a day (YYYYMMDD), region and service, derived once. */
export function signingKey(
  credentials: AwsCredentialIdentity,
  shortDate: string,
  region: string,
  service: string,
): KeyObject {
  const keys = derivedKeys(credentials);
  const name = `${shortDate}/${region}/${service}`;
  let key = keys.get(name);
  if (key === undefined) {
    if (keys.size >= 64) keys.clear(); // earlier days
    const kDate = hmac(`AWS4${credentials.secretAccessKey}`, shortDate);
    key = createSecretKey(hmac(hmac(hmac(kDate, region), service), 'aws4_request'));
    keys.set(name, key);
  }
  return key;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** X-Amz-Date (YYYYMMDDTHHMMSSZ). */
const amzDate = perSecond((time) => `${time.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`);

/** SigV4 header values: trimmed, runs of whitespace as one space. */
function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

const SLASH = 0x2f;
const PERCENT = 0x25;
const DOT = 0x2e;
/** "%XX" for every byte. */
const ESCAPES = Array.from(
  { length: 256 },
  (_, byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
);
/** 1 for the characters SigV4 never encodes (RFC 3986 unreserved). */
const UNRESERVED = new Uint8Array(128);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') {
  UNRESERVED[char.charCodeAt(0)] = 1;
}

/**
 * The canonical URI of a path as sent (for every service but S3): empty, "."
 * and ".." segments removed, then every character but unreserved ones and "/"
 * percent-encoded as UTF-8, "%" included.
 */
export function canonicalUri(path: string): string {
  const normal = isNormal(path, 0) ? path : removeDotAndEmptySegments(path);
  return normal === '' ? '/' : encode(normal, 0, normal.length, true);
}

/** True when path[from…] has no empty, "." or ".." segment (from is 0 or the index of a "/"). */
function isNormal(path: string, from: number): boolean {
  return (
    path.indexOf('//', from) === -1 &&
    path.indexOf('/.', from) === -1 &&
    (from > 0 || path.charCodeAt(0) !== DOT)
  );
}

function removeDotAndEmptySegments(path: string): string {
  const kept: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '..') kept.pop();
    else if (segment !== '' && segment !== '.') kept.push(segment);
  }
  const lead = path.startsWith('/') ? '/' : '';
  const trail = kept.length > 0 && path.endsWith('/') ? '/' : '';
  return lead + kept.join('/') + trail;
}

/** Reused by canonicalQuery, which is synchronous: no array per request. */
const pairs: string[] = [];

/**
 * The canonical query of a raw query string: pairs split on "&" (empty ones
 * skipped) and at their first "=" (a bare key has an empty value), each key
 * and value decoded to bytes and re-encoded, sorted by key then value. "+"
 * is a literal plus; a "%" not followed by two hex digits is a literal "%".
 */
export function canonicalQuery(query: string): string {
  if (query === '') return '';
  pairs.length = 0;
  const length = query.length;
  let eq = -1; // the next "=" at or after start (length when there is none)
  for (let start = 0; start <= length; ) {
    let end = query.indexOf('&', start);
    if (end === -1) end = length;
    if (end > start) {
      if (eq < start) {
        eq = query.indexOf('=', start);
        if (eq === -1) eq = length;
      }
      const keyEnd = Math.min(eq, end);
      pairs.push(`${encode(query, start, keyEnd, false)}=${encode(query, keyEnd + 1, end, false)}`);
    }
    start = end + 1;
  }
  pairs.sort(byKeyThenValue);
  const canonical = pairs.join('&');
  pairs.length = 0;
  return canonical;
}

/** Orders "key=value" pairs by key, then value: "=" ends a key, so it sorts before every character. */
function byKeyThenValue(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return (x === 0x3d ? -1 : x) - (y === 0x3d ? -1 : y);
  }
  return a.length - b.length;
}

/**
 * text[start…end] percent-encoded: unreserved characters (and "/" in paths)
 * kept, others as their UTF-8 bytes (a lone surrogate as U+FFFD). In query
 * parts (`inPath` false) an escape "%XX" is first decoded to its byte.
 */
function encode(text: string, start: number, end: number, inPath: boolean): string {
  let out = '';
  let kept = start; // start of the characters kept as they are since the last escape
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80 && (UNRESERVED[c] === 1 || (inPath && c === SLASH))) continue;
    out += text.slice(kept, i);
    const byte = !inPath && c === PERCENT && i + 2 < end ? escapedByte(text, i) : -1;
    if (byte !== -1) {
      out += byte < 0x80 && UNRESERVED[byte] === 1 ? String.fromCharCode(byte) : ESCAPES[byte];
      i += 2;
    } else if (c < 0x80) {
      out += ESCAPES[c];
    } else {
      let codePoint = c;
      const next = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        codePoint = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        codePoint = 0xfffd;
      }
      out += utf8Escapes(codePoint);
    }
    kept = i + 1;
  }
  if (kept === start) return start === 0 && end === text.length ? text : text.slice(start, end);
  return out + text.slice(kept, end);
}

/** The byte of the escape "%XX" at text[i], or -1 when "%" is not followed by two hex digits. */
function escapedByte(text: string, i: number): number {
  const high = hexValue(text.charCodeAt(i + 1));
  const low = hexValue(text.charCodeAt(i + 2));
  return high === -1 || low === -1 ? -1 : high * 16 + low;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function utf8Escapes(codePoint: number): string {
  const last = escapeOf(0x80 | (codePoint & 0x3f));
  if (codePoint < 0x800) return escapeOf(0xc0 | (codePoint >> 6)) + last;
  const third = escapeOf(0x80 | ((codePoint >> 6) & 0x3f));
  if (codePoint < 0x10000) return escapeOf(0xe0 | (codePoint >> 12)) + third + last;
  return escapeOf(0xf0 | (codePoint >> 18)) + escapeOf(0x80 | ((codePoint >> 12) & 0x3f)) + third + last;
}

/** "%XX" of a byte (0..255). */
const escapeOf = (byte: number): string => ESCAPES[byte]!;
