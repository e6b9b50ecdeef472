// Requests lambda-ingress refuses whatever route they name: request lines
// that are not HTTP/1.0 or HTTP/1.1 (Node's parser reads "GET /x" without a
// version as HTTP/0.9, headers and all), methods a proxy must not pass on
// (TRACE echoes the request back, with the credentials lambda-ingress added;
// CONNECT asks for a tunnel), and bodies in a transfer coding other than
// chunked: Node removes the chunking only, so a gzip coding would reach the
// upstream or function still applied but no longer declared (RFC 9112 §6.1).
import type { IncomingMessage } from 'node:http';
import type { Refusal } from './errors.ts';

const NO_VERSION: Refusal = {
  error: 'bad_request',
  message: 'the request line has no HTTP version; HTTP/0.9 is not served',
};
const VERSION: Refusal = {
  error: 'http_version_not_supported',
  message: 'only HTTP/1.0 and HTTP/1.1 are served',
};
const TRACE: Refusal = {
  error: 'not_implemented',
  message: 'TRACE is not served: it would echo the request with the credentials added to it',
};
const CONNECT: Refusal = {
  error: 'not_implemented',
  message: 'CONNECT is not served: lambda-ingress opens no tunnels',
};
const CODING: Refusal = {
  error: 'not_implemented',
  message: 'the request body has a transfer coding other than chunked',
};
const CODING_IN_HTTP_1_0: Refusal = {
  error: 'bad_request',
  message: 'an HTTP/1.0 request cannot have Transfer-Encoding',
};

export function refuseMessage(req: IncomingMessage): Refusal | undefined {
  if (req.httpVersionMajor !== 1) return req.httpVersionMajor === 0 ? NO_VERSION : VERSION;
  if (req.method === 'TRACE') return TRACE;
  if (req.method === 'CONNECT') return CONNECT;
  const coding = req.headers['transfer-encoding'];
  if (coding === undefined) return undefined;
  if (req.httpVersionMinor === 0) return CODING_IN_HTTP_1_0;
  // Several Transfer-Encoding lines arrive joined with ", "; empty list elements are allowed.
  const codings = coding.split(',').filter((c) => c.trim() !== '');
  return codings.length === 1 && codings[0]!.trim().toLowerCase() === 'chunked' ? undefined : CODING;
}
