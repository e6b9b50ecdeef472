// A streaming test function that streams what its request asks for, so that
// data-plane tests and benchmarks can order exactly the stream they need:
//
//   emulator.setFunction('stream', { streamingHandler: streamOnCommand });
//   GET /route?chunks=3&size=16&delayMs=10&metadata=split&end=reset
//
// The options come from the event's query string (payload 2.0 rawQueryString,
// else 1.0/alb queryStringParameters) or, for a direct invocation, from the
// event object itself ({"chunks": 3, ...}):
//
//   chunks    number of body writes (default 3)
//   size      bytes per write (default 16; 65536 with `bytes`)
//   bytes     total body bytes instead of `chunks`: ceil(bytes/size) writes,
//             generated one at a time as the caller reads (backpressure), so
//             a 100 MB stream costs a few chunks of memory
//   delayMs   pause before every write after the first (default 0)
//   metadata  none (default) | one: HttpResponseStream.from(STREAM_METADATA)
//             | split: the same prelude written in 5-byte pieces, so that it
//             spans many PayloadChunks
//   status    statusCode in the metadata (default 200)
//   end       complete (default) | throw: the function throws after its
//             writes | timeout: it never ends (set the function's timeoutMs)
//             | a StreamFault (lambda-stream.ts: error-message, exception,
//             bad-prelude-crc, bad-message-crc, bad-length, truncated,
//             no-complete, reset), which the emulated service commits after
//             the writes
//   wire      frames (default) | bytes: every frame byte in its own write |
//             merged: all frames in one write at the end
//
// Body write i is `size` bytes of the letter 'a' + i % 26 (see streamedBody).
// A caller that goes away stops the writes (see InvocationRecord.streamed).
import { setTimeout as sleep } from 'node:timers/promises';
import type { StreamingHandler } from './lambda-invoke.ts';
import {
  HttpResponseStream,
  METADATA_CONTENT_TYPE,
  METADATA_DELIMITER,
  type ResponseStream,
  STREAM_FAULTS,
  type StreamFault,
  type WireShape,
} from './lambda-stream.ts';

export interface StreamCommand {
  chunks: number;
  size: number;
  /** Body bytes in all (the last write may be short). */
  bytes: number;
  delayMs: number;
  metadata: 'none' | 'one' | 'split';
  status: number;
  end: 'complete' | 'throw' | 'timeout' | StreamFault;
  wire: WireShape;
}

/** The metadata prelude `metadata=one|split` writes (with `status` as statusCode). */
export const STREAM_METADATA = {
  statusCode: 200,
  headers: {
    'content-type': 'text/plain; charset=utf-8',
    'x-streamed': 'yes',
    'x-multi': ['a', 'b'],
    'content-length': '1',
  },
  cookies: ['s=1; Path=/', 't=2; HttpOnly'],
};

const ENDS = ['complete', 'throw', 'timeout', ...STREAM_FAULTS];

export const streamOnCommand: StreamingHandler = async (event, stream) => {
  const command = streamCommand(event);
  stream.wire = command.wire;
  if (command.metadata === 'one') {
    HttpResponseStream.from(stream, { ...STREAM_METADATA, statusCode: command.status });
  } else if (command.metadata === 'split') {
    stream.setContentType(METADATA_CONTENT_TYPE);
    const prelude = Buffer.concat([
      Buffer.from(JSON.stringify({ ...STREAM_METADATA, statusCode: command.status })),
      METADATA_DELIMITER,
    ]);
    for (let at = 0; at < prelude.length; at += 5) {
      if (!(await write(stream, prelude.subarray(at, at + 5)))) return;
    }
  }
  for (let i = 0; i < command.chunks; i++) {
    if (i > 0 && command.delayMs > 0) await sleep(command.delayMs);
    if (!(await write(stream, chunkOf(command, i)))) return;
  }
  if (command.end === 'complete') stream.end();
  else if (command.end === 'throw') throw new Error('the function failed after streaming');
  else if (command.end === 'timeout') await closed(stream);
  else stream.breakWith(command.end);
};

/** The body a command streams (for small streams: it is built whole). */
export function streamedBody(command: StreamCommand): Buffer {
  return Buffer.concat(Array.from({ length: command.chunks }, (_, i) => chunkOf(command, i)));
}

/** The command in an event (see the top of this file); a bad option throws, failing the function. */
export function streamCommand(event: unknown): StreamCommand {
  const options = commandOptions(event);
  const number = (name: string, fallback: number, min: number) => {
    const value = options[name] === undefined ? fallback : Number(options[name]);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`stream option ${name} must be an integer >= ${min}`);
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly string[], fallback: T): T => {
    const value = options[name] === undefined ? fallback : String(options[name]);
    if (!allowed.includes(value))
      throw new Error(`stream option ${name} must be one of ${allowed.join(', ')}`);
    return value as T;
  };
  const total = options['bytes'] === undefined ? undefined : number('bytes', 0, 0);
  const size = number('size', total === undefined ? 16 : 65536, 1);
  const chunks = total === undefined ? number('chunks', 3, 0) : Math.ceil(total / size);
  return {
    chunks,
    size,
    bytes: total ?? chunks * size,
    delayMs: number('delayMs', 0, 0),
    metadata: oneOf('metadata', ['none', 'one', 'split'], 'none'),
    status: number('status', 200, 100),
    end: oneOf('end', ENDS, 'complete'),
    wire: oneOf('wire', ['frames', 'bytes', 'merged'], 'frames'),
  };
}

function commandOptions(event: unknown): Record<string, unknown> {
  if (typeof event !== 'object' || event === null) return {};
  const fields = event as Record<string, unknown>;
  if (typeof fields['rawQueryString'] === 'string') {
    return Object.fromEntries(new URLSearchParams(fields['rawQueryString']));
  }
  const query = fields['queryStringParameters'];
  if (typeof query === 'object' && query !== null) return query as Record<string, unknown>;
  return 'requestContext' in fields || 'httpMethod' in fields ? {} : fields;
}

function chunkOf(command: StreamCommand, i: number): Buffer {
  return Buffer.alloc(Math.min(command.size, command.bytes - i * command.size), 0x61 + (i % 26));
}

/** Writes with backpressure; false when the caller went away (the stream was destroyed). */
async function write(stream: ResponseStream, chunk: Buffer): Promise<boolean> {
  if (stream.destroyed) return false;
  if (!stream.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        stream.off('drain', done).off('close', done);
        resolve();
      };
      stream.on('drain', done).on('close', done);
    });
  }
  return !stream.destroyed;
}

/** Resolves when the service ends the stream (a timeout) or the caller goes away. */
function closed(stream: ResponseStream): Promise<void> {
  return new Promise((resolve) => stream.once('finish', resolve).once('close', resolve));
}
