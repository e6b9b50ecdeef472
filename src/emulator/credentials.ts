// The keys the emulator knows: long-term keys from its options, plus the
// temporary ones it issues (STS, container credentials endpoint), which carry a
// session token and expire like AWS's.
import { randomBytes } from 'node:crypto';
import type { AwsCredentials } from './sigv4.ts';

/** The emulated service that issued temporary credentials. */
export type CredentialIssuer = 'sts' | 'container-credentials';

export interface IssuedCredentials extends AwsCredentials {
  sessionToken: string;
  expiration: Date;
  issuer: CredentialIssuer;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export class CredentialStore {
  readonly #keys = new Map<string, AwsCredentials>();
  readonly #issued: IssuedCredentials[] = [];
  readonly #now: () => number;

  constructor(keys: readonly AwsCredentials[], now: () => number) {
    for (const key of keys) this.add(key);
    this.#now = now;
  }

  add(credentials: AwsCredentials): void {
    this.#keys.set(credentials.accessKeyId, credentials);
  }

  get(accessKeyId: string): AwsCredentials | undefined {
    return this.#keys.get(accessKeyId);
  }

  /** Mints temporary credentials valid for `lifetimeSeconds` and registers them. */
  issue(lifetimeSeconds: number, issuer: CredentialIssuer): IssuedCredentials {
    const suffix = Array.from(randomBytes(16), (byte) => BASE32[byte % 32]).join('');
    const credentials: IssuedCredentials = {
      accessKeyId: `ASIA${suffix}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(96).toString('base64')}`,
      // AWS's Expiration has second precision; keep the key's real expiry equal to what it advertises.
      expiration: new Date(Math.floor((this.#now() + lifetimeSeconds * 1000) / 1000) * 1000),
      issuer,
    };
    this.add(credentials);
    this.#issued.push(credentials);
    return credentials;
  }

  /** Every temporary credential issued so far, oldest first. */
  get issued(): readonly IssuedCredentials[] {
    return this.#issued;
  }
}
