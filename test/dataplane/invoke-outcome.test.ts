// The Invoke API's answer to what the client gets (invoke-outcome.ts), row by
// row: every row of the README's "Error mapping" table, and what a result
// may not do to the response (framing and hop-by-hop headers, the proxy's
// own ids, a body where HTTP has none, a status outside 200-599, a payload
// over Lambda's limit). invoke.test.ts and upstream-results.test.ts check the
// same through real sockets and the emulator.
import { describe, expect, it } from 'vitest';
import type { InvocationType } from '../../src/api/types.ts';
import type { UpstreamFailure } from '../../src/dataplane/errors.ts';
import { classifyUpstreamError, ERROR_STATUS } from '../../src/dataplane/errors.ts';
import { payloadCodecs } from '../../src/dataplane/events/index.ts';
import {
  ASYNC_PAYLOAD_LIMIT,
  eventTooLarge,
  type InvokeAnswer,
  type InvokeOutcome,
  invokeOutcome,
  RESPONSE_LIMIT,
  SYNC_PAYLOAD_LIMIT,
} from '../../src/dataplane/invoke-outcome.ts';
import { readmeTable } from '../support/readme.ts';

const AWS_ID = '2f5c8a3e-6f1d-4c1b-9a8e-0d7c6b5a4f3e';
const REQUEST_ID = 'req-1';

/** What a case is checked on: the status, the error or the response, headers by lower-cased name. */
interface Seen {
  status: number;
  statusMessage?: string | undefined;
  error?: string;
  upstreamError?: string | undefined;
  message?: string;
  headers: Record<string, string[]>;
  /** undefined: no body is sent. */
  body?: string | undefined;
  functionFound?: boolean | undefined;
}

function grouped(pairs: [string, string][]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    out[key] = [...(out[key] ?? []), value];
  }
  return out;
}

function seen(outcome: InvokeOutcome | UpstreamFailure | undefined): Seen | undefined {
  if (outcome === undefined) return undefined;
  if ('kind' in outcome) {
    return {
      status: ERROR_STATUS[outcome.code],
      error: outcome.code,
      upstreamError: outcome.kind,
      headers: {},
    };
  }
  if (!outcome.ok) {
    return {
      status: ERROR_STATUS[outcome.error],
      error: outcome.error,
      upstreamError: outcome.upstreamError,
      message: outcome.message,
      headers: grouped(Object.entries(outcome.headers)),
      functionFound: outcome.functionFound,
    };
  }
  const pairs: [string, string][] = [];
  for (let i = 0; i < outcome.headers.length; i += 2)
    pairs.push([outcome.headers[i]!, outcome.headers[i + 1]!]);
  return {
    status: outcome.status,
    statusMessage: outcome.statusMessage,
    headers: grouped(pairs),
    body: outcome.body?.toString('latin1'),
    functionFound: outcome.functionFound,
  };
}

type Format = '2.0' | '1.0' | 'alb';

/** Maps an answer for a route with `format`, for a request with `method`. */
function map(answer: InvokeAnswer, format: Format = '2.0', method = 'GET'): Seen | undefined {
  const fn = { functionName: 'orders', formatName: format, format: payloadCodecs[format] };
  return seen(invokeOutcome(answer, fn, method, REQUEST_ID));
}

/** A 200 from the Invoke API with the function's result. */
function result(value: unknown, headers: Record<string, string> = {}): InvokeAnswer {
  const payload = typeof value === 'string' ? value : JSON.stringify(value);
  return { status: 200, headers: { 'x-amzn-requestid': AWS_ID, ...headers }, payload: Buffer.from(payload) };
}

const SHELL = JSON.stringify({ statusCode: 200, body: '' });

/** A valid 2.0 result of exactly `size` bytes. */
function ofSize(size: number): InvokeAnswer {
  const payload = JSON.stringify({ statusCode: 200, body: 'x'.repeat(size - SHELL.length) });
  return { status: 200, headers: {}, payload: Buffer.from(payload) };
}

/** An Invoke API error, as Lambda sends it (X-Amzn-ErrorType with its namespace suffix). */
function awsError(
  status: number,
  type: string | undefined,
  headers: Record<string, string> = {},
): InvokeAnswer {
  return {
    status,
    headers: {
      'x-amzn-requestid': AWS_ID,
      ...(type && { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.lambda/` }),
      ...headers,
    },
    payload: Buffer.from(JSON.stringify({ Type: 'User', message: 'details of the error' })),
  };
}

/** The ids every response carries, and its length. */
const ids = { 'x-amzn-requestid': [AWS_ID], 'x-request-id': [REQUEST_ID] };

/** Headers no result may set as they are: hop-by-hop, framing, and the proxy's own ids. */
const HOSTILE = {
  Trailer: 'x-checksum',
  'Transfer-Encoding': 'chunked',
  'Content-Length': '1',
  Connection: 'close',
  'Keep-Alive': 'timeout=1',
  Upgrade: 'h2c',
  TE: 'trailers',
  'Proxy-Connection': 'keep-alive',
  'X-Request-Id': 'the-function-s-own',
  'x-amzn-RequestId': 'the-function-s-own',
  'x-kept': 'yes',
};
const KEPT = { 'x-kept': ['yes'], ...ids, 'content-length': ['5'] };

const functionFailure = (kind: string, errorType: string, errorMessage: string) =>
  result(
    { errorType, errorMessage, stackTrace: ['at secret (/var/task/index.js:1:1)'] },
    { 'x-amz-function-error': kind },
  );

interface Case {
  /** The README "Error mapping" row it stands for (that row's first cell), or "result validity". */
  row: string;
  name: string;
  outcome: () => Seen | undefined;
  /** The response has exactly the expected headers, no others. */
  exactHeaders?: true;
  /** undefined: nothing to answer (the event fits). */
  expected: (Omit<Partial<Seen>, 'headers'> & { headers?: Record<string, unknown> }) | undefined;
}

const VALID = 'result valid for the payload format';
const NOT_VALID =
  "result not valid for the format (not JSON, bad `statusCode`, bad base64, …), or over Lambda's 6 MB";
const VALIDITY = 'result validity';

const cases: Case[] = [
  {
    row: VALID,
    exactHeaders: true,
    name: '2.0: status, headers, cookies and body',
    outcome: () =>
      map(
        result({
          statusCode: 201,
          headers: { 'content-type': 'text/plain' },
          cookies: ['a=1', 'b=2'],
          body: 'hello',
        }),
      ),
    expected: {
      status: 201,
      body: 'hello',
      headers: {
        'content-type': ['text/plain'],
        'set-cookie': ['a=1', 'b=2'],
        ...ids,
        'content-length': ['5'],
      },
      functionFound: true,
    },
  },
  {
    row: VALID,
    name: '2.0 without statusCode: 200, application/json, the result as body',
    outcome: () => map(result({ hello: 'world' })),
    expected: { status: 200, body: '{"hello":"world"}', headers: { 'content-type': ['application/json'] } },
  },
  {
    row: VALID,
    name: '1.0: multiValueHeaders and a base64 body',
    outcome: () =>
      map(
        result({
          statusCode: '200',
          multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
          body: Buffer.from([0, 1, 2, 255]).toString('base64'),
          isBase64Encoded: true,
        }),
        '1.0',
      ),
    expected: {
      status: 200,
      body: '\x00\x01\x02\xff',
      headers: { 'set-cookie': ['a=1', 'b=2'], 'content-length': ['4'] },
    },
  },
  {
    row: VALID,
    name: 'alb: statusDescription is the reason phrase',
    outcome: () => map(result({ statusCode: 404, statusDescription: '404 Gone Fishing', body: 'no' }), 'alb'),
    expected: { status: 404, statusMessage: 'Gone Fishing', body: 'no' },
  },
  {
    row: '`invocationType: Event` accepted',
    exactHeaders: true,
    name: '202, no body',
    outcome: () =>
      map({ status: 202, headers: { 'x-amzn-requestid': AWS_ID }, payload: Buffer.alloc(0) }, '2.0', 'POST'),
    expected: {
      status: 202,
      body: undefined,
      headers: { ...ids, 'content-length': ['0'] },
      functionFound: true,
    },
  },
  ...(['Unhandled', 'Handled'] as const).map(
    (kind): Case => ({
      row: '`X-Amz-Function-Error: Unhandled` or `Handled`',
      name: `${kind}: a generic message with the AWS request id, never the error or its stack trace`,
      outcome: () => map(functionFailure(kind, 'Error', 'secret internal detail')),
      expected: {
        status: 502,
        error: 'function_error',
        upstreamError: 'function_error',
        message: `the Lambda function failed (${kind})`,
        headers: { 'x-amzn-requestid': [AWS_ID] },
        functionFound: true,
      },
    }),
  ),
  {
    row: 'function timed out (`Sandbox.Timedout`)',
    name: 'errorType Sandbox.Timedout',
    outcome: () =>
      map(
        functionFailure(
          'Unhandled',
          'Sandbox.Timedout',
          'RequestId: x Error: Task timed out after 3.00 seconds',
        ),
      ),
    expected: {
      status: 504,
      error: 'function_timeout',
      upstreamError: 'function_timeout',
      functionFound: true,
    },
  },
  {
    row: 'function timed out (`Sandbox.Timedout`)',
    name: 'only the message says "Task timed out"',
    outcome: () => map(functionFailure('Unhandled', 'Runtime.Unknown', 'Task timed out after 1.00 seconds')),
    expected: { status: 504, error: 'function_timeout' },
  },
  ...['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].map(
    (code): Case => ({
      row: 'route `timeout` exceeded waiting for Lambda',
      name: code,
      outcome: () => seen(classifyUpstreamError(Object.assign(new Error('timeout'), { code }), 3000)),
      expected: { status: 504, error: 'upstream_timeout', upstreamError: 'timeout' },
    }),
  ),
  {
    row: '`TooManyRequestsException` (429)',
    name: "Lambda's Retry-After is passed on",
    outcome: () => map(awsError(429, 'TooManyRequestsException', { 'retry-after': '7' })),
    expected: {
      status: 429,
      error: 'throttled',
      upstreamError: 'throttled',
      headers: { 'retry-after': ['7'], 'x-amzn-requestid': [AWS_ID] },
      functionFound: undefined,
    },
  },
  {
    row: '`TooManyRequestsException` (429)',
    name: 'without Retry-After from Lambda: 1 second',
    outcome: () => map(awsError(429, 'TooManyRequestsException')),
    expected: { status: 429, headers: { 'retry-after': ['1'] } },
  },
  {
    row: '`ResourceNotFoundException`',
    name: 'the route learns that the function does not exist',
    outcome: () => map(awsError(404, 'ResourceNotFoundException')),
    expected: {
      status: 502,
      error: 'function_not_found',
      upstreamError: 'function_not_found',
      message: 'Lambda function orders not found',
      functionFound: false,
    },
  },
  ...(
    [
      ['not JSON', 'not json at all', '2.0', 'the result is not JSON'],
      ['a statusCode that is not a number', { statusCode: 'two hundred' }, '2.0', 'statusCode must be'],
      ['1.0 without statusCode', { body: 'x' }, '1.0', 'statusCode is missing'],
      ['bad base64', { statusCode: 200, body: '@@@', isBase64Encoded: true }, '2.0', 'not valid base64'],
      [
        'a header value that is not a string',
        { statusCode: 200, headers: { a: { b: 1 } } },
        '2.0',
        'headers values',
      ],
      [
        'a header name HTTP does not allow',
        { statusCode: 200, headers: { 'a b': '1' } },
        '2.0',
        'valid HTTP header name',
      ],
    ] as const
  ).map(
    ([name, value, format, reason]): Case => ({
      row: NOT_VALID,
      name,
      outcome: () => map(result(value), format),
      expected: {
        status: 502,
        error: 'bad_upstream_response',
        upstreamError: 'bad_response',
        message: expect.stringContaining(reason),
        headers: { 'x-amzn-requestid': [AWS_ID] },
        functionFound: true,
      },
    }),
  ),
  {
    row: NOT_VALID,
    name: `an answer over ${RESPONSE_LIMIT} bytes`,
    outcome: () => map({ status: 200, headers: {}, payload: Buffer.alloc(RESPONSE_LIMIT + 1, 0x20) }),
    expected: {
      status: 502,
      error: 'bad_upstream_response',
      upstreamError: 'bad_response',
      message: `the Invoke API answered more than ${RESPONSE_LIMIT} bytes, Lambda's limit`,
      functionFound: undefined,
    },
  },
  ...(
    [
      ['RequestResponse', SYNC_PAYLOAD_LIMIT + 1],
      ['Event', ASYNC_PAYLOAD_LIMIT + 1],
    ] as [InvocationType, number][]
  ).map(
    ([type, size]): Case => ({
      row: 'request event over 6 MB (1 MB for `Event`)',
      name: `${type}: an event of ${size} bytes`,
      outcome: () => seen(eventTooLarge(size, type)),
      expected: { status: 413, error: 'payload_too_large', upstreamError: undefined },
    }),
  ),
  {
    row: 'request event over 6 MB (1 MB for `Event`)',
    name: 'RequestResponse: an event over 1 MB but within 6 MB is sent',
    outcome: () => seen(eventTooLarge(ASYNC_PAYLOAD_LIMIT + 1, 'RequestResponse')),
    expected: undefined,
  },
  {
    row: 'request event over 6 MB (1 MB for `Event`)',
    name: 'Lambda refuses the request as too large (413)',
    outcome: () => map(awsError(413, 'RequestTooLargeException')),
    expected: { status: 413, error: 'payload_too_large', upstreamError: undefined, functionFound: undefined },
  },
  ...(
    [
      [403, 'AccessDeniedException', 'the Lambda Invoke API answered 403 AccessDeniedException'],
      [500, 'ServiceException', 'the Lambda Invoke API answered 500 ServiceException'],
      [404, 'UnknownOperationException', 'the Lambda Invoke API answered 404 UnknownOperationException'],
      [503, undefined, 'the Lambda Invoke API answered 503'],
    ] as const
  ).map(
    ([status, type, message]): Case => ({
      row: 'any other Invoke API error (403 `AccessDeniedException`, 5xx)',
      name: `${status} ${type ?? '(no error type)'}`,
      outcome: () => map(awsError(status, type)),
      expected: {
        status: 502,
        error: 'invoke_failed',
        upstreamError: 'invoke_failed',
        message,
        headers: { 'x-amzn-requestid': [AWS_ID] },
        functionFound: undefined,
      },
    }),
  ),

  // What a valid result may not do to the response.
  {
    row: VALIDITY,
    exactHeaders: true,
    name: '2.0 headers: hop-by-hop, framing and id headers are dropped; our ids and length are sent once',
    outcome: () => map(result({ statusCode: 200, headers: HOSTILE, body: 'hello' })),
    expected: { status: 200, body: 'hello', headers: KEPT },
  },
  {
    row: VALIDITY,
    exactHeaders: true,
    name: '1.0 multiValueHeaders: the same',
    outcome: () =>
      map(
        result({
          statusCode: 200,
          multiValueHeaders: Object.fromEntries(Object.entries(HOSTILE).map(([k, v]) => [k, [v]])),
          body: 'hello',
        }),
        '1.0',
      ),
    expected: { status: 200, body: 'hello', headers: KEPT },
  },
  {
    row: VALIDITY,
    exactHeaders: true,
    name: 'alb: the same',
    outcome: () => map(result({ statusCode: 200, headers: HOSTILE, body: 'hello' }), 'alb'),
    expected: { status: 200, body: 'hello', headers: KEPT },
  },
  ...([204, 304] as const).map(
    (status): Case => ({
      row: VALIDITY,
      exactHeaders: true,
      name: `a ${status} is sent without its body or a Content-Length`,
      outcome: () => map(result({ statusCode: status, headers: { etag: '"v1"' }, body: 'hello' })),
      expected: { status, body: undefined, headers: { etag: ['"v1"'], ...ids } },
    }),
  ),
  {
    row: VALIDITY,
    name: `an answer of exactly ${RESPONSE_LIMIT} bytes is within Lambda's limit`,
    outcome: () => map(ofSize(RESPONSE_LIMIT)),
    expected: { status: 200, headers: { 'content-length': [String(RESPONSE_LIMIT - SHELL.length)] } },
  },
  {
    row: VALIDITY,
    name: 'HEAD: the length of the body, not the body',
    outcome: () => map(result({ statusCode: 200, body: 'hello' }), '2.0', 'HEAD'),
    expected: { status: 200, body: undefined, headers: { 'content-length': ['5'] } },
  },
  ...([100, 101, 199, 600, 999, 1000, -1, 200.5, '99', '2000'] as const).map(
    (statusCode): Case => ({
      row: VALIDITY,
      name: `statusCode ${JSON.stringify(statusCode)} is outside 200-599`,
      outcome: () => map(result({ statusCode, body: 'x' })),
      expected: {
        status: 502,
        error: 'bad_upstream_response',
        message: expect.stringContaining('statusCode must be an integer from 200 to 599'),
      },
    }),
  ),
  ...([200, 599, '404'] as const).map(
    (statusCode): Case => ({
      row: VALIDITY,
      name: `statusCode ${JSON.stringify(statusCode)} is sent`,
      outcome: () => map(result({ statusCode, body: 'x' }), '1.0'),
      expected: { status: Number(statusCode), body: 'x' },
    }),
  ),
];

describe('invokeOutcome', () => {
  it.each(cases.map((c) => [`${c.row}: ${c.name}`, c] as const))('%s', (_name, c) => {
    const outcome = c.outcome();
    if (c.expected === undefined) expect(outcome).toBeUndefined();
    else expect(outcome).toMatchObject(c.expected);
    if (c.exactHeaders) expect(outcome?.headers).toEqual(c.expected?.headers);
    // Exactly one x-request-id, ours, on every response.
    if (outcome?.error === undefined && outcome) {
      expect(outcome.headers['x-request-id']).toEqual([REQUEST_ID]);
    }
  });

  it('covers every row of the README’s "Error mapping" table', () => {
    const rows = readmeTable('### Error mapping').map(([outcome]) => outcome!);
    expect(rows.length).toBeGreaterThan(5);
    const covered = new Set(cases.map((c) => c.row));
    expect(rows.filter((row) => !covered.has(row))).toEqual([]);
    expect([...covered].filter((row) => row !== VALIDITY && !rows.includes(row))).toEqual([]);
  });

  it('the status of each README row is the one mapped', () => {
    for (const [outcome, gets] of readmeTable('### Error mapping')) {
      const status = Number(/`(\d{3})`/.exec(gets!)?.[1] ?? Number.NaN);
      const mapped = cases
        .filter((c) => c.row === outcome && c.expected !== undefined)
        .map((c) => c.outcome()?.status);
      if (Number.isNaN(status)) continue; // "the function's status": the valid-result rows above
      expect(mapped.length, outcome).toBeGreaterThan(0);
      expect(new Set(mapped), outcome).toEqual(new Set([status]));
    }
  });
});
