// The client's request body: buffered when it must be hashed for SigV4 (or
// encoded into a Lambda event), refusing early what is over the limit or
// slower than the route's timeout, and the 100 Continue a client may be
// waiting for before it sends the body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange } from './exchange.ts';

export class BodyTooLargeError extends Error {
  readonly limit: number;

  constructor(limit: number) {
    super(`request body is larger than ${limit} bytes`);
    this.limit = limit;
  }
}

/** The client did not send its whole body within the route's timeout (408). */
export class BodyTimeoutError extends Error {
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`the request body did not arrive within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The client went away before its body was complete. */
export class ClientClosedError extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

export type BodyError = BodyTooLargeError | BodyTimeoutError | ClientClosedError;

/** What a route reads a body within, and how it answers a body it cannot read. Built once per route. */
export interface BodyReading {
  limit: number;
  /** 0: no limit. */
  timeoutMs: number;
  /** Answers the client (413, 408), or lets go of it when it has left. */
  refuse(exchange: Exchange, error: BodyError): void;
}

/**
 * Reads the whole body. Refuses it (BodyTooLargeError) as soon as it is known
 * to exceed the limit (a declared Content-Length over it is refused before
 * the client is told to continue), when it has not all arrived within the
 * timeout (BodyTimeoutError), or when the client leaves (ClientClosedError);
 * then resolves with undefined, the client answered.
 */
export function readBody(exchange: Exchange, reading: BodyReading): Promise<Buffer | undefined> {
  const { req, res } = exchange;
  const { limit, timeoutMs } = reading;
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return refused(exchange, reading, new BodyTooLargeError(limit));
  if (req.destroyed) return refused(exchange, reading, new ClientClosedError());
  sendContinue(req, res);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: BodyError) => {
      cleanup();
      req.pause();
      reading.refuse(exchange, error);
      resolve(undefined);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return fail(new BodyTooLargeError(limit));
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    // An IncomingMessage errors ("aborted") or closes before its end only when the connection is gone.
    const onGone = () => fail(new ClientClosedError());
    const timer =
      timeoutMs > 0 ? setTimeout(() => fail(new BodyTimeoutError(timeoutMs)), timeoutMs) : undefined;
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}

function refused(exchange: Exchange, reading: BodyReading, error: BodyError): Promise<undefined> {
  reading.refuse(exchange, error);
  return Promise.resolve(undefined);
}

/** Node's own test for the 100-continue expectation (lib/_http_server.js). */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * Tells a client that waits before sending its body (Expect: 100-continue)
 * to send it. The server leaves this to the handler about to read the body
 * (server.ts), so that an answer decided from the headers alone (404, 413,
 * 503) is given instead, and the body is never sent.
 */
export function sendContinue(req: IncomingMessage, res: ServerResponse): void {
  const expect = req.headers.expect;
  if (expect !== undefined && req.httpVersion === '1.1' && CONTINUE.test(expect)) res.writeContinue();
}

/** True when the request carries a body (RFC 9112 §6.3). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
