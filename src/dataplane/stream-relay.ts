// function targets with invokeMode ResponseStream: what invoke.ts does with a
// 200 from InvokeWithResponseStream. The event stream is decoded as it
// arrives (stream/), the function's metadata prelude becomes the response
// head, and every payload byte after it is written to the client at once,
// with backpressure: a client that reads slowly pauses the read from Lambda.
//
// A failure before the head is out is one of the usual error responses; after
// it, the caller cuts the connection (errors.ts sendError), so the client sees
// a truncated body, never a clean end, and only the access log and metrics say
// why. What the function or Lambda say about an error (ErrorDetails, error
// messages) goes nowhere: it may hold the function's secrets.
import type { ServerResponse } from 'node:http';
import type { Exchange } from './exchange.ts';
import {
  badStream,
  functionFailed,
  functionHeaders,
  type InvokeFailure,
  streamInvokeFailed,
  unsendable,
} from './invoke-outcome.ts';
import { EventStreamError, InvokeStreamDecoder, isTimeout } from './stream/invoke-stream.ts';
import { PreludeReader, type StreamHead } from './stream/prelude.ts';

/** The most a response stream may carry, its metadata included: Lambda's limit, 200 MB. */
export const STREAM_LIMIT = 200 * 1024 * 1024;

/**
 * Relays the body of a 200 InvokeWithResponseStream answer to the client.
 * Resolves with the failure that stopped it, for the caller to answer (or
 * cut), or undefined once the response is complete or the client has gone.
 * Rejects with what reading `body` rejects with (timeouts, resets, aborts).
 */
export async function relayResponseStream(
  exchange: Exchange,
  body: AsyncIterable<Buffer>,
  awsRequestId: string | undefined,
  limit: number,
): Promise<InvokeFailure | undefined> {
  try {
    return await relay(exchange, body, awsRequestId, limit);
  } finally {
    // Node's http holds this turn's writes back (corked) until the next: send them before the
    // caller cuts the connection, so that the client gets the head and body written so far.
    const { res } = exchange;
    if (res.headersSent) while (res.writableCorked > 0) res.uncork();
  }
}

async function relay(
  exchange: Exchange,
  body: AsyncIterable<Buffer>,
  awsRequestId: string | undefined,
  limit: number,
): Promise<InvokeFailure | undefined> {
  const client = new StreamToClient(exchange, awsRequestId, limit);
  const decoder = new InvokeStreamDecoder();
  try {
    for await (const chunk of body) {
      for (const event of decoder.push(chunk)) {
        if (event.kind === 'chunk') {
          const failure = await client.write(event.payload);
          if (failure || client.gone) return failure;
        } else if (event.kind === 'error') {
          return streamInvokeFailed(event.code, awsRequestId);
        } else if (event.errorCode !== undefined) {
          return functionFailed(isTimeout(event), undefined, awsRequestId);
        }
      }
    }
    decoder.end();
  } catch (error) {
    if (!(error instanceof EventStreamError)) throw error;
    return badStream(`the response stream is broken: ${error.message}`, awsRequestId);
  }
  return client.end();
}

/** The client's side of a stream: its head once the prelude decides it, then the body, within the limit. */
class StreamToClient {
  readonly #exchange: Exchange;
  readonly #res: ServerResponse;
  readonly #awsRequestId: string | undefined;
  readonly #limit: number;
  /** Until the head is decided. */
  #prelude: PreludeReader | undefined = new PreludeReader();
  #size = 0;

  constructor(exchange: Exchange, awsRequestId: string | undefined, limit: number) {
    this.#exchange = exchange;
    this.#res = exchange.res;
    this.#awsRequestId = awsRequestId;
    this.#limit = limit;
  }

  /** The client closed the connection (recorded as client_closed). */
  get gone(): boolean {
    if (!this.#res.destroyed) return false;
    this.#exchange.upstreamError = 'client_closed';
    return true;
  }

  /** Passes on one PayloadChunk's bytes (to the prelude reader first); waits while the client's buffer is full. */
  async write(payload: Uint8Array): Promise<InvokeFailure | undefined> {
    this.#size += payload.length;
    if (this.#size > this.#limit) {
      return badStream(
        `the response stream is over ${this.#limit} bytes, Lambda's limit`,
        this.#awsRequestId,
      );
    }
    let bytes = payload;
    if (this.#prelude) {
      const decided = this.#prelude.push(payload);
      if (decided === undefined) return undefined;
      this.#prelude = undefined;
      if (!decided.ok) return badStream(decided.reason, this.#awsRequestId);
      const failure = this.#head(decided.head, decided.body.length === 0);
      if (failure) return failure;
      bytes = decided.body;
    }
    if (bytes.length > 0 && !this.#res.write(bytes)) await drained(this.#res);
    return undefined;
  }

  /** The stream ended whole: the head, if the prelude had not decided yet, and the end of the response. */
  end(): InvokeFailure | undefined {
    if (this.#prelude) {
      const decided = this.#prelude.end();
      if (!decided.ok) return badStream(decided.reason, this.#awsRequestId);
      const failure = this.#head(decided.head, false);
      if (failure) return failure;
      this.#res.end(decided.body);
      return undefined;
    }
    this.#res.end();
    return undefined;
  }

  /** Writes the head; sends it at once when no body bytes go with it (a server-sent event stream waits for none). */
  #head(head: StreamHead, flush: boolean): InvokeFailure | undefined {
    const headers = functionHeaders(head.headers, this.#awsRequestId, this.#exchange.requestId);
    try {
      this.#res.writeHead(head.statusCode, headers);
    } catch (error) {
      // What stream/prelude.ts lets through and Node still refuses.
      return unsendable((error as { code?: string }).code ?? 'invalid header', this.#awsRequestId);
    }
    if (flush) this.#res.flushHeaders();
    return undefined;
  }
}

/** Resolves when the client's buffer has drained, or the client has gone. */
function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}
