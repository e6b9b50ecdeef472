// A raw HTTP(S) client for the emulator tests: sends exactly the path, query
// and headers given (so encodings reach the wire untouched) and can sign with
// the project's independent SigV4 module or with @smithy/signature-v4.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Emulator } from '../../src/emulator/server.ts';
import { type AwsCredentials, sign } from '../../src/emulator/sigv4.ts';

export interface ClientRequest {
  method?: string;
  path: string;
  query?: string;
  headers?: [string, string][];
  body?: string | Buffer;
}

export interface Signing {
  credentials: AwsCredentials;
  service: string;
  region?: string;
  date?: Date;
  /** Sign with @smithy/signature-v4 instead of our own module. */
  smithy?: boolean;
}

export interface ClientResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export async function call(
  emulator: Emulator,
  req: ClientRequest,
  signing?: Signing,
): Promise<ClientResponse> {
  const res = await open(emulator, req, signing);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
}

/** Sends the request and resolves with the response as it starts, its body still to be read. */
export async function open(
  emulator: Emulator,
  req: ClientRequest,
  signing?: Signing,
): Promise<IncomingMessage> {
  const method = req.method ?? 'GET';
  const body = Buffer.from(req.body ?? '');
  const query = req.query ?? '';
  let headers: [string, string][] = [['host', `127.0.0.1:${emulator.port}`], ...(req.headers ?? [])];
  if (body.length > 0 && !headers.some(([name]) => name.toLowerCase() === 'content-length')) {
    headers.push(['content-length', String(body.length)]);
  }
  if (signing) {
    const wire = { method, path: req.path, query, headers, body };
    headers = signing.smithy
      ? await smithySign(wire, signing)
      : sign(wire, { ...signing, region: signing.region ?? 'us-east-1' });
  }
  const target = query === '' ? req.path : `${req.path}?${query}`;
  const send = emulator.tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(
      {
        host: '127.0.0.1',
        port: emulator.port,
        method,
        path: target,
        headers: headers.flat(),
        ...(emulator.tls ? { ca: emulator.certificatePem } : {}),
      },
      resolve,
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** Signs as the proxy does, with @smithy/signature-v4; the wire path is given to it as is. */
async function smithySign(
  wire: { method: string; path: string; query: string; headers: [string, string][]; body: Buffer },
  signing: Signing,
): Promise<[string, string][]> {
  const signer = new SignatureV4({
    credentials: signing.credentials,
    region: signing.region ?? 'us-east-1',
    service: signing.service,
    sha256: Sha256,
  });
  // Decoded as the proxy holds them: `+` is a literal plus, not a form-encoded space.
  const query: Record<string, string[]> = {};
  for (const part of wire.query.split('&').filter(Boolean)) {
    const [k = '', v = ''] = part.split('=').map(decodeURIComponent);
    query[k] = [...(query[k] ?? []), v];
  }
  const signed = await signer.sign(
    {
      method: wire.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: wire.path,
      query,
      headers: Object.fromEntries(wire.headers),
      body: wire.body,
    },
    { signingDate: signing.date ?? new Date() },
  );
  return Object.entries(signed.headers);
}

export function json(response: ClientResponse): unknown {
  return JSON.parse(response.body);
}
