// AWS event stream messages (application/vnd.amazon.eventstream), written
// from the format's description and independent of smithy, so that the data
// plane's decoder (built on smithy) is checked against a second implementation:
//
//   [u32 total length][u32 headers length][u32 CRC32 of the first 8 bytes]
//   [headers][payload][u32 CRC32 of everything before it]
//
// big-endian, IEEE CRC32. Each header is [u8 name length][name][u8 type]
// [value]; only type 7 (a string: [u16 length][UTF-8]) is written here.
import { crc32 } from 'node:zlib';

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
const STRING_TYPE = 7;

export type MessageHeaders = Readonly<Record<string, string>>;

export function encodeMessage(headers: MessageHeaders, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const encodedHeaders = Buffer.concat(
    Object.entries(headers).map(([name, value]) => {
      const nameBytes = Buffer.from(name, 'utf8');
      const valueBytes = Buffer.from(value, 'utf8');
      const header = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length);
      header.writeUInt8(nameBytes.length, 0);
      nameBytes.copy(header, 1);
      header.writeUInt8(STRING_TYPE, 1 + nameBytes.length);
      header.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
      valueBytes.copy(header, 4 + nameBytes.length);
      return header;
    }),
  );
  const total = PRELUDE_BYTES + encodedHeaders.length + payload.length + CRC_BYTES;
  const message = Buffer.alloc(total);
  message.writeUInt32BE(total, 0);
  message.writeUInt32BE(encodedHeaders.length, 4);
  message.writeUInt32BE(crc32(message.subarray(0, 8)), 8);
  encodedHeaders.copy(message, PRELUDE_BYTES);
  message.set(payload, PRELUDE_BYTES + encodedHeaders.length);
  message.writeUInt32BE(crc32(message.subarray(0, total - CRC_BYTES)), total - CRC_BYTES);
  return message;
}

/** One piece of the function's response stream. */
export function payloadChunk(payload: Uint8Array): Buffer {
  return encodeMessage(
    { ':event-type': 'PayloadChunk', ':content-type': 'application/octet-stream', ':message-type': 'event' },
    payload,
  );
}

export interface InvokeComplete {
  ErrorCode?: string;
  ErrorDetails?: string;
  LogResult?: string;
}

/** The stream's last message: how the invocation ended. */
export function invokeComplete(complete: InvokeComplete): Buffer {
  return encodeMessage(
    { ':event-type': 'InvokeComplete', ':content-type': 'application/json', ':message-type': 'event' },
    Buffer.from(JSON.stringify(complete)),
  );
}

/** A service error in the middle of the stream (`:message-type: error`). */
export function errorMessage(code: string, message: string): Buffer {
  return encodeMessage({ ':message-type': 'error', ':error-code': code, ':error-message': message });
}

/** A modelled exception in the middle of the stream (`:message-type: exception`). */
export function exceptionMessage(type: string, message: string): Buffer {
  return encodeMessage(
    { ':message-type': 'exception', ':exception-type': type, ':content-type': 'application/json' },
    Buffer.from(JSON.stringify({ message })),
  );
}
