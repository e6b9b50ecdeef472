// SigV4 signing of outgoing requests with @smithy/signature-v4. One Signer
// per credential source, reused across requests and routes; smithy caches the
// derived signing key. Only the headers we control are signed (host, the
// payload hash, x-amz-date and the session token), so nothing a client sends
// can break or steer the signature.

import { hash } from 'node:crypto';
import { getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { CredentialSource } from './credentials.ts';
import { NodeSha256 } from './sha256.ts';

export interface SignInput {
  method: string;
  /** Host header value, with port when not default. */
  host: string;
  /** Path exactly as it will be sent (percent-encoded). */
  path: string;
  /** Raw query string as it will be sent, without "?". */
  query: string;
  body: Buffer | undefined;
  region: string;
  service: string;
}

const EMPTY_SHA256 = hash('sha256', '', 'hex');

export class Signer {
  readonly #signer: SignatureV4;

  constructor(source: CredentialSource) {
    const credentials = () => {
      const current = source.current();
      return current
        ? Promise.resolve(current)
        : Promise.reject(new Error(source.problem ?? 'no AWS credentials'));
    };
    this.#signer = new SignatureV4({
      credentials,
      region: 'us-east-1',
      service: 'execute-api',
      sha256: NodeSha256,
    });
    // smithy looks derived keys up in a module-wide cache of 50 entries whose key
    // is an HMAC of the secret, computed on every request. A Signer has one
    // credential source, so it keeps its own derived keys per credential set,
    // day, region and service: one HMAC per request instead of two, and no
    // recomputing once more than 50 credential sets are in use.
    const derived = new WeakMap<AwsCredentialIdentity, Map<string, Promise<Uint8Array>>>();
    const cachedSigningKey = (
      credentials: AwsCredentialIdentity,
      region: string,
      shortDate: string,
      service: string,
    ) => {
      let byScope = derived.get(credentials);
      if (!byScope) {
        byScope = new Map();
        derived.set(credentials, byScope);
      }
      const scope = `${shortDate}/${region}/${service}`;
      let key = byScope.get(scope);
      if (!key) {
        if (byScope.size > 8) byScope.clear(); // old days
        key = getSigningKey(NodeSha256, credentials, shortDate, region, service);
        byScope.set(scope, key);
      }
      return key;
    };
    Object.defineProperty(this.#signer, 'getSigningKey', { value: cachedSigningKey });
    // X-Amz-Date has a one-second resolution: format it once per second, not per request.
    let formatted = { second: -1, dates: { longDate: '', shortDate: '' } };
    const formatDate = (now: Date) => {
      const second = Math.floor(now.getTime() / 1000);
      if (second !== formatted.second) {
        const longDate = `${now.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
        formatted = { second, dates: { longDate, shortDate: longDate.slice(0, 8) } };
      }
      return formatted.dates;
    };
    Object.defineProperty(this.#signer, 'formatDate', { value: formatDate });
  }

  /** The headers to add to the request: authorization, x-amz-date, x-amz-content-sha256 and, for temporary credentials, x-amz-security-token. */
  async sign(input: SignInput): Promise<Record<string, string>> {
    const payloadHash =
      input.body && input.body.length > 0 ? hash('sha256', input.body, 'hex') : EMPTY_SHA256;
    const signed = await this.#signer.sign(
      {
        method: input.method,
        protocol: 'https:',
        hostname: input.host,
        path: input.path,
        query: parseQuery(input.query),
        headers: { host: input.host, 'x-amz-content-sha256': payloadHash },
      },
      { signingRegion: input.region, signingService: input.service },
    );
    const { host: _host, ...added } = signed.headers;
    return added;
  }
}

/**
 * The raw query as smithy wants it: decoded keys and values, repeated keys as
 * arrays. smithy re-encodes them for the canonical query, which is what AWS
 * does with the bytes we forward unchanged. Empty pairs ("a=1&&b=2") are
 * skipped; a bare key is an empty value; "+" is a literal plus.
 */
export function parseQuery(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  if (raw === '') return query;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else if (typeof existing === 'string') query[key] = [existing, value];
    else existing.push(value);
  }
  return query;
}

function decode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // malformed escapes are signed as sent
  }
}
