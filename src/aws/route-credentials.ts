// Which CredentialSource a route's auth.iam needs, keyed so that routes with
// the same credentials share one source (one STS session, one refresh loop).

import { hash } from 'node:crypto';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { IamAuth, StaticCredentials } from '../model/route.ts';
import { perObject } from '../util/per-object.ts';
import {
  type CredentialSource,
  RefreshingCredentialSource,
  type RefreshOptions,
  staticCredentialSource,
} from './credentials.ts';

/**
 * Identifies a credential set by a digest, so caches keyed by it never hold readable secrets.
 * Compile hands over the same credentials object while its Secret is unchanged.
 */
const staticCredentialsKey = perObject((credentials: StaticCredentials): string => {
  const parts = [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken];
  return hash('sha256', parts.map((v) => v?.reveal() ?? '').join('\0'));
});

type SdkProviders = typeof import('@aws-sdk/credential-providers');

/**
 * A provider of the AWS SDK's, built on its first call: the SDK's providers
 * (and the @smithy/core they bring) are loaded only by a process with a route
 * that needs them, as most routes name a Secret.
 */
function sdkProvider(
  build: (sdk: SdkProviders) => AwsCredentialIdentityProvider,
): AwsCredentialIdentityProvider {
  let provider: Promise<AwsCredentialIdentityProvider> | undefined;
  return async (options) => {
    provider ??= import('@aws-sdk/credential-providers').then(build);
    return (await provider)(options);
  };
}

/**
 * The SDK's default chain, whose "Could not load credentials from any
 * providers" becomes what was tried and what to do: on a laptop in standalone
 * mode, nothing is there until the route names a Secret.
 */
function credentialChain(region: string): AwsCredentialIdentityProvider {
  const chain = sdkProvider((sdk) => sdk.fromNodeProviderChain({ clientConfig: { region } }));
  return async (options) => {
    try {
      return await chain(options);
    } catch (error) {
      if (!/from any providers/.test((error as Error).message)) throw error;
      throw new Error(
        'none found (tried environment variables, ~/.aws config and credentials, web identity token, container credentials, IMDS); set spec.auth.iam.secretRef to a Secret with accessKeyId and secretAccessKey, or give this process AWS credentials',
      );
    }
  };
}

export interface CredentialSourceSpec {
  key: string;
  create: () => CredentialSource;
}

export function credentialSourceSpec(iam: IamAuth, options: RefreshOptions = {}): CredentialSourceSpec {
  const { credentials, assumeRole, region } = iam;
  const base =
    credentials.kind === 'static'
      ? {
          key: `static:${staticCredentialsKey(credentials)}`,
          identity: {
            accessKeyId: credentials.accessKeyId.reveal(),
            secretAccessKey: credentials.secretAccessKey.reveal(),
            ...(credentials.sessionToken && { sessionToken: credentials.sessionToken.reveal() }),
          },
        }
      : { key: `chain:${region}`, identity: undefined };
  if (!assumeRole) {
    return base.identity
      ? { key: base.key, create: () => staticCredentialSource(base.identity) }
      : {
          key: base.key,
          create: () =>
            new RefreshingCredentialSource(credentialChain(region), 'the AWS credential chain', options),
        };
  }
  const { roleArn, sessionName } = assumeRole;
  return {
    key: `assume:${roleArn}:${sessionName}:${region}:${base.key}`,
    create: () =>
      new RefreshingCredentialSource(
        sdkProvider((sdk) =>
          sdk.fromTemporaryCredentials({
            params: { RoleArn: roleArn, RoleSessionName: sessionName },
            clientConfig: { region },
            masterCredentials: base.identity ?? credentialChain(region),
          }),
        ),
        `AssumeRole ${roleArn}`,
        options,
      ),
  };
}
