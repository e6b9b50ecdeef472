// An incremental decoder of AWS event streams (application/vnd.amazon.eventstream):
// network chunks in, whole messages out. Messages are reassembled across any
// chunk boundary and several may come in one chunk; smithy's EventStreamCodec
// checks each whole message (both CRCs) and parses its headers. Pure, no I/O.
//
// push() yields a chunk's messages one at a time, so that the good messages
// before a broken one are handled before the error is thrown. A caller that
// stops iterating early (after the last event it wanted) leaves the rest of
// the chunk for the next push or for end().
//
// Memory is bounded: at most one partial message is held, and a message whose
// prelude announces more than `maxMessageBytes` is refused before any of it
// is buffered. The prelude's CRC is checked first, so a corrupt length is
// reported as such instead of waiting for bytes that will never come.
import { crc32 } from 'node:zlib';
import { EventStreamCodec, type Message } from '@smithy/core/event-streams';

export type { Message } from '@smithy/core/event-streams';

/** The event stream format's own limits (as AWS's SDKs enforce them). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_HEADERS_BYTES = 128 * 1024;
const PRELUDE_BYTES = 12;
/** Prelude plus the trailing message CRC. */
const MIN_MESSAGE_BYTES = 16;

/** The stream is not a valid event stream; nothing after it can be trusted. */
export class EventStreamError extends Error {}

const toUtf8 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
const fromUtf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

export class EventStreamDecoder {
  readonly #codec = new EventStreamCodec(toUtf8, fromUtf8);
  readonly #maxMessageBytes: number;
  /** The prelude of the message being received, while it is incomplete. */
  readonly #prelude = Buffer.alloc(PRELUDE_BYTES);
  /** The message being received, once its prelude is known. */
  #message: Buffer | undefined;
  /** Bytes of the current message received so far (prelude included). */
  #received = 0;
  /** What a push left unread when its caller stopped iterating early (a copy). */
  #unread: Buffer | undefined;
  #failure: EventStreamError | undefined;

  constructor(options: { maxMessageBytes?: number } = {}) {
    this.#maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  }

  /** Every message `chunk` completes, in order, then the error if the stream breaks; an incomplete tail is kept. */
  *push(chunk: Uint8Array): Generator<Message, void, undefined> {
    if (this.#failure) throw this.#failure;
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#unread) {
      data = Buffer.concat([this.#unread, data]);
      this.#unread = undefined;
    }
    const read = { offset: 0 };
    let done = false;
    try {
      yield* this.#push(data, read);
      done = true;
    } catch (error) {
      this.#failure =
        error instanceof EventStreamError ? error : new EventStreamError(`broken event stream: ${error}`);
      throw this.#failure;
    } finally {
      if (!done && !this.#failure && read.offset < data.length) {
        this.#unread = Buffer.from(data.subarray(read.offset));
      }
    }
  }

  /** The stream ended: an error if it stopped in the middle of a message. */
  end(): void {
    if (this.#failure) throw this.#failure;
    if (this.#unread) {
      this.#failure = new EventStreamError(`the event stream ended with ${this.#unread.length} bytes unread`);
      throw this.#failure;
    }
    if (this.#received > 0) {
      const expected = this.#message ? ` of ${this.#message.length}` : '';
      this.#failure = new EventStreamError(
        `the event stream ended in the middle of a message (${this.#received}${expected} bytes)`,
      );
      throw this.#failure;
    }
  }

  /** Decodes from read.offset on, keeping read.offset past what it consumed. */
  *#push(data: Buffer, read: { offset: number }): Generator<Message, void, undefined> {
    while (read.offset < data.length) {
      if (this.#received === 0 && data.length - read.offset >= PRELUDE_BYTES) {
        // The common case: the message starts in this chunk; decode it in place when it ends here too.
        const total = this.#checkPrelude(data.subarray(read.offset, read.offset + PRELUDE_BYTES));
        if (data.length - read.offset >= total) {
          const message = this.#decode(data.subarray(read.offset, read.offset + total));
          read.offset += total;
          yield message;
          continue;
        }
        this.#message = Buffer.allocUnsafe(total);
      }
      if (this.#message === undefined) {
        const take = Math.min(PRELUDE_BYTES - this.#received, data.length - read.offset);
        data.copy(this.#prelude, this.#received, read.offset, read.offset + take);
        this.#received += take;
        read.offset += take;
        if (this.#received < PRELUDE_BYTES) break;
        this.#message = Buffer.allocUnsafe(this.#checkPrelude(this.#prelude));
        this.#prelude.copy(this.#message);
        continue;
      }
      const take = Math.min(this.#message.length - this.#received, data.length - read.offset);
      data.copy(this.#message, this.#received, read.offset, read.offset + take);
      this.#received += take;
      read.offset += take;
      if (this.#received < this.#message.length) break;
      const message = this.#message;
      this.#message = undefined;
      this.#received = 0;
      yield this.#decode(message);
    }
  }

  /** The message's total length, once the prelude's CRC and lengths are known to be sound. */
  #checkPrelude(prelude: Buffer): number {
    if (crc32(prelude.subarray(0, 8)) !== prelude.readUInt32BE(8)) {
      throw new EventStreamError('an event stream message prelude fails its CRC32 check');
    }
    const total = prelude.readUInt32BE(0);
    const headers = prelude.readUInt32BE(4);
    if (total < MIN_MESSAGE_BYTES || total > this.#maxMessageBytes) {
      throw new EventStreamError(
        `an event stream message announces ${total} bytes (allowed: ${MIN_MESSAGE_BYTES} to ${this.#maxMessageBytes})`,
      );
    }
    if (headers > total - MIN_MESSAGE_BYTES || headers > MAX_HEADERS_BYTES) {
      throw new EventStreamError(
        `an event stream message announces ${headers} bytes of headers in a ${total}-byte message`,
      );
    }
    return total;
  }

  #decode(message: Buffer): Message {
    try {
      return this.#codec.decode(message);
    } catch (error) {
      throw new EventStreamError(`malformed event stream message: ${(error as Error).message}`);
    }
  }
}
