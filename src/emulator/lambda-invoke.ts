// The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) and
// InvokeWithResponseStream (`POST /2021-11-15/functions/{name}/response-streaming-invocations`):
// runs a test's JS handler as the function and answers with AWS's status
// codes, headers and payloads, including its function-error, timeout,
// throttling and size-limit behaviours. Streaming handlers write to a
// ResponseStream (see lambda-stream.ts); either kind of handler can be called
// through either API, as on AWS.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  headerValue,
  jsonReply,
  type ReceivedRequest,
  type Reply,
  type ServiceContext,
  type ServiceReply,
} from './http.ts';
import { invokeStreamBody, ResponseStream, type StreamEnd, type StreamStats } from './lambda-stream.ts';

export type InvocationType = 'RequestResponse' | 'Event' | 'DryRun';

export interface LambdaContext {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  invocationType: Exclude<InvocationType, 'DryRun'>;
  /** Decoded `X-Amz-Client-Context`, if sent. */
  clientContext: unknown;
  getRemainingTimeInMillis(): number;
}

/** Returns the function's result (JSON-serialized as the payload), a `handledError(…)`, or throws. */
export type LambdaHandler = (event: unknown, context: LambdaContext) => unknown;

/**
 * awslambda.streamifyResponse's handler: writes its response to `responseStream`
 * (ending it, or returning, finishes the response) or throws.
 */
export type StreamingHandler = (
  event: unknown,
  responseStream: ResponseStream,
  context: LambdaContext,
) => unknown;

export type FunctionDefinition = FunctionOptions &
  (
    | { handler: LambdaHandler; streamingHandler?: never }
    | { streamingHandler: StreamingHandler; handler?: never }
  );

interface FunctionOptions {
  /** The function's timeout; default 3000 ms like AWS. */
  timeoutMs?: number;
  /** Valid qualifiers besides `$LATEST` (versions and aliases), each mapped to the version it runs. */
  qualifiers?: Record<string, string>;
  /** Throttle every synchronous invocation (429). */
  throttle?: boolean;
  /** Reserved concurrency: synchronous invocations beyond this many in flight are throttled. */
  reservedConcurrency?: number;
}

/** A function error the function reported itself: answered with `X-Amz-Function-Error: Handled`. */
export class HandledError {
  readonly errorType: string;
  readonly errorMessage: string;
  constructor(errorType: string, errorMessage: string) {
    this.errorType = errorType;
    this.errorMessage = errorMessage;
  }
}

export function handledError(errorType: string, errorMessage: string): HandledError {
  return new HandledError(errorType, errorMessage);
}

export type InvocationOutcome = 'success' | 'handled' | 'unhandled' | 'timeout';

/** One run of a handler (DryRun, throttled and rejected calls don't run it). */
export interface InvocationRecord {
  requestId: string;
  functionName: string;
  /** The qualifier asked for, if any. */
  qualifier: string | undefined;
  executedVersion: string;
  invocationType: Exclude<InvocationType, 'DryRun'>;
  /** `X-Amz-Log-Type` as sent. */
  logType: string | undefined;
  event: unknown;
  /** Undefined while the handler runs. */
  outcome: InvocationOutcome | undefined;
  /** The response payload (or error payload) as JSON text, once done; empty for a streamed success. */
  payload: string | undefined;
  /** Streaming invocations (InvokeWithResponseStream, RESPONSE_STREAM function URLs): what was sent, live. */
  streamed: StreamStats | undefined;
  /** Settles when the handler has finished or timed out. */
  done: Promise<void>;
}

const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
/** Raised from 256 KB to 1 MB in 2025. */
const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;
/** AWS's own figure for the synchronous response limit. */
const RESPONSE_PAYLOAD_LIMIT = 6_291_556;
const DEFAULT_TIMEOUT_MS = 3000;
const INVOCATION_TYPES: readonly string[] = ['Event', 'RequestResponse', 'DryRun'];
const STREAMING_INVOCATION_TYPES: readonly string[] = ['RequestResponse', 'DryRun'];
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const STREAM_PATH = /^\/2021-11-15\/functions\/([^/]+)\/response-streaming-invocations$/;
const EVENTSTREAM = 'application/vnd.amazon.eventstream';
/** How AWS words the FunctionName pattern in its validation errors. */
const AWS_FUNCTION_NAME_PATTERN =
  '(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?';
const FUNCTION_NAME =
  /^(?:arn:aws[a-zA-Z-]*:lambda:(?<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?(?:(?<account>\d{12}):)?(?:function:)?(?<name>[a-zA-Z0-9\-_.]+)(?::(?<qualifier>\$LATEST|[a-zA-Z0-9\-_]+))?$/;

interface FunctionState {
  definition: FunctionDefinition;
  inFlight: number;
}

type RunResult = { outcome: InvocationOutcome; payload: string };

interface ResolvedFunction {
  state: FunctionState;
  name: string;
  qualifier: string | undefined;
  /** The ARN as invoked (qualified when a qualifier was given). */
  arn: string;
  executedVersion: string;
}

export function isInvokeRequest(request: ReceivedRequest): boolean {
  return request.method === 'POST' && INVOKE_PATH.test(request.path);
}

export function isStreamingInvokeRequest(request: ReceivedRequest): boolean {
  return request.method === 'POST' && STREAM_PATH.test(request.path);
}

type Operation = 'Invoke' | 'InvokeWithResponseStream';

/** What one invocation runs with. */
interface Invocation {
  event: unknown;
  invocationType: 'RequestResponse' | 'Event';
  logType: string | undefined;
  clientContext: unknown;
}

/** A request that passed every check and will run the function. */
interface Accepted extends Invocation {
  target: ResolvedFunction;
}

/** A streaming run: the function's stream, its live stats, and how it ended. */
export interface StreamingInvocation {
  stream: ResponseStream;
  stats: StreamStats;
  end: Promise<StreamEnd>;
}

export class LambdaService {
  readonly #functions = new Map<string, FunctionState>();
  readonly invocations: InvocationRecord[] = [];

  readonly #keepRecords: boolean;

  /** `keepRecords: false` for long-running use (the demo): no invocation is kept. */
  constructor(functions: Record<string, FunctionDefinition>, keepRecords = true) {
    this.#keepRecords = keepRecords;
    for (const [name, definition] of Object.entries(functions)) this.setFunction(name, definition);
  }

  /** Adds or replaces a function; invocations in flight keep counting against its concurrency. */
  setFunction(name: string, definition: FunctionDefinition): void {
    const state = this.#functions.get(name);
    if (state) state.definition = definition;
    else this.#functions.set(name, { definition, inFlight: 0 });
  }

  deleteFunction(name: string): void {
    this.#functions.delete(name);
  }

  invocationCount(functionName?: string): number {
    return this.invocations.filter((i) => functionName === undefined || i.functionName === functionName)
      .length;
  }

  /** Waits until every invocation so far, background `Event` ones included, has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.invocations.map((invocation) => invocation.done));
  }

  /** Invoke or InvokeWithResponseStream, by path. */
  async handle(request: ReceivedRequest, context: ServiceContext): Promise<ServiceReply> {
    const verification = context.checkSignature(request, 'lambda', 'json');
    if (verification?.ok === false) {
      const headers = { 'x-amzn-RequestId': request.requestId, 'x-amzn-ErrorType': verification.code };
      return { ...jsonReply(verification.status, { message: verification.message }, headers), verification };
    }
    const reply = isStreamingInvokeRequest(request)
      ? this.#invokeStreaming(request, context)
      : await this.#invoke(request, context);
    return { ...reply, verification };
  }

  async #invoke(request: ReceivedRequest, context: ServiceContext): Promise<Reply> {
    const { requestId } = request;
    const accepted = this.#accept(request, context, 'Invoke');
    if ('status' in accepted) return accepted;
    const { target, invocationType, logType } = accepted;
    const { definition } = target.state;
    const started = Date.now();
    const record = this.#start(target, accepted, requestId, (context) =>
      callBuffered(definition, accepted.event, context),
    );
    if (invocationType === 'Event') return { status: 202, headers: { 'x-amzn-RequestId': requestId } };

    await record.done;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-RequestId': requestId,
      'X-Amz-Executed-Version': target.executedVersion,
    };
    const functionError = { handled: 'Handled', unhandled: 'Unhandled', timeout: 'Unhandled' } as const;
    if (record.outcome !== 'success' && record.outcome !== undefined) {
      headers['X-Amz-Function-Error'] = functionError[record.outcome];
    }
    if (logType === 'Tail') {
      headers['X-Amz-Log-Result'] = logTail(requestId, target.executedVersion, Date.now() - started);
    }
    return { status: 200, headers, body: record.payload };
  }

  /** InvokeWithResponseStream: the same checks and errors as Invoke, then an event stream of the function's writes. */
  #invokeStreaming(request: ReceivedRequest, context: ServiceContext): Reply {
    const { requestId } = request;
    const accepted = this.#accept(request, context, 'InvokeWithResponseStream');
    if ('status' in accepted) return accepted;
    const { target, logType } = accepted;
    const started = Date.now();
    const { stream, stats, end } = this.#startStreaming(target, accepted, requestId);
    const logResult =
      logType === 'Tail' ? () => logTail(requestId, target.executedVersion, Date.now() - started) : undefined;
    return {
      status: 200,
      headers: {
        'Content-Type': EVENTSTREAM,
        'x-amzn-RequestId': requestId,
        'X-Amz-Executed-Version': target.executedVersion,
      },
      body: Readable.from(invokeStreamBody(stream, stats, end, logResult), { objectMode: false }),
    };
  }

  /**
   * A RESPONSE_STREAM function URL's invocation of `name` ($LATEST): a 404 or
   * 429 reply when it cannot run, else the running invocation.
   */
  startUrlInvocation(
    name: string,
    event: unknown,
    requestId: string,
    context: ServiceContext,
  ): StreamingInvocation | Reply {
    const target = this.#find(name, undefined, requestId, context);
    if ('status' in target) return target;
    const throttled = this.#throttled(target.state, requestId);
    if (throttled) return throttled;
    const invocation: Invocation = {
      event,
      invocationType: 'RequestResponse',
      logType: undefined,
      clientContext: undefined,
    };
    return this.#startStreaming(target, invocation, requestId);
  }

  /** Every check Invoke and InvokeWithResponseStream make before running the function, in AWS's order. */
  #accept(request: ReceivedRequest, context: ServiceContext, operation: Operation): Accepted | Reply {
    const { requestId } = request;
    const fail = (status: number, code: string, message: string) =>
      lambdaError(requestId, status, code, message);

    const invocationType = headerValue(request.headers, 'x-amz-invocation-type') ?? 'RequestResponse';
    // AWS has no asynchronous streaming invoke.
    const allowed = operation === 'Invoke' ? INVOCATION_TYPES : STREAMING_INVOCATION_TYPES;
    if (!allowed.includes(invocationType)) {
      return fail(
        400,
        'ValidationException',
        `1 validation error detected: Value '${invocationType}' at 'invocationType' failed to satisfy constraint: ` +
          `Member must satisfy enum value set: [${allowed.join(', ')}]`,
      );
    }
    if (invocationType === 'Event' && request.bodySize > ASYNC_PAYLOAD_LIMIT) {
      return fail(
        413,
        'RequestEntityTooLargeException',
        `${request.bodySize} byte payload is too large for the Event invocation type (limit ${ASYNC_PAYLOAD_LIMIT} bytes)`,
      );
    }
    if (request.bodySize > SYNC_PAYLOAD_LIMIT) {
      return fail(
        413,
        'RequestEntityTooLargeException',
        `Request must be smaller than ${SYNC_PAYLOAD_LIMIT} bytes for the ${operation === 'Invoke' ? 'InvokeFunction' : operation} operation`,
      );
    }

    const path = (operation === 'Invoke' ? INVOKE_PATH : STREAM_PATH).exec(request.path)!;
    const queryQualifier = new URLSearchParams(request.query).get('Qualifier') ?? undefined;
    const target = this.#find(safeDecode(path[1]!), queryQualifier, requestId, context);
    if ('status' in target) return target;
    let event: unknown = {};
    if (request.body.length > 0) {
      try {
        event = JSON.parse(request.body.toString('utf8'));
      } catch (cause) {
        return fail(
          400,
          'InvalidRequestContentException',
          `Could not parse request body into json: Could not parse payload into json: ${(cause as Error).message}`,
        );
      }
    }
    if (invocationType === 'DryRun') return { status: 204, headers: { 'x-amzn-RequestId': requestId } };
    // Lambda queues Event invocations whatever the concurrency, so only synchronous ones are throttled.
    const throttled = invocationType === 'RequestResponse' && this.#throttled(target.state, requestId);
    if (throttled) return throttled;
    return {
      target,
      event,
      invocationType: invocationType === 'Event' ? 'Event' : 'RequestResponse',
      logType: headerValue(request.headers, 'x-amz-log-type'),
      clientContext: decodeClientContext(headerValue(request.headers, 'x-amz-client-context')),
    };
  }

  #throttled(state: FunctionState, requestId: string): Reply | undefined {
    const overReserved = state.inFlight >= (state.definition.reservedConcurrency ?? Number.POSITIVE_INFINITY);
    if (!state.definition.throttle && !overReserved) return undefined;
    return lambdaError(requestId, 429, 'TooManyRequestsException', 'Rate Exceeded.', {
      Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
    });
  }

  /** Finds the function and version a FunctionName (name, partial or full ARN, maybe qualified) designates. */
  #find(
    functionName: string,
    queryQualifier: string | undefined,
    requestId: string,
    context: ServiceContext,
  ): ResolvedFunction | Reply {
    const parsed = FUNCTION_NAME.exec(functionName)?.groups;
    if (!parsed) {
      return lambdaError(
        requestId,
        400,
        'ValidationException',
        `1 validation error detected: Value '${functionName}' at 'functionName' failed to satisfy constraint: ` +
          `Member must satisfy regular expression pattern: ${AWS_FUNCTION_NAME_PATTERN}`,
      );
    }
    if (
      parsed.qualifier !== undefined &&
      queryQualifier !== undefined &&
      parsed.qualifier !== queryQualifier
    ) {
      return lambdaError(
        requestId,
        400,
        'InvalidParameterValueException',
        'The derived qualifier from the function name does not match the specified qualifier.',
      );
    }
    const name = parsed.name!;
    const qualifier = parsed.qualifier ?? queryQualifier;
    const unqualifiedArn = `arn:aws:lambda:${context.region}:${context.accountId}:function:${name}`;
    const arn = qualifier === undefined ? unqualifiedArn : `${unqualifiedArn}:${qualifier}`;
    const state = this.#functions.get(name);
    const executedVersion =
      qualifier === undefined || qualifier === '$LATEST'
        ? '$LATEST'
        : state?.definition.qualifiers?.[qualifier];
    const elsewhere =
      (parsed.region !== undefined && parsed.region !== context.region) ||
      (parsed.account !== undefined && parsed.account !== context.accountId);
    if (!state || executedVersion === undefined || elsewhere) {
      return lambdaError(requestId, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
    }
    return { state, name, qualifier, arn, executedVersion };
  }

  /** Starts the handler with a ResponseStream (a buffered handler's result becomes its one write). */
  #startStreaming(target: ResolvedFunction, invocation: Invocation, requestId: string): StreamingInvocation {
    const { definition } = target.state;
    const stream = new ResponseStream();
    // Writes after the caller went away, or after a timeout, go nowhere.
    stream.on('error', () => {});
    const stats: StreamStats = { bytes: 0, chunks: 0, aborted: false };
    const call = async (context: LambdaContext): Promise<RunResult> => {
      if (definition.streamingHandler) {
        const result = await callStreaming(definition.streamingHandler, invocation.event, stream, context);
        if (!stream.writableEnded) stream.end();
        return result;
      }
      const result = await callBuffered(definition, invocation.event, context);
      stream.end(result.outcome === 'success' ? result.payload : undefined);
      return result;
    };
    const record = this.#start(target, invocation, requestId, call, stats, () => stream.end());
    const end = record.done.then((): StreamEnd => {
      if (record.outcome === 'success') return {};
      const error = JSON.parse(record.payload ?? '{}') as { errorType?: string; errorMessage?: string };
      return { errorType: error.errorType ?? 'Unhandled', errorMessage: error.errorMessage ?? '' };
    });
    return { stream, stats, end };
  }

  /**
   * Runs `call` against the function's timeout and concurrency and records the
   * invocation; its `done` settles with the outcome filled in. `onTimeout` lets
   * a streaming run end its stream.
   */
  #start(
    target: ResolvedFunction,
    invocation: Invocation,
    requestId: string,
    call: (context: LambdaContext) => Promise<RunResult>,
    streamed?: StreamStats,
    onTimeout?: () => void,
  ): InvocationRecord {
    const { state } = target;
    const record: InvocationRecord = {
      requestId,
      functionName: target.name,
      qualifier: target.qualifier,
      executedVersion: target.executedVersion,
      invocationType: invocation.invocationType,
      logType: invocation.logType,
      event: invocation.event,
      outcome: undefined,
      payload: undefined,
      streamed,
      done: Promise.resolve(),
    };
    const timeoutMs = state.definition.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const context: LambdaContext = {
      awsRequestId: requestId,
      functionName: target.name,
      functionVersion: target.executedVersion,
      invokedFunctionArn: target.arn,
      invocationType: invocation.invocationType,
      clientContext: invocation.clientContext,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
    state.inFlight++;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<RunResult>((resolve) => {
      timer = setTimeout(() => {
        onTimeout?.();
        resolve({
          outcome: 'timeout',
          payload: JSON.stringify({
            errorType: 'Sandbox.Timedout',
            errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
          }),
        });
      }, timeoutMs);
    });
    record.done = Promise.race([call(context), timedOut]).then((result) => {
      clearTimeout(timer);
      state.inFlight--;
      record.outcome = result.outcome;
      record.payload = result.payload;
    });
    if (this.#keepRecords) this.invocations.push(record);
    return record;
  }
}

/** The handler's result as Invoke returns it; a streaming handler's writes are buffered, as Lambda does. */
async function callBuffered(
  definition: FunctionDefinition,
  event: unknown,
  context: LambdaContext,
): Promise<RunResult> {
  try {
    if (definition.streamingHandler) {
      const stream = new ResponseStream();
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      await definition.streamingHandler(event, stream, context);
      if (!stream.writableEnded) stream.end();
      await finished(stream);
      return sized(Buffer.concat(chunks).toString('utf8'));
    }
    const result = await definition.handler(event, context);
    if (result instanceof HandledError) {
      const { errorType, errorMessage } = result;
      return { outcome: 'handled', payload: JSON.stringify({ errorMessage, errorType, stackTrace: [] }) };
    }
    return sized(JSON.stringify(result) ?? 'null');
  } catch (thrown) {
    return { outcome: 'unhandled', payload: JSON.stringify(unhandledPayload(thrown)) };
  }
}

/** A streaming handler's run: it ends when the handler returns (ending the stream) or throws. */
async function callStreaming(
  handler: StreamingHandler,
  event: unknown,
  stream: ResponseStream,
  context: LambdaContext,
): Promise<RunResult> {
  try {
    await handler(event, stream, context);
    return { outcome: 'success', payload: '' };
  } catch (thrown) {
    return { outcome: 'unhandled', payload: JSON.stringify(unhandledPayload(thrown)) };
  }
}

/** A successful payload, unless it is over Lambda's response limit. */
function sized(payload: string): RunResult {
  if (Buffer.byteLength(payload) <= RESPONSE_PAYLOAD_LIMIT) return { outcome: 'success', payload };
  return {
    outcome: 'unhandled',
    payload: JSON.stringify({
      errorMessage: `Response payload size exceeded maximum allowed payload size (${RESPONSE_PAYLOAD_LIMIT} bytes).`,
      errorType: 'Function.ResponseSizeTooLarge',
    }),
  };
}

/** Lambda's own errors: `{"Type":"User","message":…}` named by `x-amzn-ErrorType`. */
function lambdaError(
  requestId: string,
  status: number,
  code: string,
  message: string,
  extra: object = {},
): Reply {
  return jsonReply(
    status,
    { ...extra, Type: 'User', message },
    { 'x-amzn-RequestId': requestId, 'x-amzn-ErrorType': code },
  );
}

function unhandledPayload(thrown: unknown): {
  errorMessage: string;
  errorType: string;
  stackTrace: string[];
} {
  if (thrown instanceof Error) {
    const stackTrace = (thrown.stack ?? '')
      .split('\n')
      .slice(1)
      .map((line) => line.trim());
    return { errorMessage: thrown.message, errorType: thrown.name, stackTrace };
  }
  return { errorMessage: String(thrown), errorType: typeof thrown, stackTrace: [] };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function decodeClientContext(header: string | undefined): unknown {
  if (header === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A plausible `X-Amz-Log-Result`: the base64 tail of the invocation's log. */
function logTail(requestId: string, version: string, durationMs: number): string {
  const log =
    `START RequestId: ${requestId} Version: ${version}\n` +
    `END RequestId: ${requestId}\n` +
    `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(durationMs))} ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t\n`;
  return Buffer.from(log).toString('base64');
}
