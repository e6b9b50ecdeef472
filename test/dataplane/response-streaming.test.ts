// Response streaming end to end, over real sockets: a real data plane calling
// the emulator's InvokeWithResponseStream (invokeMode ResponseStream), and url
// routes in front of a RESPONSE_STREAM function URL. The stream's bytes reach
// the client as they come; failures before the head are the documented
// error responses, after it a cut connection and an access log that says why.
import { type IncomingHttpHeaders, request } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Emulator,
  HttpResponseStream,
  type InvocationRecord,
  startEmulator,
} from '../../src/emulator/server.ts';
import { STREAM_METADATA, streamOnCommand } from '../../src/emulator/streaming-functions.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDSTREAM', secretAccessKey: 'stream-secret-key' };
/** The gateway's test-only cap on a response stream (Lambda's is 200 MB). */
const LIMIT = 1_000_000;

interface Streamed {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The response ended cleanly (the terminating chunk arrived); false when the connection was cut. */
  complete: boolean;
}

interface StreamOptions {
  method?: string;
  /** Called when the status and headers have arrived. */
  onHead?: () => void;
  /** Called with each chunk of the body as it arrives; `stop` destroys the connection. */
  onChunk?: (chunk: Buffer, stop: () => void) => void;
}

/** Which order things happened in, for tests that assert on it. */
type Timeline = string[];

/** Resolves once `condition` holds, checking every 10 ms (no wall-clock assertion: a hang is the test's timeout). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('response streaming', () => {
  let emulator: Emulator;
  let gw: TestGateway;
  let timeline: Timeline = [];
  let release: () => void = () => {};
  let requestCount = 0;

  /** GETs `path` with a fresh x-request-id, reading the body as it comes. */
  function get(path: string, options: StreamOptions = {}): Promise<Streamed & { requestId: string }> {
    const url = new URL(gw.url);
    const requestId = `stream-test-${++requestCount}`;
    return new Promise((resolve, reject) => {
      const client = request(
        {
          host: url.hostname,
          port: url.port,
          path,
          method: options.method ?? 'GET',
          headers: { 'x-request-id': requestId },
          agent: false,
        },
        (res) => {
          options.onHead?.();
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            options.onChunk?.(chunk, () => client.destroy());
          });
          res.on('error', () => {});
          res.on('close', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks),
              complete: res.complete,
              requestId,
            }),
          );
        },
      );
      client.on('error', reject);
      client.end();
    });
  }

  /** The access log line of a request (written once its handler is done, which may be after the client saw the cut). */
  async function logOf(requestId: string): Promise<Record<string, unknown>> {
    const line = () => gw.accessLog().find((l) => l['requestId'] === requestId);
    await until(() => line() !== undefined);
    return line()!;
  }

  const invocationOf = (requestId: string) =>
    emulator.invocations.find(
      (i) => (i.event as { requestContext?: { requestId?: string } }).requestContext?.requestId === requestId,
    ) as InvocationRecord;

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [KEYS],
      endpoints: [
        {
          kind: 'function-url',
          path: '/url/stream',
          auth: 'iam',
          invokeMode: 'RESPONSE_STREAM',
          functionName: 'stream',
        },
        {
          kind: 'function-url',
          path: '/url/gated',
          auth: 'iam',
          invokeMode: 'RESPONSE_STREAM',
          functionName: 'gated',
        },
      ],
      functions: {
        stream: { streamingHandler: streamOnCommand, timeoutMs: 60_000 },
        quick: { streamingHandler: streamOnCommand, timeoutMs: 200 },
        // Writes, then waits until the test releases it: what the client saw by then was streamed.
        gated: {
          streamingHandler: async (_event, responseStream) => {
            responseStream.write('first ');
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            timeline.push('function ends');
            responseStream.end('last');
          },
          timeoutMs: 60_000,
        },
        // Sets its head, then waits until released: a server-sent event stream with nothing to say yet.
        'gated-head': {
          streamingHandler: async (_event, responseStream) => {
            HttpResponseStream.from(responseStream, {
              statusCode: 200,
              headers: { 'content-type': 'text/event-stream' },
            });
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            timeline.push('function ends');
            responseStream.end('data: done\n\n');
          },
          timeoutMs: 60_000,
        },
        throttled: { streamingHandler: streamOnCommand, throttle: true },
      },
    });
    const route = (name: string, fn: string, extra = '') =>
      lambdaRoute(
        name,
        `match: {path: /${name}}
target: {function: {name: ${fn}, invokeMode: ResponseStream, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}
${extra}`,
      );
    const urlRoute = (name: string, path: string) =>
      lambdaRoute(
        name,
        `match: {path: /${name}}
target: {url: "${emulator.url}${path}"}
auth: {iam: {secretRef: {name: keys}, service: lambda}}`,
      );
    gw = await startTestGateway(
      {
        'keys.yaml': credentialsSecret('keys', KEYS),
        'routes.yaml': documents(
          route('stream', 'stream', 'timeout: 10s'),
          route('idle', 'stream', 'timeout: 300ms'),
          route('quick', 'quick'),
          route('gated', 'gated', 'timeout: 30s'),
          route('gated-head', 'gated-head', 'timeout: 30s'),
          route('throttled', 'throttled'),
          route('missing', 'no-such-function'),
          urlRoute('url-stream', '/url/stream'),
          urlRoute('url-gated', '/url/gated'),
        ),
      },
      { responseStreamLimit: LIMIT },
    );
  });
  afterAll(async () => {
    release();
    await gw?.close();
    await emulator?.close();
  });
  beforeEach(() => {
    timeline = [];
  });

  describe('the head', () => {
    it('is 200 application/octet-stream for a stream without metadata, sent chunked', async () => {
      const res = await get('/stream?chunks=3&size=4');
      expect(res).toMatchObject({ status: 200, complete: true });
      expect(res.body.toString()).toBe('aaaabbbbcccc');
      expect(res.headers).toMatchObject({
        'content-type': 'application/octet-stream',
        'transfer-encoding': 'chunked',
        'x-request-id': res.requestId,
        'x-amzn-requestid': expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(res.headers['content-length']).toBeUndefined();
      const log = await logOf(res.requestId);
      expect(log).toMatchObject({ status: 200, upstreamRequestId: res.headers['x-amzn-requestid'] });
      expect(log['upstreamError']).toBeUndefined();
      // The same event a buffered route sends: here its query carried the command.
      expect(invocationOf(res.requestId).event).toMatchObject({
        version: '2.0',
        rawPath: '/stream',
        rawQueryString: 'chunks=3&size=4',
      });
    });

    it.each([
      ['in one PayloadChunk', 'one'],
      ['spanning many PayloadChunks', 'split'],
    ])(
      'comes from the metadata prelude %s: status, headers, one set-cookie per cookie, no content-length',
      async (_, metadata) => {
        const res = await get(`/stream?metadata=${metadata}&status=201&chunks=2&size=3`);
        expect(res).toMatchObject({ status: 201, complete: true });
        expect(res.body.toString()).toBe('aaabbb');
        expect(res.headers).toMatchObject({
          'content-type': STREAM_METADATA.headers['content-type'],
          'x-streamed': 'yes',
          'x-multi': 'a, b',
          'set-cookie': STREAM_METADATA.cookies,
          'transfer-encoding': 'chunked',
          'x-request-id': res.requestId,
        });
        expect(res.headers['content-length']).toBeUndefined();
      },
    );

    it.each([
      ['split at every byte boundary (each frame byte in its own write)', 'bytes'],
      ['merged several per read (all frames in one write)', 'merged'],
    ])('is the same with frames %s', async (_, wire) => {
      const res = await get(`/stream?metadata=one&chunks=4&size=5&wire=${wire}`);
      expect(res).toMatchObject({ status: 200, complete: true });
      expect(res.headers['x-streamed']).toBe('yes');
      expect(res.body.toString()).toBe('aaaaabbbbbcccccddddd');
    });

    it('is sent with the first chunk, while the function is still running', async () => {
      const res = await get('/gated', {
        onChunk: (chunk) => {
          timeline.push(`client reads ${chunk.toString().trim()}`);
          release();
        },
      });
      expect(res).toMatchObject({ status: 200, complete: true });
      expect(res.body.toString()).toBe('first last');
      expect(timeline).toEqual(['client reads first', 'function ends', 'client reads last']);
    });

    it('is sent as soon as the metadata is complete, before any body byte', async () => {
      const res = await get('/gated-head', {
        onHead: () => {
          timeline.push('client gets the head');
          release();
        },
      });
      expect(res).toMatchObject({ status: 200, complete: true });
      expect(res.headers['content-type']).toBe('text/event-stream');
      expect(res.body.toString()).toBe('data: done\n\n');
      expect(timeline).toEqual(['client gets the head', 'function ends']);
    });
  });

  describe('before the head: the documented error responses', () => {
    it.each([
      [
        'InvokeComplete with an ErrorCode',
        '/stream?chunks=0&end=throw',
        502,
        'function_error',
        'function_error',
      ],
      ['a function timeout', '/quick?chunks=0&end=timeout', 504, 'function_timeout', 'function_timeout'],
      [
        'an error message from Lambda',
        '/stream?chunks=0&end=error-message',
        502,
        'invoke_failed',
        'invoke_failed',
      ],
      ['an exception from Lambda', '/stream?chunks=0&end=exception', 502, 'invoke_failed', 'invoke_failed'],
      [
        'a bad prelude CRC',
        '/stream?chunks=0&end=bad-prelude-crc',
        502,
        'bad_upstream_response',
        'bad_response',
      ],
      [
        'a bad message CRC',
        '/stream?chunks=0&end=bad-message-crc',
        502,
        'bad_upstream_response',
        'bad_response',
      ],
      [
        'a message length beyond any limit',
        '/stream?chunks=0&end=bad-length',
        502,
        'bad_upstream_response',
        'bad_response',
      ],
      [
        'a stream without InvokeComplete',
        '/stream?chunks=0&end=no-complete',
        502,
        'bad_upstream_response',
        'bad_response',
      ],
      ['a connection reset', '/stream?chunks=0&end=reset', 502, 'upstream_unavailable', 'reset'],
      ['no byte within the timeout', '/idle?chunks=0&end=timeout', 504, 'upstream_timeout', 'timeout'],
      ['a throttled function (429 before any stream)', '/throttled', 429, 'throttled', 'throttled'],
      ['a function that does not exist', '/missing', 502, 'function_not_found', 'function_not_found'],
    ])('%s', async (_, path, status, error, kind) => {
      const res = await get(path);
      expect(res.status, res.body.toString()).toBe(status);
      expect(res.complete).toBe(true);
      const body = JSON.parse(res.body.toString());
      expect(body).toMatchObject({ error, requestId: res.requestId });
      // What the function or Lambda said about the failure stays out of the answer.
      expect(body.message).not.toMatch(/function failed after streaming|internal error|Task timed out/);
      if (error === 'throttled') expect(res.headers['retry-after']).toBeDefined();
      expect(await logOf(res.requestId)).toMatchObject({ status, upstreamError: kind });
    });

    it('metadata that is not valid is a 502 that does not quote it', async () => {
      emulator.setFunction('bad-metadata', {
        streamingHandler: async (_event, responseStream) => {
          responseStream.write('{"statusCode":"secret-status"}');
          responseStream.end(Buffer.alloc(8));
        },
      });
      gw.write(
        'bad.yaml',
        lambdaRoute(
          'bad-metadata',
          `match: {path: /bad-metadata}
target: {function: {name: bad-metadata, invokeMode: ResponseStream, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: keys}}}`,
        ),
      );
      await gw.nextVersion();
      const res = await get('/bad-metadata');
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error: 'bad_upstream_response' });
      expect(res.body.toString()).not.toContain('secret-status');
    });
  });

  describe('after the head: the connection is cut, the access log says why', () => {
    it.each([
      ['InvokeComplete with an ErrorCode', '/stream?chunks=2&end=throw', 'function_error'],
      ['a function timeout', '/quick?chunks=2&end=timeout', 'function_timeout'],
      ['an error message from Lambda', '/stream?chunks=2&end=error-message', 'invoke_failed'],
      ['a bad message CRC', '/stream?chunks=2&end=bad-message-crc', 'bad_response'],
      ['a truncated frame', '/stream?chunks=2&end=truncated', 'bad_response'],
      ['a connection reset', '/stream?chunks=2&end=reset', 'reset'],
      ['no next chunk within the timeout', '/idle?chunks=2&delayMs=5000', 'timeout'],
    ])('%s', async (_, path, kind) => {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.complete).toBe(false);
      // What had come is there; nothing of the failure is.
      expect(res.body.toString().startsWith('a'.repeat(16))).toBe(true);
      expect(res.body.toString()).toMatch(/^[a-b]*$/);
      expect(await logOf(res.requestId)).toMatchObject({ status: 200, upstreamError: kind });
    });

    it('past the size limit', async () => {
      const res = await get(`/stream?bytes=${3 * LIMIT}&size=65536`);
      expect(res).toMatchObject({ status: 200, complete: false });
      expect(res.body.length).toBeLessThanOrEqual(LIMIT);
      expect(await logOf(res.requestId)).toMatchObject({ status: 200, upstreamError: 'bad_response' });
    });

    it('counts the cut in lambda_ingress_upstream_errors_total', async () => {
      await get('/stream?chunks=2&end=throw');
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(
        /lambda_ingress_upstream_errors_total\{route="stream",namespace="default",kind="function_error"\} [1-9]/,
      );
    });
  });

  it('stops reading from Lambda when the client goes away', async () => {
    const res = await get('/stream?chunks=10000&size=100&delayMs=1', {
      onChunk: (_chunk, stop) => stop(),
    });
    expect(res.complete).toBe(false);
    await until(() => invocationOf(res.requestId)?.streamed?.aborted === true);
    const { streamed } = invocationOf(res.requestId);
    expect(streamed!.bytes).toBeLessThan(1_000_000);
    expect(await logOf(res.requestId)).toMatchObject({ status: 499, upstreamError: 'client_closed' });
  });

  it('answers HEAD with the head alone', async () => {
    const res = await get('/stream?metadata=one&status=203', { method: 'HEAD' });
    expect(res).toMatchObject({ status: 203, complete: true });
    expect(res.headers['x-streamed']).toBe('yes');
    expect(res.body.length).toBe(0);
  });

  describe('url targets in front of a RESPONSE_STREAM function URL', () => {
    it('pass each chunk on as it comes, while the function is still running', async () => {
      const res = await get('/url-gated', {
        onChunk: (chunk) => {
          timeline.push(`client reads ${chunk.toString().trim()}`);
          release();
        },
      });
      expect(res).toMatchObject({ status: 200, complete: true });
      expect(res.body.toString()).toBe('first last');
      expect(timeline).toEqual(['client reads first', 'function ends', 'client reads last']);
    });

    it('pass the status and headers of the metadata, and a cut after the head', async () => {
      const ok = await get('/url-stream?metadata=split&status=201&chunks=2&size=3');
      expect(ok).toMatchObject({ status: 201, complete: true });
      expect(ok.headers).toMatchObject({ 'x-streamed': 'yes', 'transfer-encoding': 'chunked' });
      expect(ok.body.toString()).toBe('aaabbb');
      const cut = await get('/url-stream?chunks=2&end=throw');
      expect(cut).toMatchObject({ status: 200, complete: false });
      expect(cut.body.toString()).toBe(`${'a'.repeat(16)}${'b'.repeat(16)}`);
    });
  });
});
