// The optional HTTP metadata at the start of a function's response stream.
// `awslambda.HttpResponseStream.from(stream, metadata)` writes
// JSON.stringify(metadata) (`{statusCode, headers, multiValueHeaders?, cookies}`)
// and then 8 NUL bytes before the body; the pieces may arrive in any number
// of PayloadChunks. Pure, no I/O.
//
// InvokeWithResponseStream does not say whether a stream has metadata, so the
// bytes decide, as early as they can and with bounded buffering:
// - a stream whose first byte is not `{` has none (decided on the first byte);
// - otherwise the reader follows the JSON object's nesting (strings and
//   escapes included) until it closes; the 8 bytes after it must all be NUL,
//   and the first one that is not decides "no metadata" at once (so an NDJSON
//   body is held back only until its first line ends);
// - an object that has not closed, with its NULs, within `maxBytes` (64 KiB)
//   is body, not metadata; so is text before the NULs that is not JSON.
// A body that itself starts with a JSON object followed by 8 NUL bytes is
// indistinguishable from metadata; no real body format does that.
import {
  InvalidResult,
  isObject,
  mergeHeaders,
  multiHeaders,
  singleHeaders,
  statusCodeOf,
} from '../events/response.ts';

export const MAX_PRELUDE_BYTES = 64 * 1024;
const DELIMITER_BYTES = 8;
const OPEN = 0x7b; // {
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export interface StreamHead {
  statusCode: number;
  /** In order; repeated names are separate entries (each cookie is one set-cookie). */
  headers: [string, string][];
}

export type PreludeResult =
  /** `body`: the bytes after the metadata (everything, without metadata), possibly empty. */
  | { ok: true; head: StreamHead; body: Buffer }
  /** Metadata was there but is not valid; `reason` never quotes it. */
  | { ok: false; reason: string };

/** A content type for streams that name none, as function URLs answer. */
const DEFAULT_CONTENT_TYPE: [string, string] = ['content-type', 'application/octet-stream'];

/**
 * Feed it the stream's first bytes until it decides: `push` returns undefined
 * while it needs more, then the result (and must not be called again); `end`
 * decides for a stream that ended first.
 */
export class PreludeReader {
  readonly #maxBytes: number;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** Offset just after the metadata object's closing brace, once it closed. */
  #objectEnd = -1;
  #decided = false;

  constructor(options: { maxBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? MAX_PRELUDE_BYTES;
  }

  push(chunk: Uint8Array): PreludeResult | undefined {
    if (this.#decided) throw new Error('PreludeReader.push after it decided');
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const start = this.#size;
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    for (let i = 0; i < bytes.length; i++) {
      const at = start + i;
      const byte = bytes[i]!;
      if (this.#objectEnd >= 0) {
        if (byte !== 0) return this.#withoutMetadata();
        if (at + 1 === this.#objectEnd + DELIMITER_BYTES) return this.#withMetadata(at + 1);
      } else if (at === 0) {
        if (byte !== OPEN) return this.#withoutMetadata();
        this.#depth = 1;
      } else {
        this.#scan(byte, at);
      }
      if (at + 1 >= this.#maxBytes) return this.#withoutMetadata();
    }
    return undefined;
  }

  end(): PreludeResult {
    if (this.#decided) throw new Error('PreludeReader.end after it decided');
    return this.#withoutMetadata();
  }

  /** Follows the JSON object's nesting; brackets are counted alike, JSON.parse judges the rest. */
  #scan(byte: number, at: number): void {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (byte === BACKSLASH) this.#escaped = true;
      else if (byte === QUOTE) this.#inString = false;
      return;
    }
    if (byte === QUOTE) this.#inString = true;
    else if (byte === OPEN || byte === 0x5b) this.#depth++;
    else if (byte === 0x7d || byte === 0x5d) {
      this.#depth--;
      if (this.#depth === 0) this.#objectEnd = at + 1;
    }
  }

  #withoutMetadata(): PreludeResult {
    this.#decided = true;
    return {
      ok: true,
      head: { statusCode: 200, headers: [[...DEFAULT_CONTENT_TYPE]] },
      body: Buffer.concat(this.#chunks, this.#size),
    };
  }

  #withMetadata(bodyStart: number): PreludeResult {
    const all = Buffer.concat(this.#chunks, this.#size);
    let metadata: Record<string, unknown>;
    try {
      // Valid JSON that starts with `{` and ends at its matching brace is an object.
      metadata = JSON.parse(all.subarray(0, this.#objectEnd).toString('utf8'));
    } catch {
      return this.#withoutMetadata();
    }
    this.#decided = true;
    const head = readHead(metadata);
    return head.ok ? { ok: true, head: head.head, body: all.subarray(bodyStart) } : head;
  }
}

/** The metadata as a response head: status 200 unless given; a content-length is dropped (the answer is chunked). */
function readHead(
  metadata: Record<string, unknown>,
): { ok: true; head: StreamHead } | { ok: false; reason: string } {
  try {
    return { ok: true, head: headOf(metadata) };
  } catch (error) {
    if (error instanceof InvalidResult) {
      return { ok: false, reason: `the stream metadata is not valid: ${error.message}` };
    }
    throw error;
  }
}

function headOf(metadata: Record<string, unknown>): StreamHead {
  const statusCode = metadata['statusCode'] === undefined ? 200 : statusCodeOf(metadata['statusCode']);
  const headers = metadata['headers'];
  if (headers !== undefined && headers !== null && !isObject(headers)) {
    throw new InvalidResult('headers must be an object');
  }
  // `headers` values may be strings or arrays; arrays and multiValueHeaders win over a single value.
  const single: [string, string][] = [];
  const multi: [string, string[]][] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (Array.isArray(value)) multi.push(...multiHeaders({ [name]: value }, 'headers'));
    else single.push(...singleHeaders({ [name]: value }, 'headers'));
  }
  multi.push(...multiHeaders(metadata['multiValueHeaders']));
  const out = mergeHeaders(single, multi, 'multi').filter(
    ([name]) => name.toLowerCase() !== 'content-length',
  );
  const cookies = metadata['cookies'];
  if (cookies !== undefined && cookies !== null && !Array.isArray(cookies)) {
    throw new InvalidResult('cookies must be an array of strings');
  }
  for (const cookie of cookies ?? []) {
    if (typeof cookie !== 'string') throw new InvalidResult('cookies must be an array of strings');
    out.push(...singleHeaders({ 'set-cookie': cookie }, 'cookies'));
  }
  if (!out.some(([name]) => name.toLowerCase() === 'content-type')) out.unshift([...DEFAULT_CONTENT_TYPE]);
  return { statusCode, headers: out };
}
