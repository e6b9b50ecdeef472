// Response-side helpers shared by the payload formats: reading and checking
// the function's result. A check that fails throws InvalidResult, which never
// leaves src/dataplane/events: the format's toResponse turns it into a failed
// Result (readResult). Messages describe the problem and never quote the
// function's output (not even a header name).
import { fail, succeed } from '../../api/failure.ts';
import type { EventResponse, ResponseResult } from './types.ts';

export class InvalidResult extends Error {}

/** Runs a format's reader, turning InvalidResult into a failed Result. */
export function readResult(read: () => EventResponse): ResponseResult {
  try {
    return succeed(read());
  } catch (error) {
    if (error instanceof InvalidResult) return fail('InvalidResult', error.message);
    throw error;
  }
}

/** The result payload as JSON, or InvalidResult. */
export function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new InvalidResult('the result is not JSON');
  }
}

/** A REST API or ALB result: a JSON object that must have a statusCode. */
export function parseResultObject(payload: Buffer): { result: Record<string, unknown>; statusCode: number } {
  const result = parseJson(payload);
  if (!isObject(result)) throw new InvalidResult('the result is not a JSON object');
  if (result['statusCode'] === undefined || result['statusCode'] === null) {
    throw new InvalidResult('statusCode is missing');
  }
  return { result, statusCode: statusCodeOf(result['statusCode']) };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An HTTP status for the response: an integer, or a string of three digits as
 * AWS's own Python blueprints return it, from 200 to 599. 1xx codes are not
 * final responses: a client would keep waiting for the real one.
 */
export function statusCodeOf(value: unknown): number {
  const code = typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : value;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 200 || code > 599) {
    throw new InvalidResult('statusCode must be an integer from 200 to 599');
  }
  return code;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A header value the function may give: a string, or a number or boolean (sent as its text); null is no header. */
function headerValue(value: unknown, field: string): string | undefined {
  if (value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new InvalidResult(`${field} values must be strings`);
}

function checkHeader(name: string, value: string, field: string): void {
  if (!TOKEN.test(name)) throw new InvalidResult(`${field} has a name that is not a valid HTTP header name`);
  if (!FIELD_VALUE.test(value))
    throw new InvalidResult(`${field} has a value that is not a valid HTTP header value`);
}

/** `headers`: an object of single values (absent or null: none). */
export function singleHeaders(value: unknown, field = 'headers'): [string, string][] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) throw new InvalidResult(`${field} must be an object`);
  const out: [string, string][] = [];
  for (const [name, raw] of Object.entries(value)) {
    const text = headerValue(raw, field);
    if (text === undefined) continue;
    checkHeader(name, text, field);
    out.push([name, text]);
  }
  return out;
}

/** `multiValueHeaders`: an object of arrays of values (absent or null: none). */
export function multiHeaders(value: unknown, field = 'multiValueHeaders'): [string, string[]][] {
  if (value === undefined || value === null) return [];
  if (!isObject(value)) throw new InvalidResult(`${field} must be an object`);
  const out: [string, string[]][] = [];
  for (const [name, raw] of Object.entries(value)) {
    if (raw === null) continue;
    if (!Array.isArray(raw)) throw new InvalidResult(`${field} values must be arrays of strings`);
    const values: string[] = [];
    for (const item of raw) {
      const text = headerValue(item, field);
      if (text === undefined) continue;
      checkHeader(name, text, field);
      values.push(text);
    }
    out.push([name, values]);
  }
  return out;
}

/**
 * `headers` and `multiValueHeaders` combined, as the REST API documents it:
 * where a name (compared case-insensitively) is in both, only the winner's
 * values are sent. Each header keeps the position of its first appearance.
 */
export function mergeHeaders(
  single: [string, string][],
  multi: [string, string[]][],
  winner: 'single' | 'multi',
): [string, string][] {
  const singleNames = new Set(single.map(([name]) => name.toLowerCase()));
  const multiNames = new Set(multi.map(([name]) => name.toLowerCase()));
  const out: [string, string][] = [];
  for (const [name, value] of single) {
    if (winner === 'multi' && multiNames.has(name.toLowerCase())) continue;
    out.push([name, value]);
  }
  for (const [name, values] of multi) {
    if (winner === 'single' && singleNames.has(name.toLowerCase())) continue;
    for (const value of values) out.push([name, value]);
  }
  return out;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The response body: `body` must be a string (absent or null: empty). With
 * isBase64Encoded it is standard base64 (padding optional, line breaks allowed,
 * as MIME encoders write them), decoded to bytes.
 */
export function bodyOf(body: unknown, isBase64Encoded: unknown): Buffer {
  if (isBase64Encoded !== undefined && isBase64Encoded !== null && typeof isBase64Encoded !== 'boolean') {
    throw new InvalidResult('isBase64Encoded must be a boolean');
  }
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body !== 'string') throw new InvalidResult('body must be a string');
  if (isBase64Encoded !== true) return Buffer.from(body, 'utf8');
  const compact = body.replace(/[\r\n\t ]+/g, '');
  const unpadded = compact.replace(/=+$/, '');
  if (
    !BASE64.test(compact) ||
    unpadded.length % 4 === 1 ||
    (unpadded.length !== compact.length && compact.length % 4 !== 0)
  ) {
    throw new InvalidResult('body is not valid base64 although isBase64Encoded is true');
  }
  return Buffer.from(compact, 'base64');
}
