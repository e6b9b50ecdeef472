// Deliberately broken peers over plain TCP (node:net), for what a well-behaved
// HTTP server would never do: an upstream that answers each request with raw
// bytes of the test's choosing, and a client that sends its request as slowly
// as it likes.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { listenLoopback } from '../../hack/lib/ports.ts';

export interface RawRequestHead {
  /** The request line, e.g. "GET /x HTTP/1.1". */
  line: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawUpstream {
  url: string;
  /** Every request received, in arrival order. */
  requests: RawRequestHead[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A TCP server that reads each request (head and Content-Length body, several
 * per connection) and calls `answer` with the socket, to write what it likes.
 */
export async function startRawUpstream(
  answer: (socket: Socket, request: RawRequestHead) => void,
): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  const upstream: RawUpstream = {
    url: '',
    requests: [],
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((socket) => {
    upstream.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (data) => {
      buffered = Buffer.concat([buffered, data]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [line = '', ...fields] = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const field of fields) {
          const colon = field.indexOf(':');
          headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = { line, headers, body: buffered.subarray(end + 4, end + 4 + length) };
        buffered = buffered.subarray(end + 4 + length);
        upstream.requests.push(request);
        answer(socket, request);
      }
    });
  });
  upstream.url = `http://127.0.0.1:${await listenLoopback(server)}`;
  return upstream;
}

export interface SlowRequest {
  /** Everything the server sent, once it closed the connection or `stop()` was called. */
  response: Promise<string>;
  /** Stops sending and closes the connection. */
  stop(): void;
}

/**
 * Sends `head` (request line and headers, without the final blank line) with
 * a Content-Length of `length`, then one byte of body every `intervalMs`.
 */
export function slowUpload(baseUrl: string, head: string, length: number, intervalMs = 1000): SlowRequest {
  const url = new URL(baseUrl);
  const socket = connect(Number(url.port), url.hostname);
  let received = '';
  let timer: NodeJS.Timeout | undefined;
  const response = new Promise<string>((resolve) => {
    socket.on('data', (data) => {
      received += data.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve(received);
    });
  });
  socket.write(`${head}\r\nHost: ${url.host}\r\nContent-Length: ${length}\r\n\r\n`);
  let sent = 0;
  timer = setInterval(() => {
    if (sent++ < length && socket.writable) socket.write('x');
  }, intervalMs);
  return {
    response,
    stop() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

/** The status code of a raw HTTP/1.1 response text, skipping any interim 1xx. */
export function finalStatus(raw: string): number | undefined {
  const statuses = [...raw.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  return statuses.find((status) => status >= 200);
}
