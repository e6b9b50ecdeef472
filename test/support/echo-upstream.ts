// A plain HTTP upstream that answers every request with what it was sent (its
// target and raw headers, as JSON) and records the targets, in order.
import { createServer } from 'node:http';
import { listenLoopback } from '../../hack/lib/ports.ts';

export interface EchoUpstream {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The request targets received so far; tests clear it with `received.length = 0`. */
  received: string[];
  close(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    received.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, headers: req.rawHeaders }));
  });
  const url = `http://127.0.0.1:${await listenLoopback(server)}`;
  return { url, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
