// The contract between the data plane and the payload formats: what lambda-ingress
// knows about a request, and what it needs back to answer it. Everything in
// src/dataplane/events is pure: no I/O, no clock, no randomness.
import type { Result } from '../../api/failure.ts';

/** The LambdaRoute that matched, as far as the event needs it. */
export interface EventRoute {
  /** The route's match.path. */
  path: string;
  pathType: 'Exact' | 'Prefix';
  /** Where the matched prefix ends in rawPath (rawPath.length for Exact). */
  prefixEnd: number;
  /** The route's match.methods; absent or empty means any method (API Gateway's ANY). */
  methods?: readonly string[] | undefined;
}

/** Identity of the "API" lambda-ingress stands in for. */
export interface EventContext {
  /** Account of the function (from its ARN), or "anonymous" as function URLs without IAM report it. */
  accountId: string;
  apiId: string;
  stage: string;
  region: string;
}

/** The HTTP request as lambda-ingress received it. */
export interface EventRequest {
  method: string;
  /** As received, percent-encoded, without the query. */
  rawPath: string;
  /** As received, without "?". */
  rawQuery: string;
  /** Raw pairs in arrival order, original case, duplicates kept. */
  headers: readonly (readonly [string, string])[];
  body: Buffer;
  /** Already resolved (socket, or a trusted X-Forwarded-For). */
  sourceIp: string;
  /** For example "HTTP/1.1". */
  protocol: string;
  requestId: string;
  time: Date;
  route: EventRoute;
  context: EventContext;
}

/** The HTTP response to send, as AWS would have sent it. */
export interface EventResponse {
  statusCode: number;
  /** Reason phrase the function chose (ALB statusDescription); absent means the standard one. */
  statusMessage?: string;
  /** In order; Set-Cookie and other repeated headers appear once per value. */
  headers: [string, string][];
  body: Buffer;
}

/** A function result that is not valid for the format fails with a short message that never quotes the result. */
export type ResponseResult = Result<EventResponse, 'InvalidResult'>;

/** One payload format ("2.0", "1.0", "alb") at work: the API's PayloadFormat names it. */
export interface PayloadCodec {
  /** The event to pass to the Invoke API (serialise with JSON.stringify). */
  toEvent(request: EventRequest): Record<string, unknown>;
  /** The function's result payload, as the Invoke API returned it, to HTTP. */
  toResponse(payload: Buffer): ResponseResult;
}
