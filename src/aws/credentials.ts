// Credentials that expire (AssumeRole, IRSA web identity, EKS Pod Identity,
// IMDS) are fetched ahead of time and refreshed in the background before
// they expire, so no request ever waits on STS or a metadata endpoint. A
// failure keeps the current credentials while they are valid, retries with
// backoff, and is reported (routes go not-ready) until a fetch succeeds.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { registerSecrets, scrubSecrets } from '../util/log.ts';

export interface CredentialSource {
  /** Valid credentials now, or undefined (see `problem`). */
  current(): AwsCredentialIdentity | undefined;
  /** Why there are no valid credentials, in words safe to show users. */
  readonly problem: string | undefined;
  /** Settles after the first fetch attempt. */
  readonly firstAttempt: Promise<void>;
  /** Called whenever `problem` changes. */
  onChange(listener: () => void): void;
  close(): void;
}

/**
 * The source's credentials, waiting for its first fetch if it has none yet.
 * Call as `source.current() ?? (await waitForCredentials(source))`: a request
 * awaits only while a new source is still on its first fetch.
 */
export async function waitForCredentials(
  source: CredentialSource,
): Promise<AwsCredentialIdentity | undefined> {
  await source.firstAttempt;
  return source.current();
}

/** Credentials from a Secret: always current. */
export function staticCredentialSource(credentials: AwsCredentialIdentity): CredentialSource {
  return {
    current: () => credentials,
    problem: undefined,
    firstAttempt: Promise.resolve(),
    onChange: () => {},
    close: () => {},
  };
}

export interface RefreshOptions {
  /** Refresh when this much of the lifetime is left, at most (default 5 min, as the AWS SDKs do). */
  refreshMarginMs?: number;
  /** First retry delay after a failure (default 1 s), doubling up to maxRetryMs (default 30 s). */
  retryMs?: number;
  maxRetryMs?: number;
  now?: () => number;
}

type Provider = (options?: { forceRefresh?: boolean }) => Promise<AwsCredentialIdentity>;

export class RefreshingCredentialSource implements CredentialSource {
  readonly #provider: Provider;
  readonly #describe: string;
  readonly #options: Required<RefreshOptions>;
  readonly #listeners: (() => void)[] = [];
  #credentials: AwsCredentialIdentity | undefined;
  #problem: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  readonly firstAttempt: Promise<void>;

  /** `describe` names the source in problems ("AssumeRole arn:…", "the AWS credential chain"). */
  constructor(
    provider: AwsCredentialIdentityProvider | Provider,
    describe: string,
    options: RefreshOptions = {},
  ) {
    this.#provider = provider as Provider;
    this.#describe = describe;
    this.#options = {
      refreshMarginMs: options.refreshMarginMs ?? 5 * 60_000,
      retryMs: options.retryMs ?? 1000,
      maxRetryMs: options.maxRetryMs ?? 30_000,
      now: options.now ?? Date.now,
    };
    this.firstAttempt = this.#refresh();
  }

  current(): AwsCredentialIdentity | undefined {
    const credentials = this.#credentials;
    if (credentials?.expiration && credentials.expiration.getTime() <= this.#options.now()) return undefined;
    return credentials;
  }

  get problem(): string | undefined {
    if (this.#problem === undefined && this.#credentials && !this.current()) {
      return `credentials from ${this.#describe} expired and could not be refreshed`;
    }
    return this.#problem;
  }

  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    registerSecrets(this, []);
  }

  async #refresh(): Promise<void> {
    const before = this.problem;
    try {
      const credentials = await this.#provider({ forceRefresh: true });
      const { accessKeyId, secretAccessKey, sessionToken } = credentials;
      registerSecrets(this, [accessKeyId, secretAccessKey, sessionToken ?? '']);
      this.#credentials = credentials;
      this.#failures = 0;
      this.#problem = undefined;
      this.#schedule(this.#refreshDelay(this.#credentials));
    } catch (error) {
      this.#failures++;
      // The message ends up in route status and 503 bodies: keep its first line, minus any credential it quotes.
      const reason = scrubSecrets((error as Error).message?.split('\n')[0] ?? String(error));
      if (!this.current()) this.#problem = `cannot get credentials from ${this.#describe}: ${reason}`;
      const { retryMs, maxRetryMs } = this.#options;
      this.#schedule(Math.min(maxRetryMs, retryMs * 2 ** (this.#failures - 1)));
    }
    if (this.problem !== before) for (const listener of this.#listeners) listener();
  }

  /** A while before expiry: the margin, or a third of the lifetime left when that is shorter. */
  #refreshDelay(credentials: AwsCredentialIdentity): number | undefined {
    if (!credentials.expiration) return undefined;
    const left = credentials.expiration.getTime() - this.#options.now();
    return Math.max(1000, left - Math.min(this.#options.refreshMarginMs, left / 3));
  }

  #schedule(delayMs: number | undefined): void {
    clearTimeout(this.#timer);
    if (delayMs === undefined || this.#closed) return;
    this.#timer = setTimeout(() => void this.#refresh(), delayMs);
    this.#timer.unref();
  }
}
