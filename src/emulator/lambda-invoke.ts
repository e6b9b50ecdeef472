// The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`):
// runs a test's JS handler as the function and answers with AWS's status
// codes, headers and payloads, including its function-error, timeout,
// throttling and size-limit behaviours.
import {
  headerValue,
  jsonReply,
  type ReceivedRequest,
  type Reply,
  type ServiceContext,
  type ServiceReply,
} from './http.ts';

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

export interface FunctionDefinition {
  handler: LambdaHandler;
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
  /** The response payload (or error payload) as JSON text, once done. */
  payload: string | undefined;
  /** Settles when the handler has finished or timed out. */
  done: Promise<void>;
}

const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
/** Raised from 256 KB to 1 MB in 2025. */
const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;
/** AWS's own figure for the synchronous response limit. */
const RESPONSE_PAYLOAD_LIMIT = 6_291_556;
const DEFAULT_TIMEOUT_MS = 3000;
const INVOCATION_TYPES: readonly string[] = ['RequestResponse', 'Event', 'DryRun'];
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
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

  async handle(request: ReceivedRequest, context: ServiceContext): Promise<ServiceReply> {
    const verification = context.checkSignature(request, 'lambda', 'json');
    if (verification?.ok === false) {
      const headers = { 'x-amzn-RequestId': request.requestId, 'x-amzn-ErrorType': verification.code };
      return { ...jsonReply(verification.status, { message: verification.message }, headers), verification };
    }
    return { ...(await this.#invoke(request, context)), verification };
  }

  async #invoke(request: ReceivedRequest, context: ServiceContext): Promise<Reply> {
    const { requestId } = request;
    const fail = (status: number, code: string, message: string, extra: object = {}) =>
      lambdaError(requestId, status, code, message, extra);

    const invocationType = headerValue(request.headers, 'x-amz-invocation-type') ?? 'RequestResponse';
    if (!INVOCATION_TYPES.includes(invocationType)) {
      return fail(
        400,
        'ValidationException',
        `1 validation error detected: Value '${invocationType}' at 'invocationType' failed to satisfy constraint: ` +
          'Member must satisfy enum value set: [Event, RequestResponse, DryRun]',
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
        `Request must be smaller than ${SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation`,
      );
    }

    const target = this.#resolve(request, context);
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

    const { state } = target;
    const overReserved = state.inFlight >= (state.definition.reservedConcurrency ?? Number.POSITIVE_INFINITY);
    // Lambda queues Event invocations whatever the concurrency, so only synchronous ones are throttled.
    if (invocationType === 'RequestResponse' && (state.definition.throttle || overReserved)) {
      return fail(429, 'TooManyRequestsException', 'Rate Exceeded.', {
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      });
    }

    const logType = headerValue(request.headers, 'x-amz-log-type');
    const started = Date.now();
    const record = this.#start(state, event, target.qualifier, logType, {
      awsRequestId: requestId,
      functionName: target.name,
      functionVersion: target.executedVersion,
      invokedFunctionArn: target.arn,
      invocationType: invocationType === 'Event' ? 'Event' : 'RequestResponse',
      clientContext: decodeClientContext(headerValue(request.headers, 'x-amz-client-context')),
    });
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

  /** Finds the function and version a FunctionName (name, partial or full ARN, maybe qualified) designates. */
  #resolve(request: ReceivedRequest, context: ServiceContext): ResolvedFunction | Reply {
    const functionName = safeDecode(INVOKE_PATH.exec(request.path)![1]!);
    const parsed = FUNCTION_NAME.exec(functionName)?.groups;
    if (!parsed) {
      return lambdaError(
        request.requestId,
        400,
        'ValidationException',
        `1 validation error detected: Value '${functionName}' at 'functionName' failed to satisfy constraint: ` +
          `Member must satisfy regular expression pattern: ${AWS_FUNCTION_NAME_PATTERN}`,
      );
    }
    const queryQualifier = new URLSearchParams(request.query).get('Qualifier') ?? undefined;
    if (
      parsed.qualifier !== undefined &&
      queryQualifier !== undefined &&
      parsed.qualifier !== queryQualifier
    ) {
      return lambdaError(
        request.requestId,
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
      return lambdaError(request.requestId, 404, 'ResourceNotFoundException', `Function not found: ${arn}`);
    }
    return { state, name, qualifier, arn, executedVersion };
  }

  /** Starts the handler and records the invocation; its `done` settles with the outcome filled in. */
  #start(
    state: FunctionState,
    event: unknown,
    qualifier: string | undefined,
    logType: string | undefined,
    context: Omit<LambdaContext, 'getRemainingTimeInMillis'>,
  ): InvocationRecord {
    const record: InvocationRecord = {
      requestId: context.awsRequestId,
      functionName: context.functionName,
      qualifier,
      executedVersion: context.functionVersion,
      invocationType: context.invocationType,
      logType,
      event,
      outcome: undefined,
      payload: undefined,
      done: Promise.resolve(),
    };
    record.done = this.#run(state, event, context).then((result) => {
      record.outcome = result.outcome;
      record.payload = result.payload;
    });
    if (this.#keepRecords) this.invocations.push(record);
    return record;
  }

  async #run(
    state: FunctionState,
    event: unknown,
    context: Omit<LambdaContext, 'getRemainingTimeInMillis'>,
  ): Promise<RunResult> {
    const timeoutMs = state.definition.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const { handler } = state.definition;
    state.inFlight++;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<RunResult>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            outcome: 'timeout',
            payload: JSON.stringify({
              errorType: 'Sandbox.Timedout',
              errorMessage: `RequestId: ${context.awsRequestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
            }),
          }),
        timeoutMs,
      );
    });
    const ran = (async (): Promise<RunResult> => {
      try {
        const result = await handler(event, {
          ...context,
          getRemainingTimeInMillis: () => deadline - Date.now(),
        });
        if (result instanceof HandledError) {
          const { errorType, errorMessage } = result;
          return { outcome: 'handled', payload: JSON.stringify({ errorMessage, errorType, stackTrace: [] }) };
        }
        const payload = JSON.stringify(result) ?? 'null';
        if (Buffer.byteLength(payload) > RESPONSE_PAYLOAD_LIMIT) {
          return {
            outcome: 'unhandled',
            payload: JSON.stringify({
              errorMessage: `Response payload size exceeded maximum allowed payload size (${RESPONSE_PAYLOAD_LIMIT} bytes).`,
              errorType: 'Function.ResponseSizeTooLarge',
            }),
          };
        }
        return { outcome: 'success', payload };
      } catch (thrown) {
        return { outcome: 'unhandled', payload: JSON.stringify(unhandledPayload(thrown)) };
      }
    })();
    try {
      return await Promise.race([ran, timedOut]);
    } finally {
      clearTimeout(timer);
      state.inFlight--;
    }
  }
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
