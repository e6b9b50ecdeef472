// The InvokeWithResponseStream decoder on frames written by the emulator's
// independent encoder (and by smithy's): reassembly across every chunk
// boundary, several messages per chunk, and every way a stream can be broken.
import { crc32 } from 'node:zlib';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { describe, expect, it } from 'vitest';
import {
  EventStreamDecoder,
  EventStreamError,
  MAX_MESSAGE_BYTES,
} from '../../../src/dataplane/stream/eventstream.ts';
import {
  InvokeStreamDecoder,
  type InvokeStreamEvent,
  isTimeout,
} from '../../../src/dataplane/stream/invoke-stream.ts';
import {
  encodeMessage,
  errorMessage,
  exceptionMessage,
  invokeComplete,
  payloadChunk,
} from '../../../src/emulator/eventstream.ts';

const bytes = (text: string) => Buffer.from(text, 'utf8');

/** Decodes `chunks` as one HTTP body, returning the events with payloads as text. */
function decode(chunks: readonly Uint8Array[], decoder = new InvokeStreamDecoder()) {
  const events: InvokeStreamEvent[] = [];
  for (const chunk of chunks) events.push(...decoder.push(chunk));
  decoder.end();
  return events.map((e) =>
    e.kind === 'chunk' ? { kind: 'chunk', text: Buffer.from(e.payload).toString() } : e,
  );
}

/** A 12-byte prelude with a correct CRC, whatever the lengths say. */
function prelude(total: number, headers: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(headers, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  return out;
}

const STREAM = Buffer.concat([
  payloadChunk(bytes('{"statusCode":201}')),
  payloadChunk(new Uint8Array(8)),
  payloadChunk(bytes('')),
  payloadChunk(bytes('héllo, ')),
  payloadChunk(bytes('world')),
  invokeComplete({}),
]);
const EXPECTED = [
  { kind: 'chunk', text: '{"statusCode":201}' },
  { kind: 'chunk', text: '\0'.repeat(8) },
  { kind: 'chunk', text: '' },
  { kind: 'chunk', text: 'héllo, ' },
  { kind: 'chunk', text: 'world' },
  { kind: 'complete' },
];

describe('event stream decoding', () => {
  it('decodes a whole stream given in one chunk (several messages per chunk)', () => {
    expect(decode([STREAM])).toEqual(EXPECTED);
  });

  it('reassembles messages split at every byte boundary', () => {
    for (let cut = 1; cut < STREAM.length; cut++) {
      expect(decode([STREAM.subarray(0, cut), STREAM.subarray(cut)]), `cut at ${cut}`).toEqual(EXPECTED);
    }
  });

  it('reassembles a stream that arrives one byte at a time, and in chunks of every size', () => {
    for (let size = 1; size <= 40; size++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < STREAM.length; at += size) chunks.push(STREAM.subarray(at, at + size));
      expect(decode(chunks), `chunks of ${size}`).toEqual(EXPECTED);
    }
  });

  it('keeps no reference to a chunk it copied from (a reused network buffer stays safe)', () => {
    const frame = payloadChunk(bytes('abcdef'));
    const scratch = Buffer.from(frame);
    const decoder = new InvokeStreamDecoder();
    expect([...decoder.push(scratch.subarray(0, 20))]).toEqual([]);
    scratch.fill(0xff, 0, 20);
    const [event] = [...decoder.push(frame.subarray(20))];
    expect(event?.kind === 'chunk' && Buffer.from(event.payload).toString()).toBe('abcdef');
  });

  it('decodes frames written by smithy, and the emulator frames are what smithy writes', () => {
    const codec = new EventStreamCodec(
      (b) => Buffer.from(b).toString(),
      (s) => Buffer.from(s),
    );
    const headers = {
      ':event-type': { type: 'string', value: 'PayloadChunk' },
      ':content-type': { type: 'string', value: 'application/octet-stream' },
      ':message-type': { type: 'string', value: 'event' },
    } as const;
    const smithyFrame = codec.encode({ headers, body: bytes('from smithy') });
    expect(Buffer.from(smithyFrame)).toEqual(payloadChunk(bytes('from smithy')));
    expect(decode([smithyFrame, invokeComplete({})])).toEqual([
      { kind: 'chunk', text: 'from smithy' },
      { kind: 'complete' },
    ]);
  });

  it('reports how the function ended, and recognises a timeout', () => {
    const [failed] = decode([
      invokeComplete({ ErrorCode: 'Error', ErrorDetails: 'boom', LogResult: 'bG9n' }),
    ]);
    expect(failed).toEqual({ kind: 'complete', errorCode: 'Error', errorDetails: 'boom', logResult: 'bG9n' });
    const timedOut = decode([
      invokeComplete({ ErrorCode: 'Sandbox.Timedout', ErrorDetails: 'Task timed out after 3.00 seconds' }),
    ])[0] as Extract<InvokeStreamEvent, { kind: 'complete' }>;
    expect(isTimeout(timedOut)).toBe(true);
    expect(isTimeout(failed as Extract<InvokeStreamEvent, { kind: 'complete' }>)).toBe(false);
  });

  it('turns error and exception messages into error events that end the stream', () => {
    expect(decode([payloadChunk(bytes('a')), errorMessage('ServiceException', 'Lambda broke')])).toEqual([
      { kind: 'chunk', text: 'a' },
      { kind: 'error', code: 'ServiceException', message: 'Lambda broke' },
    ]);
    expect(decode([exceptionMessage('ResourceConflictException', 'busy')])).toEqual([
      { kind: 'error', code: 'ResourceConflictException', message: 'busy' },
    ]);
  });

  it('skips events of unknown types', () => {
    const future = encodeMessage({ ':message-type': 'event', ':event-type': 'Heartbeat' });
    expect(decode([future, invokeComplete({})])).toEqual([{ kind: 'complete' }]);
  });

  it.each([
    ['a stream that ends without InvokeComplete', [payloadChunk(bytes('a'))], 'without InvokeComplete'],
    [
      'a stream that stops inside a message',
      [payloadChunk(bytes('abc')).subarray(0, 20)],
      'middle of a message',
    ],
    [
      'a stream that stops inside a prelude',
      [payloadChunk(bytes('abc')).subarray(0, 5)],
      'middle of a message',
    ],
    [
      'a message after InvokeComplete',
      [invokeComplete({}), payloadChunk(bytes('late'))],
      'after its last event',
    ],
    [
      'an unknown message type',
      [encodeMessage({ ':message-type': 'gossip', ':event-type': 'PayloadChunk' })],
      ':message-type "gossip"',
    ],
    ['a message without a message type', [encodeMessage({ ':event-type': 'PayloadChunk' })], ':message-type'],
    [
      'an InvokeComplete that is not JSON',
      [encodeMessage({ ':message-type': 'event', ':event-type': 'InvokeComplete' }, bytes('{oops'))],
      'not JSON',
    ],
  ])('refuses %s', (_, chunks, message) => {
    expect(() => decode(chunks)).toThrow(EventStreamError);
    expect(() => decode(chunks)).toThrow(message);
  });

  it('yields the good messages before a broken one in the same chunk, then the error', () => {
    const broken = payloadChunk(bytes('late'));
    broken[broken.length - 1]! ^= 0x01;
    const decoder = new InvokeStreamDecoder();
    const seen: string[] = [];
    expect(() => {
      for (const event of decoder.push(
        Buffer.concat([payloadChunk(bytes('one')), payloadChunk(bytes('two')), broken]),
      )) {
        if (event.kind === 'chunk') seen.push(Buffer.from(event.payload).toString());
      }
    }).toThrow(EventStreamError);
    expect(seen).toEqual(['one', 'two']);
    expect(() => decoder.end()).toThrow(EventStreamError);
  });

  it('keeps what a caller left unread when it stopped early, for the next push', () => {
    const decoder = new InvokeStreamDecoder();
    for (const event of decoder.push(
      Buffer.concat([payloadChunk(bytes('one')), payloadChunk(bytes('two'))]),
    )) {
      expect(event).toMatchObject({ kind: 'chunk' });
      break;
    }
    expect(decode([invokeComplete({})], decoder)).toEqual([
      { kind: 'chunk', text: 'two' },
      { kind: 'complete' },
    ]);

    // Stopping at InvokeComplete is the usual early stop: nothing is left, so the stream ends cleanly.
    const done = new InvokeStreamDecoder();
    for (const event of done.push(Buffer.concat([payloadChunk(bytes('x')), invokeComplete({})]))) {
      if (event.kind === 'complete') break;
    }
    expect(() => done.end()).not.toThrow();

    const messages = new EventStreamDecoder();
    for (const _ of messages.push(Buffer.concat([payloadChunk(bytes('a')), payloadChunk(bytes('b'))]))) break;
    expect(() => messages.end()).toThrow(/ended with \d+ bytes unread/);
  });

  it('refuses a bad prelude CRC as soon as the prelude is in, without waiting for the message', () => {
    const frame = payloadChunk(bytes('abc'));
    frame[9]! ^= 0x01;
    const decoder = new EventStreamDecoder();
    expect(() => [...decoder.push(frame.subarray(0, 12))]).toThrow('prelude fails its CRC32 check');
    // A broken stream stays broken: nothing after it is trusted.
    expect(() => [...decoder.push(payloadChunk(bytes('next')))]).toThrow(EventStreamError);
    expect(() => decoder.end()).toThrow(EventStreamError);
  });

  it('refuses a bad message CRC, and a corrupted payload', () => {
    const badCrc = payloadChunk(bytes('abc'));
    badCrc[badCrc.length - 1]! ^= 0x01;
    expect(() => decode([badCrc])).toThrow(/malformed event stream message: .*checksum/);
    const badPayload = payloadChunk(bytes('abc'));
    badPayload[badPayload.length - 5]! ^= 0x20;
    expect(() => decode([badPayload])).toThrow(EventStreamError);
  });

  it.each([
    ['shorter than a prelude and CRC', prelude(15, 0), 'announces 15 bytes'],
    [
      'over the format maximum',
      prelude(MAX_MESSAGE_BYTES + 1, 0),
      `announces ${MAX_MESSAGE_BYTES + 1} bytes`,
    ],
    ['of 4 GB', prelude(0xffffffff, 0), 'announces 4294967295 bytes'],
    ['whose headers overflow it', prelude(40, 30), '30 bytes of headers in a 40-byte message'],
  ])('refuses a message length %s from the prelude alone', (_, bad, message) => {
    const decoder = new EventStreamDecoder();
    expect(() => [...decoder.push(bad)]).toThrow(message);
  });

  it('refuses a message over the configured maximum before buffering it', () => {
    const big = payloadChunk(Buffer.alloc(2048, 0x61));
    const decoder = new EventStreamDecoder({ maxMessageBytes: 1024 });
    expect(() => [...decoder.push(big.subarray(0, 12))]).toThrow(
      `announces ${big.length} bytes (allowed: 16 to 1024)`,
    );
    const roomy = new EventStreamDecoder({ maxMessageBytes: big.length });
    expect([...roomy.push(big)]).toHaveLength(1);
  });
});
