// The Lambda Invoke API over real sockets: the happy path and each of AWS's
// behaviours the emulator simulates.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, handledError, type LambdaContext, startEmulator } from '../../src/emulator/server.ts';
import { type ClientRequest, call, json, type Signing } from './client.ts';

const key = { accessKeyId: 'AKIDINVOKE', secretAccessKey: 'invoke-secret' };
const signing: Signing = { credentials: key, service: 'lambda' };
const invokePath = (name: string) => `/2015-03-31/functions/${encodeURIComponent(name)}/invocations`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Lambda Invoke API', () => {
  let emulator: Emulator;
  /** `sign: null` sends the call unsigned. */
  const invoke = (name: string, req: Partial<ClientRequest> = {}, sign: Signing | null = signing) =>
    call(emulator, { method: 'POST', path: invokePath(name), body: '{"n":1}', ...req }, sign ?? undefined);

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [key],
      functions: {
        echo: {
          handler: (event: unknown, context: LambdaContext) => ({ event, arn: context.invokedFunctionArn }),
          qualifiers: { live: '7', '7': '7' },
        },
      },
    });
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.clearRecords());

  it('runs the handler and answers its JSON result', async () => {
    const res = await invoke('echo');
    expect(res.status).toBe(200);
    expect(res.headers['x-amz-executed-version']).toBe('$LATEST');
    expect(res.headers['x-amz-function-error']).toBeUndefined();
    expect(res.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(json(res)).toEqual({
      event: { n: 1 },
      arn: 'arn:aws:lambda:us-east-1:123456789012:function:echo',
    });
    expect(emulator.invocationCount('echo')).toBe(1);
    expect(emulator.invocations[0]).toMatchObject({
      functionName: 'echo',
      invocationType: 'RequestResponse',
      logType: undefined,
      event: { n: 1 },
      outcome: 'success',
    });
    expect(emulator.requests[0]).toMatchObject({ service: 'lambda-invoke', verification: { ok: true } });
  });

  it('accepts requests signed by @smithy/signature-v4, ARN-encoded paths included', async () => {
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:echo';
    expect((await invoke(arn, {}, { ...signing, smithy: true })).status).toBe(200);
  });

  it.each([
    ['a name', 'echo', undefined, '$LATEST'],
    ['a partial ARN', '123456789012:function:echo', undefined, '$LATEST'],
    ['a full ARN', 'arn:aws:lambda:us-east-1:123456789012:function:echo', undefined, '$LATEST'],
    ['name:alias', 'echo:live', undefined, '7'],
    ['a full ARN with a version', 'arn:aws:lambda:us-east-1:123456789012:function:echo:7', undefined, '7'],
    ['a Qualifier parameter', 'echo', 'Qualifier=live', '7'],
    ['an explicit $LATEST', 'echo', 'Qualifier=%24LATEST', '$LATEST'],
  ])('finds the function by %s', async (_, name, query, version) => {
    const res = await invoke(name, query ? { query } : {});
    expect(res.status).toBe(200);
    expect(res.headers['x-amz-executed-version']).toBe(version);
  });

  it.each([
    ['an unknown function', 'nope', undefined, 'arn:aws:lambda:us-east-1:123456789012:function:nope'],
    [
      'an unknown qualifier',
      'echo:blue',
      undefined,
      'arn:aws:lambda:us-east-1:123456789012:function:echo:blue',
    ],
    ['an unknown Qualifier', 'echo', 'Qualifier=3', 'arn:aws:lambda:us-east-1:123456789012:function:echo:3'],
    [
      'another region',
      'arn:aws:lambda:eu-west-1:123456789012:function:echo',
      undefined,
      'arn:aws:lambda:us-east-1:123456789012:function:echo',
    ],
  ])('answers 404 for %s', async (_, name, query, arn) => {
    const res = await invoke(name, query ? { query } : {});
    expect(res.status).toBe(404);
    expect(res.headers['x-amzn-errortype']).toBe('ResourceNotFoundException');
    expect(json(res)).toEqual({ Type: 'User', message: `Function not found: ${arn}` });
    expect(emulator.invocationCount()).toBe(0);
  });

  it('rejects a qualifier that contradicts the one in the name', async () => {
    const res = await invoke('echo:live', { query: 'Qualifier=7' });
    expect(res.status).toBe(400);
    expect(res.headers['x-amzn-errortype']).toBe('InvalidParameterValueException');
  });

  it('rejects an invalid function name and an invalid invocation type', async () => {
    const name = await invoke('bad name!');
    expect(name.status).toBe(400);
    expect(name.headers['x-amzn-errortype']).toBe('ValidationException');
    const type = await invoke('echo', { headers: [['x-amz-invocation-type', 'Later']] });
    expect(type.status).toBe(400);
    expect((json(type) as { message: string }).message).toContain('[Event, RequestResponse, DryRun]');
  });

  it('treats an empty payload as {} and rejects one that is not JSON', async () => {
    expect(json(await invoke('echo', { body: '' }))).toMatchObject({ event: {} });
    const res = await invoke('echo', { body: '{not json' });
    expect(res.status).toBe(400);
    expect(res.headers['x-amzn-errortype']).toBe('InvalidRequestContentException');
    expect(json(res)).toMatchObject({
      Type: 'User',
      message: expect.stringMatching(/^Could not parse request body into json/),
    });
  });

  describe('function errors', () => {
    it('reports an exception as Unhandled with errorMessage, errorType and stackTrace', async () => {
      emulator.setFunction('fails', {
        handler: () => {
          throw new TypeError('boom');
        },
      });
      const res = await invoke('fails');
      expect(res.status).toBe(200);
      expect(res.headers['x-amz-function-error']).toBe('Unhandled');
      expect(json(res)).toEqual({
        errorMessage: 'boom',
        errorType: 'TypeError',
        stackTrace: expect.any(Array),
      });
      expect(emulator.invocations[0]).toMatchObject({ outcome: 'unhandled' });
    });

    it('reports a handled error as Handled', async () => {
      emulator.setFunction('handles', { handler: () => handledError('ValidationError', 'bad input') });
      const res = await invoke('handles');
      expect(res.status).toBe(200);
      expect(res.headers['x-amz-function-error']).toBe('Handled');
      expect(json(res)).toEqual({ errorMessage: 'bad input', errorType: 'ValidationError', stackTrace: [] });
    });

    it('times out like Lambda: Sandbox.Timedout after the function timeout', async () => {
      emulator.setFunction('slow', { timeoutMs: 200, handler: () => sleep(2000).then(() => 'late') });
      const started = Date.now();
      const res = await invoke('slow');
      expect(Date.now() - started).toBeLessThan(1500);
      expect(res.status).toBe(200);
      expect(res.headers['x-amz-function-error']).toBe('Unhandled');
      const requestId = res.headers['x-amzn-requestid'];
      expect(json(res)).toEqual({
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: Task timed out after 0.20 seconds`,
      });
      expect(emulator.invocations[0]).toMatchObject({ outcome: 'timeout' });
    });

    it('refuses a response larger than 6 MB', async () => {
      emulator.setFunction('huge', { handler: () => 'x'.repeat(6_300_000) });
      const res = await invoke('huge');
      expect(res.headers['x-amz-function-error']).toBe('Unhandled');
      expect(json(res)).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
    });
  });

  describe('throttling', () => {
    const throttled = {
      Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      Type: 'User',
      message: 'Rate Exceeded.',
    };

    it('answers 429 TooManyRequestsException when throttled', async () => {
      emulator.setFunction('throttled', { throttle: true, handler: () => 'never' });
      const res = await invoke('throttled');
      expect(res.status).toBe(429);
      expect(res.headers['x-amzn-errortype']).toBe('TooManyRequestsException');
      expect(res.headers['retry-after']).toBeUndefined();
      expect(json(res)).toEqual(throttled);
      expect(emulator.invocationCount('throttled')).toBe(0);
    });

    it('throttles invocations beyond the reserved concurrency', async () => {
      emulator.setFunction('one-at-a-time', {
        reservedConcurrency: 1,
        handler: () => sleep(300).then(() => 'done'),
      });
      const first = invoke('one-at-a-time');
      await sleep(100);
      const second = await invoke('one-at-a-time');
      expect(second.status).toBe(429);
      expect(json(second)).toEqual(throttled);
      expect((await first).status).toBe(200);
      expect((await invoke('one-at-a-time')).status).toBe(200);
    });
  });

  describe('invocation types', () => {
    it('runs Event invocations in the background after answering 202', async () => {
      let finish: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        finish = resolve;
      });
      emulator.setFunction('async', { handler: (event: unknown) => gate.then(() => event) });
      const res = await invoke('async', { headers: [['X-Amz-Invocation-Type', 'Event']] });
      expect(res.status).toBe(202);
      expect(res.body).toBe('');
      expect(emulator.invocations[0]).toMatchObject({ invocationType: 'Event', outcome: undefined });
      finish();
      await emulator.settled();
      expect(emulator.invocations[0]).toMatchObject({ outcome: 'success', payload: '{"n":1}' });
    });

    it('answers DryRun with 204 without running the handler', async () => {
      const res = await invoke('echo', { headers: [['X-Amz-Invocation-Type', 'DryRun']] });
      expect(res.status).toBe(204);
      expect(emulator.invocationCount()).toBe(0);
    });

    it('records the log type, and answers Tail with a log', async () => {
      const res = await invoke('echo', { headers: [['X-Amz-Log-Type', 'Tail']] });
      expect(emulator.invocations[0]!.logType).toBe('Tail');
      const log = Buffer.from(String(res.headers['x-amz-log-result']), 'base64').toString();
      expect(log).toContain(`START RequestId: ${res.headers['x-amzn-requestid']}`);
    });
  });

  describe('payload limits', () => {
    it('refuses synchronous payloads over 6 MB', async () => {
      const res = await invoke('echo', { body: `"${'a'.repeat(6 * 1024 * 1024)}"` });
      expect(res.status).toBe(413);
      expect(res.headers['x-amzn-errortype']).toBe('RequestEntityTooLargeException');
      expect(json(res)).toEqual({
        Type: 'User',
        message: 'Request must be smaller than 6291456 bytes for the InvokeFunction operation',
      });
    });

    it('refuses Event payloads over 1 MB', async () => {
      const body = `"${'a'.repeat(1024 * 1024)}"`;
      const res = await invoke('echo', { body, headers: [['X-Amz-Invocation-Type', 'Event']] });
      expect(res.status).toBe(413);
      expect(json(res)).toEqual({
        Type: 'User',
        message: `${body.length} byte payload is too large for the Event invocation type (limit 1048576 bytes)`,
      });
      expect((await invoke('echo', { body })).status).toBe(200);
    });
  });

  describe('authentication', () => {
    it('refuses unsigned calls', async () => {
      const res = await invoke('echo', {}, null);
      expect(res.status).toBe(403);
      expect(res.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
      expect(json(res)).toEqual({ message: 'Missing Authentication Token' });
    });

    it('refuses a signature for another service or with a wrong secret', async () => {
      const service = await invoke('echo', {}, { ...signing, service: 'execute-api' });
      expect(service.status).toBe(403);
      expect(json(service)).toEqual({ message: "Credential should be scoped to correct service: 'lambda'." });
      const secret = await invoke('echo', {}, { ...signing, credentials: { ...key, secretAccessKey: 'x' } });
      expect(secret.status).toBe(403);
      expect(secret.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
      expect(emulator.invocationCount()).toBe(0);
    });
  });

  it('lets tests replace and remove functions at run time', async () => {
    emulator.setFunction('swap', { handler: () => 'one' });
    expect(json(await invoke('swap'))).toBe('one');
    emulator.setFunction('swap', { handler: () => 'two' });
    expect(json(await invoke('swap'))).toBe('two');
    emulator.deleteFunction('swap');
    expect((await invoke('swap')).status).toBe(404);
    expect(emulator.invocationCount('swap')).toBe(2);
  });
});
