// A Lambda function URL in RESPONSE_STREAM invoke mode: the function gets a
// payload 2.0 event and streams its answer; the URL service answers chunked,
// with the status and headers from the HttpResponseStream.from metadata when
// the function set its content type to the metadata one (otherwise 200 and
// the content type the function set, application/octet-stream by default).
// Every write reaches the caller as it comes, with backpressure.
//
// A function that fails before writing anything answers 502; after, the
// connection is cut, so the caller sees a truncated body.
import { Readable } from 'node:stream';
import { authorize, type StreamingFunctionUrl } from './endpoints.ts';
import {
  jsonReply,
  type ReceivedRequest,
  type Reply,
  type ServiceContext,
  type ServiceReply,
} from './http.ts';
import type { LambdaService, StreamingInvocation } from './lambda-invoke.ts';
import { functionOutput, METADATA_CONTENT_TYPE, METADATA_DELIMITER } from './lambda-stream.ts';

/** More metadata than this before the delimiter is a broken function. */
const MAX_METADATA_BYTES = 64 * 1024;

export async function handleStreamingFunctionUrl(
  endpoint: StreamingFunctionUrl,
  request: ReceivedRequest,
  context: ServiceContext,
  lambda: LambdaService,
): Promise<ServiceReply> {
  const auth = authorize(endpoint, request, context);
  if ('rejection' in auth) return auth.rejection;
  const { verification } = auth;
  const started = lambda.startUrlInvocation(
    endpoint.functionName,
    functionUrlEvent(request),
    request.requestId,
    context,
  );
  if ('status' in started) return { ...started, verification };
  return { ...(await httpResponse(started, request.requestId)), verification };
}

/** Waits for the function's first bytes (its metadata, when it has some) and answers with the rest as a stream. */
async function httpResponse(invocation: StreamingInvocation, requestId: string): Promise<Reply> {
  const { stream, end } = invocation;
  const output = functionOutput(stream, invocation.stats);
  const failed = async () => {
    await output.return(undefined);
    return jsonReply(502, { message: 'Internal server error' }, { 'x-amzn-RequestId': requestId });
  };
  const first = await output.next();
  if (first.done && (await end).errorType !== undefined) return failed();
  let buffered = first.done ? Buffer.alloc(0) : first.value;
  if (stream.contentType !== METADATA_CONTENT_TYPE) {
    return {
      status: 200,
      headers: { 'content-type': stream.contentType, 'x-amzn-RequestId': requestId },
      body: Readable.from(rest(buffered, output, end), { objectMode: false }),
    };
  }
  let delimiter = buffered.indexOf(METADATA_DELIMITER);
  while (delimiter === -1) {
    const next = await output.next();
    if (next.done || buffered.length > MAX_METADATA_BYTES) return failed();
    buffered = Buffer.concat([buffered, next.value]);
    delimiter = buffered.indexOf(METADATA_DELIMITER);
  }
  const head = headOf(buffered.subarray(0, delimiter), requestId);
  if (!head) return failed();
  return {
    ...head,
    body: Readable.from(rest(buffered.subarray(delimiter + METADATA_DELIMITER.length), output, end), {
      objectMode: false,
    }),
  };
}

async function* rest(
  first: Buffer,
  output: AsyncGenerator<Buffer>,
  end: StreamingInvocation['end'],
): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  for await (const chunk of output) yield chunk;
  // Too late for a status: cut the connection so that the caller cannot take the body for whole.
  if ((await end).errorType !== undefined) throw new Error('the function failed after it started streaming');
}

/** The metadata as a status and headers; undefined when it is not a valid metadata object. */
function headOf(json: Buffer, requestId: string): Omit<Reply, 'body'> | undefined {
  let metadata: { statusCode?: unknown; headers?: unknown; multiValueHeaders?: unknown; cookies?: unknown };
  try {
    metadata = JSON.parse(json.toString('utf8'));
  } catch {
    return undefined;
  }
  const status = metadata.statusCode ?? 200;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599)
    return undefined;
  const headers: Record<string, string | string[]> = { 'content-type': 'application/octet-stream' };
  const add = (name: string, value: unknown) => {
    if (name.toLowerCase() === 'content-length') return;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
  };
  for (const [name, value] of Object.entries(metadata.headers ?? {})) add(name, value);
  for (const [name, value] of Object.entries(metadata.multiValueHeaders ?? {})) add(name, value);
  if (Array.isArray(metadata.cookies) && metadata.cookies.length > 0) {
    headers['set-cookie'] = metadata.cookies.map(String);
  }
  headers['x-amzn-RequestId'] = requestId;
  return { status, headers };
}

/** The payload 2.0 event a function URL sends (rawPath includes the emulator's mount path). */
function functionUrlEvent(request: ReceivedRequest): Record<string, unknown> {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (lower === 'cookie') cookies.push(...value.split(/;\s*/).filter(Boolean));
    else headers[lower] = headers[lower] === undefined ? value : `${headers[lower]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(request.query)) {
    query[key] = query[key] === undefined ? value : `${query[key]},${value}`;
  }
  const text = request.body.toString('utf8');
  const isText = Buffer.byteLength(text) === request.body.length && !text.includes('\uFFFD');
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: request.query,
    ...(cookies.length > 0 && { cookies }),
    headers,
    ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'emulator',
      domainName: headers['host'] ?? '',
      http: {
        method: request.method,
        path: request.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: request.requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(request.body.length > 0 && {
      body: isText ? text : request.body.toString('base64'),
    }),
    isBase64Encoded: request.body.length > 0 && !isText,
  };
}
