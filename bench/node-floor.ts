// The floor of any Node.js proxy on this machine: node:http in front of an
// undici Pool, streaming the upstream's answer back, and nothing else (no
// routing, no signing, no metrics, no logs). lambda-ingress cannot be faster
// than this; the benchmark reports it so that the gap to nginx can be split
// into what Node costs and what lambda-ingress adds.
//
//   node bench/node-floor.ts <port> <upstream-port>
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, upstreamPort] = process.argv.slice(2).map(Number) as [number, number];
const upstreamHost = `127.0.0.1:${upstreamPort}`;
const pool = new Pool(`http://${upstreamHost}`, { pipelining: 1, connections: null });

createServer((req, res) => {
  pool.dispatch(
    { method: req.method as 'GET', path: req.url ?? '/', headers: ['host', upstreamHost], body: null },
    {
      onRequestStart: () => {},
      onResponseStart: (_controller, status, headers) =>
        res.writeHead(status, headers as Record<string, string>),
      onResponseData: (_controller, chunk) => void res.write(chunk),
      onResponseEnd: () => res.end(),
      onResponseError: () => {
        res.statusCode = 502;
        res.end();
      },
    },
  );
}).listen(port, '127.0.0.1');
