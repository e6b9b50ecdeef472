// function targets end to end: real data plane -> Lambda Invoke API on the
// emulator (SigV4 checked by its own implementation) -> handler -> back, for
// all three payload formats, and every Lambda error with its status code.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, handledError, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
// biome-ignore lint/suspicious/noExplicitAny: events differ by format
type AnyEvent = Record<string, any>;

/** Echoes the request body back byte for byte and sets two cookies, in the format's own response shape. */
const echo = (format: string) => (input: unknown) => {
  const event = input as AnyEvent;
  const response: AnyEvent = {
    statusCode: 200,
    headers: {
      'content-type':
        event.headers?.['content-type'] ?? event.headers?.['Content-Type'] ?? 'application/octet-stream',
      'x-format': format,
    },
    body: event.body ?? '',
    isBase64Encoded: event.isBase64Encoded ?? false,
  };
  if (format === '2.0') response['cookies'] = ['a=1; Path=/', 'b=2; HttpOnly'];
  else response['multiValueHeaders'] = { 'Set-Cookie': ['a=1; Path=/', 'b=2; HttpOnly'] };
  if (format === 'alb') response['statusDescription'] = '200 OK';
  return response;
};

const route = (name: string, path: string, fn: Record<string, string>, extra = '') =>
  lambdaRoute(
    name,
    `match: {path: ${path}, pathType: Prefix}
target:
  function: {${Object.entries(fn)
    .map(([k, v]) => `${k}: "${v}"`)
    .join(', ')}}
auth: {iam: {secretRef: {name: keys}}}
${extra}`,
  );

describe('function targets', () => {
  let emulator: Emulator;
  let gw: TestGateway;
  const lastEvent = (name: string) =>
    emulator.invocations.filter((i) => i.functionName === name).at(-1)?.event as AnyEvent;

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [KEYS],
      functions: {
        'echo-v2': { handler: echo('2.0') },
        'echo-v1': { handler: echo('1.0') },
        'echo-alb': { handler: echo('alb') },
        inferred: { handler: () => ({ hello: 'world' }) },
        invalid: { handler: () => ({ statusCode: 'two hundred' }) },
        handled: { handler: () => handledError('ValidationError', 'secret internal detail') },
        unhandled: {
          handler: () => {
            throw new Error('stack trace with secret internal detail');
          },
        },
        slow: {
          handler: () => new Promise((r) => setTimeout(() => r({ statusCode: 200 }), 2000)),
          timeoutMs: 200,
        },
        throttled: { handler: () => ({ statusCode: 200 }), throttle: true },
        async: { handler: () => ({ statusCode: 200 }) },
      },
    });
    const fn = (name: string, more: Record<string, string> = {}) => ({
      name,
      endpoint: emulator.url,
      ...more,
    });
    gw = await startTestGateway({
      'keys.yaml': credentialsSecret('keys', KEYS),
      'routes.yaml': documents(
        route('v2', '/v2', fn('echo-v2')),
        route('v1', '/v1', fn('echo-v1', { payloadFormat: '1.0' })),
        route('alb', '/alb', fn('echo-alb', { payloadFormat: 'alb' })),
        route('inferred', '/inferred', fn('inferred')),
        route('invalid', '/invalid', fn('invalid')),
        route('handled', '/handled', fn('handled')),
        route('unhandled', '/unhandled', fn('unhandled')),
        route('slow', '/slow', fn('slow'), 'timeout: 10s'),
        route('throttled', '/throttled', fn('throttled')),
        route('missing', '/missing', fn('no-such-function')),
        route('async', '/async', fn('async', { invocationType: 'Event' })),
        route('arn', '/arn', fn('arn:aws:lambda:us-east-1:123456789012:function:echo-v2')),
      ),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await emulator?.close();
  });

  describe.each([
    ['2.0', '/v2', 'echo-v2'],
    ['1.0', '/v1', 'echo-v1'],
    ['alb', '/alb', 'echo-alb'],
  ])('payload format %s', (format, prefix, fnName) => {
    it('round-trips a binary body byte for byte', async () => {
      const body = randomBytes(100_000);
      const response = await send(gw.url, {
        method: 'POST',
        path: `${prefix}/upload`,
        body,
        headers: [['content-type', 'application/octet-stream']],
      });
      expect(response.status, response.text).toBe(200);
      expect(response.body.equals(body)).toBe(true);
      expect(lastEvent(fnName)).toMatchObject({ isBase64Encoded: true, body: body.toString('base64') });
      expect(response.headers['x-format']).toBe(format);
    });

    it('passes text bodies as strings, and cookies both ways', async () => {
      const response = await send(gw.url, {
        method: 'PUT',
        path: `${prefix}/caf%C3%A9/items?tag=a&tag=b&q=%E2%9C%93`,
        body: '{"ok":true}',
        headers: [
          ['content-type', 'application/json'],
          ['cookie', 'session=abc; theme=dark'],
          ['x-dup', '1'],
          ['x-dup', '2'],
        ],
      });
      expect(response.status, response.text).toBe(200);
      expect(response.text).toBe('{"ok":true}');
      expect(response.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
      const event = lastEvent(fnName);
      expect(event.body).toBe('{"ok":true}');
      expect(event.isBase64Encoded).toBe(false);
      if (format === '2.0') {
        expect(event).toMatchObject({
          version: '2.0',
          rawPath: '/v2/caf%C3%A9/items',
          rawQueryString: 'tag=a&tag=b&q=%E2%9C%93',
          cookies: ['session=abc', 'theme=dark'],
          queryStringParameters: { tag: 'a,b', q: '✓' },
          pathParameters: { proxy: 'café/items' },
        });
        expect(event.headers['x-dup']).toBe('1,2');
        expect(event.requestContext.http).toMatchObject({ method: 'PUT', sourceIp: '127.0.0.1' });
      } else if (format === '1.0') {
        expect(event).toMatchObject({
          httpMethod: 'PUT',
          multiValueQueryStringParameters: { tag: ['a', 'b'], q: ['✓'] },
        });
        expect(event.multiValueHeaders['x-dup'] ?? event.multiValueHeaders['X-Dup']).toEqual(['1', '2']);
      } else {
        expect(event).toMatchObject({ httpMethod: 'PUT' });
        expect(
          JSON.stringify(event.queryStringParameters ?? event.multiValueQueryStringParameters),
        ).toContain('%E2%9C%93');
      }
    });
  });

  it('calls a function given by full ARN', async () => {
    const response = await send(gw.url, { path: '/arn/x', headers: [['content-type', 'text/plain']] });
    expect(response.status, response.text).toBe(200);
  });

  it('turns a 2.0 result without statusCode into 200 application/json', async () => {
    const response = await send(gw.url, { path: '/inferred' });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({ hello: 'world' });
  });

  it('answers 502 for a result that is not valid for the format', async () => {
    const response = await send(gw.url, { path: '/invalid' });
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ error: 'bad_upstream_response', route: 'default/invalid' });
  });

  it.each([
    ['/handled', 'Handled'],
    ['/unhandled', 'Unhandled'],
  ])(
    '%s function errors are 502 with the AWS request id, never the error or stack trace',
    async (path, kind) => {
      const response = await send(gw.url, { path });
      expect(response.status).toBe(502);
      expect(response.json()).toMatchObject({
        error: 'function_error',
        message: expect.stringContaining(kind),
      });
      expect(response.json().awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers['x-amzn-requestid']).toBe(response.json().awsRequestId);
      expect(response.text).not.toContain('secret internal detail');
    },
  );

  it('answers 504 when the function times out', async () => {
    const response = await send(gw.url, { path: '/slow' });
    expect(response.status).toBe(504);
    expect(response.json()).toMatchObject({ error: 'function_timeout' });
  });

  it('answers 429 with Retry-After when Lambda throttles', async () => {
    const response = await send(gw.url, { path: '/throttled' });
    expect(response.status).toBe(429);
    expect(response.headers['retry-after']).toMatch(/^\d+$/);
    expect(response.json()).toMatchObject({ error: 'throttled' });
  });

  it('answers 502 for a function that does not exist and says so in the route condition', async () => {
    const response = await send(gw.url, { path: '/missing' });
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ error: 'function_not_found' });
    const ready = gw.gateway.pipeline
      .diagnostics()
      .find((d) => d.key === 'default/missing')!
      .conditions.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({
      status: 'False',
      reason: 'FunctionNotFound',
      message: expect.stringContaining('no-such-function'),
    });
    // The function appears: the route recovers by itself on the next call.
    emulator.setFunction('no-such-function', { handler: () => ({ statusCode: 200, body: 'here now' }) });
    expect((await send(gw.url, { path: '/missing' })).text).toBe('here now');
    const after = gw.gateway.pipeline
      .diagnostics()
      .find((d) => d.key === 'default/missing')!
      .conditions.find((c) => c.type === 'Ready');
    expect(after).toMatchObject({ status: 'True' });
  });

  it('answers 202 with no body for Event invocations', async () => {
    const before = emulator.invocationCount('async');
    const response = await send(gw.url, { method: 'POST', path: '/async', body: 'fire and forget' });
    expect(response.status).toBe(202);
    expect(response.body.length).toBe(0);
    await emulator.settled();
    expect(emulator.invocationCount('async')).toBe(before + 1);
  });

  it('answers 413 before invoking when the event would be over 6 MB (sync) or 1 MB (Event)', async () => {
    const before = emulator.invocations.length;
    const sync = await send(gw.url, {
      method: 'POST',
      path: '/v2/big',
      body: randomBytes(5 * 1024 * 1024),
      headers: [['content-type', 'application/octet-stream']],
    });
    expect(sync.status).toBe(413); // 5 MB of binary is 6.7 MB once base64-encoded in the event
    const event = await send(gw.url, { method: 'POST', path: '/async', body: randomBytes(900 * 1024) });
    expect(event.status).toBe(413);
    expect(emulator.invocations.length).toBe(before);
  });

  it('never asks Lambda for the log tail', () => {
    expect(emulator.invocations.length).toBeGreaterThan(5);
    expect(emulator.invocations.filter((i) => i.logType !== undefined)).toEqual([]);
  });
});
