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
import type { Readable } from 'node:stream';
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

/**
 * Relays the body of a 200 InvokeWithResponseStream answer to the client.
 * Resolves with the failure that stopped it, for the caller to answer (or
 * cut), or undefined once the response is complete. Rejects with what
 * reading `body` fails with (timeouts, resets, and the abort that follows
 * the client going away).
 */
export async function relayResponseStream(
  exchange: Exchange,
  body: Readable,
  awsRequestId: string | undefined,
  limit: number,
): Promise<InvokeFailure | undefined> {
  try {
    return await relay(exchange, body, new StreamToClient(exchange, awsRequestId, limit));
  } finally {
    // Node's http holds this turn's writes back (corked) until the next: send them before the
    // caller cuts the connection, so that the client gets the head and body written so far.
    const { res } = exchange;
    if (res.headersSent) while (res.writableCorked > 0) res.uncork();
  }
}

/**
 * Reads `body` as it is pushed ('data' events: no copies into larger reads),
 * pausing it while the client's buffer is full.
 */
function relay(
  exchange: Exchange,
  body: Readable,
  client: StreamToClient,
): Promise<InvokeFailure | undefined> {
  const { res } = exchange;
  const decoder = new InvokeStreamDecoder();
  return new Promise((resolve, reject) => {
    let settled = false;
    const resume = () => body.resume();
    const settle = () => {
      settled = true;
      body.off('data', onData).off('end', onEnd);
      res.off('drain', resume);
    };
    const stop = (failure: InvokeFailure | undefined) => {
      settle();
      body.destroy(); // the rest of Lambda's answer is not wanted (nothing is left once it ended)
      resolve(failure);
    };
    // Stays attached once settled: what the stopped request still reports goes nowhere.
    const onError = (error: Error) => {
      if (settled) return;
      settle();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      try {
        const failure = client.pass(decoder, chunk);
        if (failure) stop(failure);
        else if (client.full) {
          body.pause();
          res.once('drain', resume);
        }
      } catch (error) {
        onError(error as Error);
      }
    };
    const onEnd = () => {
      try {
        stop(client.end(decoder));
      } catch (error) {
        onError(error as Error);
      }
    };
    body.on('data', onData).on('end', onEnd).on('error', onError);
  });
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
  /** The client's buffer is full: wait for 'drain' before reading more. */
  full = false;

  constructor(exchange: Exchange, awsRequestId: string | undefined, limit: number) {
    this.#exchange = exchange;
    this.#res = exchange.res;
    this.#awsRequestId = awsRequestId;
    this.#limit = limit;
  }

  /** Passes on the events one network chunk completes; the failure that ends the stream, if one does. */
  pass(decoder: InvokeStreamDecoder, chunk: Buffer): InvokeFailure | undefined {
    this.full = false;
    try {
      for (const event of decoder.push(chunk)) {
        if (event.kind === 'chunk') {
          const failure = this.#write(event.payload);
          if (failure) return failure;
        } else if (event.kind === 'error') {
          return streamInvokeFailed(event.code, this.#awsRequestId);
        } else if (event.errorCode !== undefined) {
          return functionFailed(isTimeout(event), undefined, this.#awsRequestId);
        }
      }
    } catch (error) {
      if (!(error instanceof EventStreamError)) throw error;
      return this.#broken(error);
    }
    return undefined;
  }

  /** Lambda's answer ended: the stream must have ended whole; then the head, if still undecided, and the end. */
  end(decoder: InvokeStreamDecoder): InvokeFailure | undefined {
    try {
      decoder.end();
    } catch (error) {
      if (!(error instanceof EventStreamError)) throw error;
      return this.#broken(error);
    }
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

  /** One PayloadChunk's bytes: to the prelude reader until it decides the head, then to the client. */
  #write(payload: Uint8Array): InvokeFailure | undefined {
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
    if (bytes.length > 0 && !this.#res.write(bytes)) this.full = true;
    return undefined;
  }

  #broken(error: EventStreamError): InvokeFailure {
    return badStream(`the response stream is broken: ${error.message}`, this.#awsRequestId);
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
