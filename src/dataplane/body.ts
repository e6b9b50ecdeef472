// The client's request body: buffered when it must be hashed for SigV4 (or
// encoded into a Lambda event), refusing early what is over the limit or
// slower than the route's timeout.
import type { IncomingMessage } from 'node:http';

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

/**
 * Reads the whole body. Rejects with BodyTooLargeError as soon as it is known
 * to exceed `limit`, BodyTimeoutError when it has not all arrived within
 * `timeoutMs` (0: no limit), ClientClosedError when the client leaves.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  if (req.destroyed) return Promise.reject(new ClientClosedError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: Error) => {
      cleanup();
      req.pause();
      reject(error);
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

/** True when the request carries a body (RFC 9112 §6.3). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
