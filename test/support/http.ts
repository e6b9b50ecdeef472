// A raw HTTP client for tests: the path, query and headers go on the wire
// exactly as given (duplicates, case and encodings kept); bodies may be sent
// chunked.
import { type IncomingHttpHeaders, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, isIP } from 'node:net';

export interface RawRequest {
  method?: string;
  /** Path and query exactly as sent, e.g. "/a%20b?x=1&x=2". */
  path: string;
  /** Raw header pairs, sent in order. */
  headers?: [string, string][];
  body?: Buffer | string;
  /** Send the body as these chunks with Transfer-Encoding: chunked. */
  chunks?: (Buffer | string)[];
  /** With an https base URL: the TLS server name (SNI), default the Host header's name; any certificate is accepted. */
  servername?: string;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  json: () => any;
}

export function send(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const headers = (req.headers ?? []).flat();
  if (!req.headers?.some(([name]) => name.toLowerCase() === 'host')) headers.unshift('host', url.host);
  if (req.body !== undefined) headers.push('content-length', String(Buffer.byteLength(req.body)));
  if (req.chunks) headers.push('transfer-encoding', 'chunked');
  // node:https cannot read the server name from raw headers: it is the Host header's name, said here.
  const host = (req.headers?.find(([name]) => name.toLowerCase() === 'host')?.[1] ?? url.host).replace(
    /:\d+$/,
    '',
  );
  const tls = url.protocol === 'https:' && {
    rejectUnauthorized: false,
    servername: req.servername ?? (isIP(host) ? '' : host),
  };
  return new Promise((resolve, reject) => {
    const client = (tls ? httpsRequest : request)(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? 'GET',
        path: req.path,
        headers,
        agent: false,
        ...tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            text: body.toString(),
            json: () => JSON.parse(body.toString()),
          });
        });
      },
    );
    client.on('error', reject);
    if (req.chunks) for (const chunk of req.chunks) client.write(chunk);
    client.end(req.body);
  });
}

export interface WireResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  json: () => any;
  /** The server closed the connection after this response (read only when it said `Connection: close`). */
  closed: boolean;
}

/**
 * Writes `bytes` (latin1) to a new connection as they are, for requests no
 * HTTP client sends (absolute-form targets, HTTP/0.9 lines, two Host headers),
 * and reads the first response. Rejects when the server closes without one.
 */
export function sendRaw(baseUrl: string, bytes: string): Promise<WireResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(Buffer.from(bytes, 'latin1')));
    let received = Buffer.alloc(0);
    let response: WireResponse | undefined;
    const timer = setTimeout(() => socket.destroy(new Error('no complete response within 5 s')), 5000);
    const finish = () => {
      clearTimeout(timer);
      if (response) resolve(response);
      else
        reject(
          new Error(`connection closed without a complete response: ${JSON.stringify(String(received))}`),
        );
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      response ??= parseResponse(received);
      // A response that announces the close is read to the server's close; any other ends here.
      if (response && !/\bclose\b/i.test(response.headers['connection'] ?? '')) socket.destroy();
    });
    socket.on('end', () => {
      if (response) response.closed = true;
    });
    socket.on('close', finish);
    socket.on('error', () => {});
  });
}

/**
 * Sends `requestLine` (e.g. "HEAD /x HTTP/1.1") with Host and Connection: close
 * on a new connection, and resolves with every byte of the answer (latin1), 1xx included.
 */
export function rawExchange(baseUrl: string, requestLine: string): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    socket.on('data', (data) => {
      received += data.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('end', () => resolve(received));
    socket.write(`${requestLine}\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  });
}

function parseResponse(data: Buffer): WireResponse | undefined {
  const text = data.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const status = Number(statusLine!.split(' ')[1]);
  let rest = data.subarray(Buffer.byteLength(text.slice(0, headEnd + 4), 'latin1'));
  let body: Buffer;
  if (headers['transfer-encoding'] === 'chunked') {
    const chunks: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      if (lineEnd === -1) return undefined;
      const size = Number.parseInt(rest.subarray(0, lineEnd).toString(), 16);
      if (rest.length < lineEnd + 2 + size + 2) return undefined;
      if (size === 0) break;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(chunks);
  } else {
    const length = Number(headers['content-length'] ?? 0);
    if (rest.length < length) return undefined;
    body = rest.subarray(0, length);
  }
  const bodyText = body.toString('utf8');
  return { status, headers, body: bodyText, json: () => JSON.parse(bodyText), closed: false };
}
