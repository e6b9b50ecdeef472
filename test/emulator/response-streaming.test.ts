// InvokeWithResponseStream and RESPONSE_STREAM function URLs on the emulator,
// over real sockets, decoded with the data plane's own decoder: frames, CRCs,
// the metadata prelude, errors before and after the stream starts, faults,
// backpressure and callers that go away.
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventStreamError } from '../../src/dataplane/stream/eventstream.ts';
import {
  InvokeStreamDecoder,
  type InvokeStreamEvent,
  isTimeout,
} from '../../src/dataplane/stream/invoke-stream.ts';
import { PreludeReader } from '../../src/dataplane/stream/prelude.ts';
import { DEMO_CREDENTIALS, startDemoEmulator } from '../../src/emulator/demo.ts';
import {
  type Emulator,
  HttpResponseStream,
  type InvocationRecord,
  STREAM_FAULTS,
  startEmulator,
} from '../../src/emulator/server.ts';
import {
  STREAM_METADATA,
  streamCommand,
  streamedBody,
  streamOnCommand,
} from '../../src/emulator/streaming-functions.ts';
import { type ClientRequest, call, json, open, type Signing } from './client.ts';

const key = { accessKeyId: 'AKIDSTREAM', secretAccessKey: 'stream-secret' };
const signing: Signing = { credentials: key, service: 'lambda' };
const streamPath = (name: string) =>
  `/2021-11-15/functions/${encodeURIComponent(name)}/response-streaming-invocations`;

interface Decoded {
  res: IncomingMessage;
  events: InvokeStreamEvent[];
  /** The PayloadChunk bytes, concatenated. */
  body: Buffer;
  /** Network reads. */
  reads: number;
}

/** Reads a whole InvokeWithResponseStream answer through the data plane's decoder. */
async function decodeAll(res: IncomingMessage): Promise<Decoded> {
  const decoder = new InvokeStreamDecoder();
  const events: InvokeStreamEvent[] = [];
  let reads = 0;
  for await (const chunk of res) {
    reads++;
    events.push(...decoder.push(chunk as Buffer));
  }
  decoder.end();
  const body = Buffer.concat(events.flatMap((e) => (e.kind === 'chunk' ? [e.payload] : [])));
  return { res, events, body, reads };
}

/** Resolves when `condition` holds, checking on every turn of the event loop (no wall-clock bound). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('InvokeWithResponseStream', () => {
  let emulator: Emulator;
  const invoke = (
    name: string,
    event: unknown,
    req: Partial<ClientRequest> = {},
    sign: Signing | null = signing,
  ) =>
    open(
      emulator,
      { method: 'POST', path: streamPath(name), body: JSON.stringify(event), ...req },
      sign ?? undefined,
    );
  const stream = async (event: unknown, req: Partial<ClientRequest> = {}) =>
    decodeAll(await invoke('stream', event, req));
  const lastInvocation = () => emulator.invocations.at(-1) as InvocationRecord;
  let release: () => void = () => {};

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [key],
      functions: {
        stream: { streamingHandler: streamOnCommand, qualifiers: { live: '4' } },
        quick: { streamingHandler: streamOnCommand, timeoutMs: 100 },
        buffered: { handler: (event) => ({ echo: event }) },
        gated: {
          streamingHandler: async (_event, responseStream) => {
            responseStream.write('first');
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            responseStream.end('last');
          },
        },
        throttled: { streamingHandler: streamOnCommand, throttle: true },
      },
    });
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.clearRecords());

  it('answers an event stream of PayloadChunks and InvokeComplete, after checking the signature', async () => {
    const { res, events, body } = await stream({ chunks: 3, size: 4 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.amazon.eventstream');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['x-amz-executed-version']).toBe('$LATEST');
    expect(res.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(events.map((e) => e.kind)).toEqual(['chunk', 'chunk', 'chunk', 'complete']);
    expect(events.at(-1)).toEqual({ kind: 'complete' });
    expect(body.toString()).toBe('aaaabbbbcccc');
    expect(emulator.requests[0]).toMatchObject({ service: 'lambda-stream', verification: { ok: true } });
    await emulator.settled();
    expect(lastInvocation()).toMatchObject({
      functionName: 'stream',
      outcome: 'success',
      streamed: { bytes: 12, chunks: 3, aborted: false },
    });
  });

  it('accepts requests signed by @smithy/signature-v4, and Qualifier', async () => {
    const res = await invoke(
      'stream',
      { chunks: 1 },
      { query: 'Qualifier=live' },
      { ...signing, smithy: true },
    );
    const { events } = await decodeAll(res);
    expect(res.headers['x-amz-executed-version']).toBe('4');
    expect(events.at(-1)).toEqual({ kind: 'complete' });
  });

  it('rejects a missing or wrong signature as the Invoke API does, without running the function', async () => {
    const unsigned = await call(emulator, { method: 'POST', path: streamPath('stream'), body: '{}' });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    const wrong = await call(
      emulator,
      { method: 'POST', path: streamPath('stream'), body: '{}' },
      { ...signing, credentials: { ...key, secretAccessKey: 'nope' } },
    );
    expect(wrong.status).toBe(403);
    expect(wrong.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
    expect(emulator.invocationCount()).toBe(0);
  });

  it.each([
    ['an unknown function', 'nope', {}, 404, 'ResourceNotFoundException'],
    [
      'Event (there is no asynchronous streaming)',
      'stream',
      { headers: [['X-Amz-Invocation-Type', 'Event']] },
      400,
      'ValidationException',
    ],
    ['a body that is not JSON', 'stream', { body: '{oops' }, 400, 'InvalidRequestContentException'],
    ['a throttled function', 'throttled', {}, 429, 'TooManyRequestsException'],
  ] as [string, string, Partial<ClientRequest>, number, string][])(
    'answers %s before any stream, like Invoke',
    async (_, name, req, status, code) => {
      const res = await call(
        emulator,
        { method: 'POST', path: streamPath(name), body: '{}', ...req, headers: [...(req.headers ?? [])] },
        signing,
      );
      expect(res.status).toBe(status);
      expect(res.headers['x-amzn-errortype']).toBe(code);
      expect(res.headers['content-type']).toBe('application/json');
      if (code === 'ValidationException') {
        expect((json(res) as { message: string }).message).toContain('[RequestResponse, DryRun]');
      }
    },
  );

  it('answers DryRun with 204 and no stream', async () => {
    const res = await call(
      emulator,
      {
        method: 'POST',
        path: streamPath('stream'),
        body: '{}',
        headers: [['X-Amz-Invocation-Type', 'DryRun']],
      },
      signing,
    );
    expect(res.status).toBe(204);
    expect(emulator.invocationCount()).toBe(0);
  });

  it('puts the log tail in InvokeComplete for LogType Tail', async () => {
    const { events } = await stream({ chunks: 1 }, { headers: [['X-Amz-Log-Type', 'Tail']] });
    const complete = events.at(-1) as Extract<InvokeStreamEvent, { kind: 'complete' }>;
    expect(Buffer.from(complete.logResult ?? '', 'base64').toString()).toMatch(/^START RequestId: /);
  });

  it('streams the metadata prelude split over many PayloadChunks, which the prelude reader reassembles', async () => {
    const { events, body } = await stream({ metadata: 'split', status: 201, chunks: 2, size: 3 });
    const chunks = events.filter((e) => e.kind === 'chunk');
    expect(chunks.length).toBeGreaterThan(10);
    const reader = new PreludeReader();
    let result: ReturnType<PreludeReader['push']>;
    let index = 0;
    do result = reader.push((chunks[index++] as { payload: Uint8Array }).payload);
    while (result === undefined);
    expect(index).toBeGreaterThan(1);
    expect(result).toMatchObject({
      ok: true,
      head: {
        statusCode: 201,
        headers: [
          ['content-type', 'text/plain; charset=utf-8'],
          ['x-streamed', 'yes'],
          ['x-multi', 'a'],
          ['x-multi', 'b'],
          ['set-cookie', 's=1; Path=/'],
          ['set-cookie', 't=2; HttpOnly'],
        ],
      },
    });
    expect(body.subarray(body.indexOf(Buffer.alloc(8)) + 8).toString()).toBe('aaabbb');
    expect(JSON.parse(body.subarray(0, body.indexOf(Buffer.alloc(8))).toString())).toEqual({
      ...STREAM_METADATA,
      statusCode: 201,
    });
  });

  it('reports a function that throws mid-stream in InvokeComplete', async () => {
    const { events } = await stream({ chunks: 2, end: 'throw' });
    expect(events.map((e) => e.kind)).toEqual(['chunk', 'chunk', 'complete']);
    expect(events.at(-1)).toEqual({
      kind: 'complete',
      errorCode: 'Error',
      errorDetails: 'the function failed after streaming',
    });
    expect(lastInvocation().outcome).toBe('unhandled');
  });

  it('reports a function timeout in InvokeComplete, after what it wrote', async () => {
    const { res, events } = decodeAllOf(await invoke('quick', { chunks: 1, end: 'timeout' }));
    expect(res.statusCode).toBe(200);
    const decoded = await events;
    const complete = decoded.events.at(-1) as Extract<InvokeStreamEvent, { kind: 'complete' }>;
    expect(decoded.body.toString()).toBe('a'.repeat(16));
    expect(complete.errorCode).toBe('Sandbox.Timedout');
    expect(isTimeout(complete)).toBe(true);
  });

  it('streams a buffered function as one PayloadChunk', async () => {
    const res = await invoke('buffered', { n: 1 });
    const { events, body } = await decodeAll(res);
    expect(events.map((e) => e.kind)).toEqual(['chunk', 'complete']);
    expect(JSON.parse(body.toString())).toEqual({ echo: { n: 1 } });
  });

  it('buffers a streaming function called through Invoke, as Lambda does', async () => {
    const res = await call(
      emulator,
      { method: 'POST', path: '/2015-03-31/functions/stream/invocations', body: '{"chunks":2,"size":2}' },
      signing,
    );
    expect(res.status).toBe(200);
    expect(res.body).toBe('aabb');
  });

  it('sends each write as it is made, while the function is still running', async () => {
    const res = await invoke('gated', {});
    const decoder = new InvokeStreamDecoder();
    const seen: string[] = [];
    for await (const chunk of res) {
      for (const event of decoder.push(chunk as Buffer)) {
        seen.push(event.kind === 'chunk' ? Buffer.from(event.payload).toString() : event.kind);
        if (seen.length === 1) {
          // The function is blocked until released: the first write reached the caller before it ended.
          expect(emulator.invocations.at(-1)?.outcome).toBeUndefined();
          release();
        }
      }
    }
    decoder.end();
    expect(seen).toEqual(['first', 'last', 'complete']);
  });

  it.each([
    ['frames', 1],
    ['bytes', 2],
    ['merged', 1],
  ])('decodes frames written as %s', async (wire, minReads) => {
    const command = { chunks: 4, size: 5, metadata: 'one', wire };
    const { events, body, reads } = await stream(command);
    expect(events.at(-1)).toEqual({ kind: 'complete' });
    expect(body.subarray(body.indexOf(Buffer.alloc(8)) + 8)).toEqual(streamedBody(streamCommand(command)));
    expect(reads).toBeGreaterThanOrEqual(minReads);
    if (wire === 'bytes') expect(reads).toBeGreaterThan(events.length);
  });

  const faults: [string, (decoded: Promise<Decoded>) => Promise<void>][] = STREAM_FAULTS.map((fault) => [
    fault,
    async (decoded) => {
      if (fault === 'error-message' || fault === 'exception') {
        const { events } = await decoded;
        expect(events.at(-1)).toMatchObject({ kind: 'error', code: 'ServiceException' });
      } else if (fault === 'reset') {
        await expect(decoded).rejects.toThrow(/aborted|ECONNRESET|socket hang up/);
      } else {
        await expect(decoded).rejects.toThrow(EventStreamError);
      }
    },
  ]);
  it.each(faults)('breaks the stream with %s after the writes', async (fault, check) => {
    const res = await invoke('stream', { chunks: 2, end: fault });
    expect(res.statusCode).toBe(200);
    const chunks: string[] = [];
    const decoder = new InvokeStreamDecoder();
    const decoded = (async (): Promise<Decoded> => {
      const events: InvokeStreamEvent[] = [];
      for await (const chunk of res) {
        for (const event of decoder.push(chunk as Buffer)) {
          events.push(event);
          if (event.kind === 'chunk') chunks.push(Buffer.from(event.payload).toString());
        }
      }
      decoder.end();
      return { res, events, body: Buffer.alloc(0), reads: 0 };
    })();
    await check(decoded);
    expect(chunks.slice(0, 2)).toEqual(['a'.repeat(16), 'b'.repeat(16)]);
  });

  it('generates a large stream lazily: a caller that stops reading stops the function, one that leaves ends it', async () => {
    const res = await invoke('stream', { bytes: 256 * 1024 * 1024, size: 64 * 1024 });
    res.pause();
    await until(() => (emulator.invocations.at(-1)?.streamed?.bytes ?? 0) > 0);
    // Wait until the function stalls on backpressure: no progress over many event-loop turns.
    const record = lastInvocation();
    let last = -1;
    let still = 0;
    while (still < 200) {
      await new Promise((resolve) => setImmediate(resolve));
      if (record.streamed!.bytes === last) still++;
      else {
        last = record.streamed!.bytes;
        still = 0;
      }
    }
    expect(record.streamed!.bytes).toBeLessThan(16 * 1024 * 1024);
    res.destroy();
    await record.done;
    expect(record.streamed).toMatchObject({ aborted: true });
    expect(record.streamed!.bytes).toBeLessThan(32 * 1024 * 1024);
  });

  it('streams 20 MB intact, chunk by chunk', async () => {
    const command = { bytes: 20 * 1024 * 1024 + 7, size: 256 * 1024 };
    const res = await invoke('stream', command);
    const decoder = new InvokeStreamDecoder();
    let index = 0;
    let bytes = 0;
    for await (const chunk of res) {
      for (const event of decoder.push(chunk as Buffer)) {
        if (event.kind !== 'chunk') continue;
        const letter = 0x61 + (index++ % 26);
        expect(event.payload.every((b) => b === letter)).toBe(true);
        bytes += event.payload.length;
      }
    }
    decoder.end();
    expect(bytes).toBe(command.bytes);
    expect(index).toBe(streamCommand(command).chunks);
  });
});

/** decodeAll, with the response at hand before its body is read. */
function decodeAllOf(res: IncomingMessage) {
  return { res, events: decodeAll(res) };
}

describe('RESPONSE_STREAM function URL', () => {
  let emulator: Emulator;
  let release: () => void = () => {};
  const get = (query: string, sign: Signing | null = { ...signing }) =>
    open(emulator, { method: 'GET', path: '/url', query }, sign ?? undefined);
  const read = async (res: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString();
  };

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [key],
      functions: {
        stream: { streamingHandler: streamOnCommand },
        gated: {
          streamingHandler: async (_event, responseStream) => {
            const http = HttpResponseStream.from(responseStream, { statusCode: 202 });
            http.write('first');
            await new Promise<void>((resolve) => {
              release = resolve;
            });
            http.end('last');
          },
        },
      },
      endpoints: [
        {
          kind: 'function-url',
          path: '/url',
          auth: 'iam',
          invokeMode: 'RESPONSE_STREAM',
          functionName: 'stream',
        },
        {
          kind: 'function-url',
          path: '/gated',
          auth: 'none',
          invokeMode: 'RESPONSE_STREAM',
          functionName: 'gated',
        },
      ],
    });
  });
  afterAll(() => emulator.close());

  it('answers with the metadata status, headers and cookies, chunked, without the function content-length', async () => {
    const res = await get('metadata=one&status=201&chunks=2&size=3');
    expect(res.statusCode).toBe(201);
    expect(res.headers).toMatchObject({
      'content-type': 'text/plain; charset=utf-8',
      'x-streamed': 'yes',
      'x-multi': 'a, b',
      'set-cookie': ['s=1; Path=/', 't=2; HttpOnly'],
      'transfer-encoding': 'chunked',
    });
    expect(res.headers['content-length']).toBeUndefined();
    expect(await read(res)).toBe('aaabbb');
    expect(emulator.requests.at(-1)).toMatchObject({ service: 'function-url', verification: { ok: true } });
  });

  it('finds metadata split over many writes', async () => {
    const res = await get('metadata=split&status=203&chunks=1&size=2');
    expect(res.statusCode).toBe(203);
    expect(await read(res)).toBe('aa');
  });

  it('answers 200 application/octet-stream without metadata', async () => {
    const res = await get('chunks=2&size=2');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(await read(res)).toBe('aabb');
  });

  it('checks IAM auth like other function URLs', async () => {
    const res = await get('chunks=1', null);
    expect(res.statusCode).toBe(403);
    expect(res.headers['x-amzn-errortype']).toBe('AccessDeniedException');
    await read(res);
  });

  it('answers 502 when the function fails before writing, and cuts the body when it fails after', async () => {
    const before = await get('chunks=0&end=throw');
    expect(before.statusCode).toBe(502);
    expect(JSON.parse(await read(before))).toEqual({ message: 'Internal server error' });
    const after = await get('chunks=2&end=throw');
    expect(after.statusCode).toBe(200);
    await expect(read(after)).rejects.toThrow(/aborted|ECONNRESET/);
  });

  it('sends the first write while the function is still running', async () => {
    const res = await open(emulator, { method: 'GET', path: '/gated' });
    expect(res.statusCode).toBe(202);
    const seen: string[] = [];
    for await (const chunk of res) {
      seen.push((chunk as Buffer).toString());
      if (seen.length === 1) {
        expect(emulator.invocations.at(-1)?.outcome).toBeUndefined();
        release();
      }
    }
    expect(seen.join('')).toBe('firstlast');
    expect(seen[0]).toBe('first');
  });
});

describe('the demo emulator', () => {
  it('serves the stream function on InvokeWithResponseStream and behind a RESPONSE_STREAM function URL', async () => {
    const demo = await startDemoEmulator({ host: '127.0.0.1', port: 0 });
    try {
      const demoSigning: Signing = { credentials: DEMO_CREDENTIALS, service: 'lambda' };
      const invoked = await open(
        demo,
        { method: 'POST', path: streamPath('stream'), body: '{"chunks":2,"size":3}' },
        demoSigning,
      );
      const { events, body } = await decodeAll(invoked);
      expect(body.toString()).toBe('aaabbb');
      expect(events.at(-1)).toEqual({ kind: 'complete' });
      const url = await call(
        demo,
        { path: '/stream', query: 'metadata=one&status=201&chunks=1&size=2' },
        demoSigning,
      );
      expect(url.status).toBe(201);
      expect(url.body).toBe('aa');
    } finally {
      await demo.close();
    }
  });
});
