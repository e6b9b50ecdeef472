import { hash } from 'node:crypto';
import type { StaticCredentials } from '../compile/route.ts';
import { Signer } from './signer.ts';

/** Identifies a credential set by a digest, so caches keyed by it never hold readable secrets. */
export function staticCredentialsKey(credentials: StaticCredentials): string {
  const parts = [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken];
  return hash('sha256', parts.map((v) => v?.reveal() ?? '').join('\0'));
}

export function staticSigner(credentials: StaticCredentials): Signer {
  return new Signer({
    accessKeyId: credentials.accessKeyId.reveal(),
    secretAccessKey: credentials.secretAccessKey.reveal(),
    ...(credentials.sessionToken && { sessionToken: credentials.sessionToken.reveal() }),
  });
}
