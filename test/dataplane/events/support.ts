// Builders shared by the payload format tests.
import type {
  EventRequest,
  EventRoute,
  PayloadCodec,
  ResponseResult,
} from '../../../src/dataplane/events/index.ts';

// biome-ignore lint/suspicious/noExplicitAny: events are loosely typed JSON
export type Json = any;

/** A request with sensible defaults: GET / on api.example.com through a catch-all route. */
export function eventRequest(overrides: Partial<EventRequest> = {}): EventRequest {
  return {
    method: 'GET',
    rawPath: '/',
    rawQuery: '',
    headers: [
      ['Host', 'api.example.com:9080'],
      ['User-Agent', 'curl/8.7.1'],
    ],
    body: Buffer.alloc(0),
    sourceIp: '203.0.113.7',
    protocol: 'HTTP/1.1',
    requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    time: new Date(Date.UTC(2024, 0, 5, 7, 8, 9, 123)),
    route: prefix('/'),
    context: { accountId: '123456789012', apiId: 'lambda-ingress', stage: '$default', region: 'us-east-1' },
    ...overrides,
  };
}

/** A Prefix route as the route table matches it: the prefix ends after its last segment ("/" ends at 0). */
export function prefix(path: string, methods?: string[]): EventRoute {
  const base = path.endsWith('/') ? path.slice(0, -1) : path;
  return { path, pathType: 'Prefix', prefixEnd: base.length, ...(methods && { methods }) };
}

export function exact(path: string, methods?: string[]): EventRoute {
  return { path, pathType: 'Exact', prefixEnd: path.length, ...(methods && { methods }) };
}

/** The event as the Invoke API receives it: JSON. */
export function toEvent(format: PayloadCodec, request: EventRequest): Json {
  return JSON.parse(JSON.stringify(format.toEvent(request)));
}

export function respond(format: PayloadCodec, result: unknown): ResponseResult {
  return format.toResponse(Buffer.from(typeof result === 'string' ? result : JSON.stringify(result)));
}

/** The response of a result that must be valid. */
export function okResponse(format: PayloadCodec, result: unknown) {
  const mapped = respond(format, result);
  if (!mapped.ok) throw new Error(`expected a valid result, got: ${mapped.failures[0].message}`);
  return mapped.value;
}
