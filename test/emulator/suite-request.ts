// Reads the AWS SigV4 test suite's files: context.json and the raw HTTP
// requests (request.txt, header-signed-request.txt).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AwsCredentials, WireRequest } from '../../src/emulator/sigv4.ts';

export interface SuiteContext {
  credentials: AwsCredentials;
  normalize: boolean;
  region: string;
  service: string;
  signBody: boolean;
  /** The session token is sent but left out of the signature. */
  omitSessionToken: boolean;
  timestamp: Date;
}

interface RawContext {
  credentials: { access_key_id: string; secret_access_key: string; token?: string; session_token?: string };
  normalize: boolean;
  region: string;
  service: string;
  sign_body: boolean;
  omit_session_token?: boolean;
  timestamp: string;
}

export function readContext(dir: string): SuiteContext {
  const raw = JSON.parse(readFileSync(join(dir, 'context.json'), 'utf8')) as RawContext;
  const sessionToken = raw.credentials.token ?? raw.credentials.session_token;
  return {
    credentials: {
      accessKeyId: raw.credentials.access_key_id,
      secretAccessKey: raw.credentials.secret_access_key,
      ...(sessionToken === undefined ? {} : { sessionToken }),
    },
    normalize: raw.normalize,
    region: raw.region,
    service: raw.service,
    signBody: raw.sign_body,
    omitSessionToken: raw.omit_session_token ?? false,
    timestamp: new Date(raw.timestamp),
  };
}

/** Parses a raw HTTP/1.1 request; a header line starting with whitespace continues the previous value. */
export function parseRawRequest(text: string): WireRequest {
  const blank = text.indexOf('\n\n');
  const head = blank === -1 ? text : text.slice(0, blank);
  const body = blank === -1 ? '' : text.slice(blank + 2);
  const [requestLine = '', ...headerLines] = head.split('\n').filter((line, i) => i === 0 || line !== '');
  const method = requestLine.slice(0, requestLine.indexOf(' '));
  const target = requestLine.slice(method.length + 1, requestLine.lastIndexOf(' HTTP/'));
  const question = target.indexOf('?');
  const headers: [string, string][] = [];
  for (const line of headerLines) {
    const last = headers.at(-1);
    if (/^\s/.test(line) && last) {
      last[1] += `\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    headers.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return {
    method,
    path: question === -1 ? target : target.slice(0, question),
    query: question === -1 ? '' : target.slice(question + 1),
    headers,
    body: Buffer.from(body, 'utf8'),
  };
}

export function readRequest(dir: string, file: string): WireRequest {
  return parseRawRequest(readFileSync(join(dir, file), 'utf8'));
}
