// What the emulator's services receive and answer, independent of node:http,
// and the helpers they share to build AWS-shaped replies.
import type { Readable } from 'node:stream';
import type { CredentialStore } from './credentials.ts';
import type { ErrorStyle, HeaderPairs, VerifyResult } from './sigv4.ts';

export type ServiceKind =
  | 'execute-api'
  | 'function-url'
  | 'lambda-invoke'
  | 'lambda-stream'
  | 'sts'
  | 'container-credentials';

/** A request as received: raw path and query, headers in wire order, the whole body. */
export interface ReceivedRequest {
  /** The id answered in `x-amzn-RequestId`. */
  requestId: string;
  method: string;
  path: string;
  query: string;
  headers: HeaderPairs;
  body: Buffer;
  /** Body bytes received; more than `body.length` when the body was over the emulator's cap. */
  bodySize: number;
}

export interface Reply {
  status: number;
  /** A list value sends the header once per element (e.g. several `set-cookie`). */
  headers?: Record<string, string | string[]> | undefined;
  /** A Readable is streamed with backpressure (chunked); its error destroys the connection. */
  body?: string | Buffer | Readable | undefined;
}

/** A service's answer, with what the request log should know about it. */
export interface ServiceReply extends Reply {
  /** The signature check the service ran, if any. */
  verification?: VerifyResult | undefined;
  /** What a user-supplied handler threw, if it did. */
  error?: unknown;
}

/** What the server hands every service. */
export interface ServiceContext {
  region: string;
  accountId: string;
  credentials: CredentialStore;
  /** Checks the request's SigV4 signature for `service`; undefined when verification is turned off. */
  checkSignature(request: ReceivedRequest, service: string, style: ErrorStyle): VerifyResult | undefined;
}

export function headerValue(headers: HeaderPairs, name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([key]) => key.toLowerCase() === lower)?.[1];
}

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): ServiceReply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** AWS's Expiration format: ISO 8601 to the second. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
