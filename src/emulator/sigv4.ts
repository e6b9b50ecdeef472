// AWS Signature Version 4, written from the AWS specification on node:crypto
// alone. It is deliberately independent of @smithy/signature-v4 (which the
// proxy signs with) so that the emulator checks the proxy's signatures rather
// than agreeing with them by construction.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS rejects requests whose signing time is further than this from its clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** Headers as received, in order, duplicates kept: node's `rawHeaders` paired up. */
export type HeaderPairs = ReadonlyArray<readonly [string, string]>;

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present for temporary credentials (ASIA…): requests must then carry it as x-amz-security-token. */
  sessionToken?: string;
  expiration?: Date;
}

/** A request as it is (or will be) on the wire. */
export interface WireRequest {
  method: string;
  /** Raw path as on the wire (percent-encoding untouched), without the query. */
  path: string;
  /** Raw query string without the leading `?`. */
  query: string;
  headers: HeaderPairs;
  body: Uint8Array | string;
}

export interface CanonicalUriOptions {
  /** Remove `.`/`..` segments and empty segments (every service but S3). Default true. */
  normalize?: boolean;
  /**
   * URI-encode the path as given (every service but S3). Default true. Applied to a
   * path that is already percent-encoded on the wire, this is AWS's "double encoding".
   */
  encode?: boolean;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** RFC 3986 percent-encoding of the UTF-8 bytes, everything but unreserved characters (and `/` if kept). */
export function uriEncode(input: string | Uint8Array, keepSlash = false): string {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  let out = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if (byte < 0x80 && (UNRESERVED.test(char) || (keepSlash && char === '/'))) out += char;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Percent-decodes to bytes; a `%` not followed by two hex digits stays literal. `+` stays a plus. */
export function percentDecode(input: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const char = input[i]!;
    const hex = input.slice(i + 1, i + 3);
    if (char === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      const codePoint = input.codePointAt(i)!;
      const encoded = Buffer.from(String.fromCodePoint(codePoint), 'utf8');
      bytes.push(...encoded);
      if (codePoint > 0xffff) i++;
    }
  }
  return Buffer.from(bytes);
}

/** Removes dot segments and empty segments, keeping a leading and a trailing slash. */
export function normalizePath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const lead = path.startsWith('/') ? '/' : '';
  const trail = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return lead + segments.join('/') + trail;
}

export function canonicalUri(path: string, options: CanonicalUriOptions = {}): string {
  const { normalize = true, encode = true } = options;
  const normalized = normalize ? normalizePath(path) : path;
  const uri = encode ? uriEncode(normalized, true) : normalized;
  return uri === '' ? '/' : uri;
}

/** Each key and value is decoded then strictly re-encoded; pairs sorted by key, then value. */
export function canonicalQueryString(rawQuery: string): string {
  if (rawQuery === '') return '';
  const pairs = rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const key = eq === -1 ? part : part.slice(0, eq);
      const value = eq === -1 ? '' : part.slice(eq + 1);
      return [uriEncode(percentDecode(key)), uriEncode(percentDecode(value))] as const;
    });
  pairs.sort(([ka, va], [kb, vb]) => compare(ka, kb) || compare(va, vb));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Lower-cased name → canonical value: trimmed, whitespace runs collapsed, repeats joined by `,` in order. */
export function canonicalHeaderValues(headers: HeaderPairs): Map<string, string> {
  const values = new Map<string, string>();
  for (const [name, raw] of headers) {
    const key = name.toLowerCase();
    const value = raw.trim().replace(/\s+/g, ' ');
    const previous = values.get(key);
    values.set(key, previous === undefined ? value : `${previous},${value}`);
  }
  return values;
}

/** The sorted, de-duplicated, lower-cased list joined by `;`. */
export function signedHeadersList(names: Iterable<string>): string {
  return [...new Set([...names].map((name) => name.toLowerCase()))].sort(compare).join(';');
}

/** The canonical header block (one `name:value` per line, no trailing newline) for the signed headers. */
export function canonicalHeaders(headers: HeaderPairs, signedHeaders: string): string {
  const values = canonicalHeaderValues(headers);
  return signedHeaders
    .split(';')
    .map((name) => `${name}:${values.get(name) ?? ''}`)
    .join('\n');
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export const payloadHash = sha256Hex;

export interface CanonicalRequestParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  canonicalHeaders: string;
  signedHeaders: string;
  payloadHash: string;
}

export function canonicalRequest(parts: CanonicalRequestParts): string {
  return [
    parts.method,
    parts.canonicalUri,
    parts.canonicalQuery,
    `${parts.canonicalHeaders}\n`,
    parts.signedHeaders,
    parts.payloadHash,
  ].join('\n');
}

export function credentialScope(date: string, region: string, service: string): string {
  return `${date}/${region}/${service}/aws4_request`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

export function signature(key: Uint8Array, toSign: string): string {
  return createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
}

function hmac(key: string | Uint8Array, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** `YYYYMMDDTHHMMSSZ`, the ISO 8601 basic format SigV4 uses. */
export function toAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Every intermediate of a signature, so tests can compare each against AWS's suite. */
export interface SignatureComputation {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

export interface ComputeOptions extends CanonicalUriOptions {
  secretAccessKey: string;
  amzDate: string;
  region: string;
  service: string;
  signedHeaders: string;
}

export function computeSignature(request: WireRequest, options: ComputeOptions): SignatureComputation {
  const canonical = canonicalRequest({
    method: request.method,
    canonicalUri: canonicalUri(request.path, options),
    canonicalQuery: canonicalQueryString(request.query),
    canonicalHeaders: canonicalHeaders(request.headers, options.signedHeaders),
    signedHeaders: options.signedHeaders,
    payloadHash: payloadHash(request.body),
  });
  const date = options.amzDate.slice(0, 8);
  const toSign = stringToSign(
    options.amzDate,
    credentialScope(date, options.region, options.service),
    canonical,
  );
  const key = signingKey(options.secretAccessKey, date, options.region, options.service);
  return { canonicalRequest: canonical, stringToSign: toSign, signature: signature(key, toSign) };
}

export interface SignOptions extends CanonicalUriOptions {
  credentials: AwsCredentials;
  region: string;
  service: string;
  /** Signing time; default now. */
  date?: Date;
}

/**
 * Signs a request the way an SDK does: adds `x-amz-date` and (for temporary
 * credentials) `x-amz-security-token`, signs every header present, and returns
 * the headers to send, `authorization` last.
 */
export function sign(request: WireRequest, options: SignOptions): [string, string][] {
  const amzDate = toAmzDate(options.date ?? new Date());
  const headers: [string, string][] = request.headers
    .filter(([name]) => !['authorization', 'x-amz-date'].includes(name.toLowerCase()))
    .map(([name, value]) => [name, value]);
  headers.push(['x-amz-date', amzDate]);
  if (options.credentials.sessionToken)
    headers.push(['x-amz-security-token', options.credentials.sessionToken]);
  const signedHeaders = signedHeadersList(headers.map(([name]) => name));
  const { signature: sig } = computeSignature(
    { ...request, headers },
    { ...options, secretAccessKey: options.credentials.secretAccessKey, amzDate, signedHeaders },
  );
  const scope = credentialScope(amzDate.slice(0, 8), options.region, options.service);
  headers.push([
    'authorization',
    `${ALGORITHM} Credential=${options.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${sig}`,
  ]);
  return headers;
}

export interface ParsedAuthorization {
  credential?: string;
  signedHeaders?: string;
  signature?: string;
}

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`; another scheme yields no parameters. */
export function parseAuthorization(header: string): ParsedAuthorization {
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${ALGORITHM} `)) return {};
  const parsed: ParsedAuthorization = {};
  for (const part of trimmed.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 'Credential') parsed.credential = value;
    else if (name === 'SignedHeaders') parsed.signedHeaders = value;
    else if (name === 'Signature') parsed.signature = value;
  }
  return parsed;
}

/**
 * Which error vocabulary to answer in: JSON services (Lambda, API Gateway) say
 * `InvalidSignatureException`, query services (STS) say `SignatureDoesNotMatch`.
 */
export type ErrorStyle = 'json' | 'query';

export type VerifyFailureReason =
  | 'missing-authentication'
  | 'incomplete-signature'
  | 'credential-scope'
  | 'clock-skew'
  | 'unknown-access-key'
  | 'invalid-security-token'
  | 'expired-token'
  | 'signature-mismatch';

export type VerifyResult =
  | { ok: true; accessKeyId: string }
  | {
      ok: false;
      reason: VerifyFailureReason;
      status: number;
      code: string;
      message: string;
      /** The server's side of a signature mismatch (API Gateway puts it in its message). */
      canonicalRequest?: string;
      stringToSign?: string;
    };

export type VerifyFailure = Extract<VerifyResult, { ok: false }>;

export interface VerifyOptions extends CanonicalUriOptions {
  region: string;
  service: string;
  /** Known keys, or a lookup by access key id. */
  credentials: readonly AwsCredentials[] | ((accessKeyId: string) => AwsCredentials | undefined);
  /** The verifier's clock; default now. */
  now?: Date;
  errorStyle?: ErrorStyle;
}

const ERROR_CODES: Record<VerifyFailureReason, Record<ErrorStyle, string>> = {
  'missing-authentication': {
    json: 'MissingAuthenticationTokenException',
    query: 'MissingAuthenticationToken',
  },
  'incomplete-signature': { json: 'IncompleteSignatureException', query: 'IncompleteSignature' },
  'credential-scope': { json: 'InvalidSignatureException', query: 'SignatureDoesNotMatch' },
  'clock-skew': { json: 'InvalidSignatureException', query: 'SignatureDoesNotMatch' },
  'unknown-access-key': { json: 'UnrecognizedClientException', query: 'InvalidClientTokenId' },
  'invalid-security-token': { json: 'UnrecognizedClientException', query: 'InvalidClientTokenId' },
  'expired-token': { json: 'ExpiredTokenException', query: 'ExpiredToken' },
  'signature-mismatch': { json: 'InvalidSignatureException', query: 'SignatureDoesNotMatch' },
};

export const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
export const INVALID_TOKEN_MESSAGE = 'The security token included in the request is invalid.';
export const EXPIRED_TOKEN_MESSAGE = 'The security token included in the request is expired';

/** Verifies a received request's `Authorization` header signature, answering as AWS would. */
export function verify(request: WireRequest, options: VerifyOptions): VerifyResult {
  const style = options.errorStyle ?? 'json';
  const fail = (
    reason: VerifyFailureReason,
    message: string,
    extra: Partial<VerifyFailure> = {},
  ): VerifyResult => ({
    ok: false,
    reason,
    // Query services answer an incomplete signature with 400, everything else is 403.
    status: reason === 'incomplete-signature' && style === 'query' ? 400 : 403,
    code: ERROR_CODES[reason][style],
    message,
    ...extra,
  });
  const values = canonicalHeaderValues(request.headers);

  const authorization = values.get('authorization');
  if (authorization === undefined) {
    return fail(
      'missing-authentication',
      style === 'json' ? 'Missing Authentication Token' : 'Request is missing Authentication Token',
    );
  }
  const auth = parseAuthorization(authorization);
  const dateHeader = values.has('x-amz-date') ? 'x-amz-date' : values.has('date') ? 'date' : undefined;
  const missing = [
    auth.credential === undefined && "Authorization header requires 'Credential' parameter.",
    auth.signature === undefined && "Authorization header requires 'Signature' parameter.",
    auth.signedHeaders === undefined && "Authorization header requires 'SignedHeaders' parameter.",
    dateHeader === undefined &&
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
  ].filter((text) => text !== false);
  if (missing.length > 0) {
    return fail('incomplete-signature', `${missing.join(' ')} Authorization=${authorization}`);
  }
  const credential = auth.credential!;
  const signedHeaders = auth.signedHeaders!;
  const signedNames = signedHeaders.split(';');
  if (!signedNames.includes('host')) {
    return fail(
      'incomplete-signature',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
  }
  if (!signedNames.includes(dateHeader!)) {
    const shown = dateHeader === 'date' ? 'Date' : 'X-Amz-Date';
    return fail('incomplete-signature', `'${shown}' must be a 'SignedHeader' in the AWS Authorization.`);
  }

  const rawDate = values.get(dateHeader!)!;
  const requestDate = dateHeader === 'x-amz-date' ? parseAmzDate(rawDate) : parseHttpDate(rawDate);
  if (requestDate === undefined) {
    return fail(
      'incomplete-signature',
      `Date must be in ISO-8601 'basic format'. Got '${rawDate}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  }
  const amzDate = toAmzDate(requestDate);

  const [accessKeyId = '', scopeDate, scopeRegion, scopeService, terminator, ...extra] =
    credential.split('/');
  if (terminator !== 'aws4_request' || extra.length > 0) {
    return fail(
      'credential-scope',
      `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator ?? ''}'.`,
    );
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    return fail(
      'credential-scope',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ` +
        `'${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  if (scopeRegion !== options.region) {
    return fail('credential-scope', 'Credential should be scoped to a valid region.');
  }
  if (scopeService !== options.service) {
    return fail('credential-scope', `Credential should be scoped to correct service: '${options.service}'.`);
  }

  const now = options.now ?? new Date();
  const skew = requestDate.getTime() - now.getTime();
  if (skew < -MAX_CLOCK_SKEW_MS) {
    const earliest = toAmzDate(new Date(now.getTime() - MAX_CLOCK_SKEW_MS));
    return fail(
      'clock-skew',
      `Signature expired: ${amzDate} is now earlier than ${earliest} (${toAmzDate(now)} - 15 min.)`,
    );
  }
  if (skew > MAX_CLOCK_SKEW_MS) {
    const latest = toAmzDate(new Date(now.getTime() + MAX_CLOCK_SKEW_MS));
    return fail(
      'clock-skew',
      `Signature not yet current: ${amzDate} is still later than ${latest} (${toAmzDate(now)} + 15 min.)`,
    );
  }

  const known =
    typeof options.credentials === 'function'
      ? options.credentials(accessKeyId)
      : options.credentials.find((c) => c.accessKeyId === accessKeyId);
  if (known === undefined) return fail('unknown-access-key', INVALID_TOKEN_MESSAGE);
  // The token need not be signed (SDKs may add it after signing), but must match.
  const token = values.get('x-amz-security-token');
  if (token !== known.sessionToken) return fail('invalid-security-token', INVALID_TOKEN_MESSAGE);
  if (known.expiration !== undefined && known.expiration.getTime() <= now.getTime()) {
    return fail('expired-token', EXPIRED_TOKEN_MESSAGE);
  }

  const computed = computeSignature(request, {
    ...options,
    secretAccessKey: known.secretAccessKey,
    amzDate,
    region: scopeRegion,
    service: scopeService,
    signedHeaders,
  });
  if (!constantTimeEqual(computed.signature, auth.signature!)) {
    return fail('signature-mismatch', SIGNATURE_MISMATCH_MESSAGE, {
      canonicalRequest: computed.canonicalRequest,
      stringToSign: computed.stringToSign,
    });
  }
  return { ok: true, accessKeyId };
}

function parseHttpDate(value: string): Date | undefined {
  const basic = parseAmzDate(value);
  if (basic) return basic;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function constantTimeEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  // timingSafeEqual needs equal lengths; comparing `a` with itself keeps the time constant.
  return timingSafeEqual(a, a.length === b.length ? b : a) && a.length === b.length;
}
