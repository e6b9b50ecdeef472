// A raw HTTP client for tests: the path, query and headers go on the wire
// exactly as given (duplicates, case and encodings kept); bodies may be sent
// chunked.
import { type IncomingHttpHeaders, request } from 'node:http';

export interface RawRequest {
  method?: string;
  /** Path and query exactly as sent, e.g. "/a%20b?x=1&x=2". */
  path: string;
  /** Raw header pairs, sent in order. */
  headers?: [string, string][];
  body?: Buffer | string;
  /** Send the body as these chunks with Transfer-Encoding: chunked. */
  chunks?: (Buffer | string)[];
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
  return new Promise((resolve, reject) => {
    const client = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? 'GET',
        path: req.path,
        headers,
        agent: false,
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
