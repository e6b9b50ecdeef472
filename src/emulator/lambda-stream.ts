// Response streaming as Lambda runs it: the stream a streaming handler writes
// to (awslambda.streamifyResponse's responseStream, with
// HttpResponseStream.from for the HTTP metadata prelude), and the event
// stream InvokeWithResponseStream answers with (PayloadChunk events, then
// InvokeComplete), with backpressure from the caller's socket to the handler.
//
// Test functions can also make the emulated service break the stream
// (`breakWith`) and choose how frames reach the wire (`wire`).
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import {
  errorMessage,
  exceptionMessage,
  type InvokeComplete,
  invokeComplete,
  payloadChunk,
} from './eventstream.ts';

/** The content type HttpResponseStream.from sets: the stream starts with JSON metadata and 8 NUL bytes. */
export const METADATA_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
export const METADATA_DELIMITER = Buffer.alloc(8);

/**
 * How the emulated service breaks a stream after what the function wrote:
 * - `error-message`, `exception`: a `:message-type` error / exception message, then the HTTP body ends;
 * - `bad-prelude-crc`, `bad-message-crc`: a PayloadChunk with that CRC wrong;
 * - `bad-length`: a prelude (with a good CRC) announcing a 4 GB message;
 * - `truncated`: half a PayloadChunk, then the HTTP body ends;
 * - `no-complete`: the HTTP body ends without InvokeComplete;
 * - `reset`: the connection is destroyed.
 */
export type StreamFault =
  | 'error-message'
  | 'exception'
  | 'bad-prelude-crc'
  | 'bad-message-crc'
  | 'bad-length'
  | 'truncated'
  | 'no-complete'
  | 'reset';

export const STREAM_FAULTS: readonly StreamFault[] = [
  'error-message',
  'exception',
  'bad-prelude-crc',
  'bad-message-crc',
  'bad-length',
  'truncated',
  'no-complete',
  'reset',
];

/** How frames reach the wire: one write each, one byte per write, or all in one write at the end. */
export type WireShape = 'frames' | 'bytes' | 'merged';

/**
 * What a streaming handler writes its response to. Each write stays one piece
 * (one PayloadChunk), and a few pieces at most wait for the caller: past
 * that, write() returns false until it drains.
 */
export class ResponseStream extends PassThrough {
  contentType = 'application/octet-stream';
  /** Emulator only: set by breakWith. */
  fault: StreamFault | undefined;
  /** Emulator only: how InvokeWithResponseStream writes frames (read as each frame is written). */
  wire: WireShape = 'frames';

  constructor() {
    super({ readableObjectMode: true, readableHighWaterMark: 4 });
  }

  setContentType(contentType: string): void {
    this.contentType = contentType;
  }

  /** Emulator only: ends the function's stream and has the service break it with `fault`. */
  breakWith(fault: StreamFault): void {
    this.fault = fault;
    this.end();
  }
}

/** Like awslambda.HttpResponseStream: `from` writes the metadata prelude and returns the stream. */
export const HttpResponseStream = {
  from(stream: ResponseStream, metadata: Record<string, unknown>): ResponseStream {
    stream.setContentType(METADATA_CONTENT_TYPE);
    stream.write(JSON.stringify(metadata));
    stream.write(METADATA_DELIMITER);
    return stream;
  },
};

/** What a streaming invocation has sent so far, live. */
export interface StreamStats {
  /** Function bytes taken from its stream towards the caller. */
  bytes: number;
  chunks: number;
  /** The caller went away before the function's stream ended. */
  aborted: boolean;
}

/** How a streaming run ended, for InvokeComplete. */
export interface StreamEnd {
  /** The function's error type (Sandbox.Timedout for a timeout), absent on success. */
  errorType?: string;
  errorMessage?: string;
}

/**
 * The function's bytes as they come, counted into `stats`. Stopping early
 * (the caller went away) destroys the function's stream, so its writes fail
 * and a handler waiting for 'drain' sees 'close' instead.
 */
export async function* functionOutput(stream: ResponseStream, stats: StreamStats): AsyncGenerator<Buffer> {
  let ended = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      stats.bytes += chunk.length;
      stats.chunks++;
      yield chunk;
    }
    ended = true;
  } finally {
    if (!ended) stats.aborted = true;
  }
}

/** InvokeWithResponseStream's body: a PayloadChunk per function write, then InvokeComplete (or the fault). */
export async function* invokeStreamBody(
  stream: ResponseStream,
  stats: StreamStats,
  end: Promise<StreamEnd>,
  logResult: (() => string) | undefined,
): AsyncGenerator<Buffer> {
  yield* shapeWire(stream, frames(stream, stats, end, logResult));
}

async function* frames(
  stream: ResponseStream,
  stats: StreamStats,
  end: Promise<StreamEnd>,
  logResult: (() => string) | undefined,
): AsyncGenerator<Buffer> {
  for await (const chunk of functionOutput(stream, stats)) yield payloadChunk(chunk);
  if (stream.fault) {
    yield* faultFrames(stream.fault);
    return;
  }
  const { errorType, errorMessage } = await end;
  const complete: InvokeComplete = {};
  if (errorType !== undefined) complete.ErrorCode = errorType;
  if (errorMessage !== undefined) complete.ErrorDetails = errorMessage;
  if (logResult) complete.LogResult = logResult();
  yield invokeComplete(complete);
}

async function* faultFrames(fault: StreamFault): AsyncGenerator<Buffer> {
  const lost = payloadChunk(Buffer.from('bytes that never arrive intact'));
  switch (fault) {
    case 'error-message':
      yield errorMessage('ServiceException', 'The service encountered an internal error.');
      return;
    case 'exception':
      yield exceptionMessage('ServiceException', 'The service encountered an internal error.');
      return;
    case 'bad-prelude-crc':
      lost.writeUInt32BE((lost.readUInt32BE(8) ^ 1) >>> 0, 8);
      yield lost;
      return;
    case 'bad-message-crc':
      lost.writeUInt32BE((lost.readUInt32BE(lost.length - 4) ^ 1) >>> 0, lost.length - 4);
      yield lost;
      return;
    case 'bad-length': {
      const prelude = Buffer.alloc(12);
      prelude.writeUInt32BE(0xffff_ff00, 0);
      prelude.writeUInt32BE(0, 4);
      prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
      yield Buffer.concat([prelude, lost.subarray(12)]);
      return;
    }
    case 'truncated':
      yield lost.subarray(0, Math.floor(lost.length / 2));
      return;
    case 'no-complete':
      return;
    case 'reset':
      throw new Error('emulated connection reset');
  }
}

async function* shapeWire(stream: ResponseStream, frames: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const held: Buffer[] = [];
  for await (const frame of frames) {
    if (stream.wire === 'merged') {
      held.push(frame);
    } else if (stream.wire === 'bytes') {
      // A turn of the event loop between bytes, so that they leave in separate writes.
      for (let i = 0; i < frame.length; i++) {
        yield frame.subarray(i, i + 1);
        await nextTurn();
      }
    } else {
      yield frame;
    }
  }
  if (held.length > 0) yield Buffer.concat(held);
}
