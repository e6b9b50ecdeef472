// An incremental decoder of AWS event streams (application/vnd.amazon.eventstream):
// network chunks in, whole messages out. Messages are reassembled across any
// chunk boundary and several may come in one chunk; smithy's EventStreamCodec
// checks each whole message (both CRCs) and parses its headers. Pure, no I/O.
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
  #failure: EventStreamError | undefined;

  constructor(options: { maxMessageBytes?: number } = {}) {
    this.#maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
  }

  /** Every message `chunk` completes, in order; an incomplete tail is kept for the next call. */
  push(chunk: Uint8Array): Message[] {
    if (this.#failure) throw this.#failure;
    try {
      return this.#push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (error) {
      this.#failure =
        error instanceof EventStreamError ? error : new EventStreamError(`broken event stream: ${error}`);
      throw this.#failure;
    }
  }

  /** The stream ended: an error if it stopped in the middle of a message. */
  end(): void {
    if (this.#failure) throw this.#failure;
    if (this.#received > 0) {
      const expected = this.#message ? ` of ${this.#message.length}` : '';
      this.#failure = new EventStreamError(
        `the event stream ended in the middle of a message (${this.#received}${expected} bytes)`,
      );
      throw this.#failure;
    }
  }

  #push(data: Buffer): Message[] {
    const messages: Message[] = [];
    let offset = 0;
    while (offset < data.length) {
      if (this.#received === 0 && data.length - offset >= PRELUDE_BYTES) {
        // The common case: the message starts in this chunk; decode it in place when it ends here too.
        const total = this.#checkPrelude(data.subarray(offset, offset + PRELUDE_BYTES));
        if (data.length - offset >= total) {
          messages.push(this.#decode(data.subarray(offset, offset + total)));
          offset += total;
          continue;
        }
        this.#message = Buffer.allocUnsafe(total);
      }
      if (this.#message === undefined) {
        const take = Math.min(PRELUDE_BYTES - this.#received, data.length - offset);
        data.copy(this.#prelude, this.#received, offset, offset + take);
        this.#received += take;
        offset += take;
        if (this.#received < PRELUDE_BYTES) break;
        this.#message = Buffer.allocUnsafe(this.#checkPrelude(this.#prelude));
        this.#prelude.copy(this.#message);
        continue;
      }
      const take = Math.min(this.#message.length - this.#received, data.length - offset);
      data.copy(this.#message, this.#received, offset, offset + take);
      this.#received += take;
      offset += take;
      if (this.#received < this.#message.length) break;
      const message = this.#message;
      this.#message = undefined;
      this.#received = 0;
      messages.push(this.#decode(message));
    }
    return messages;
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
