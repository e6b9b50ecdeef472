// Shared by the pod credential chain tests (IRSA web identity, EKS Pod
// Identity): a function route with no secretRef, under load across several
// credential refreshes.
import { expect } from 'vitest';
import type { Emulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from './gateway.ts';
import { underLoad } from './load.ts';
import { lambdaRoute } from './manifests.ts';

/** Points the AWS SDK's default chain away from anything on this machine. */
export function isolateCredentialChain(env: Record<string, string>): void {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('AWS_')) delete process.env[name];
  }
  Object.assign(process.env, {
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    ...env,
  });
}

export function chainRouteGateway(emulator: Emulator): Promise<TestGateway> {
  return startTestGateway(
    {
      'route.yaml': lambdaRoute(
        'pod-identity',
        `match: {path: /chain}\ntarget: {function: {name: hello, endpoint: "${emulator.url}"}}`,
      ),
    },
    { credentialRefresh: { retryMs: 200, maxRetryMs: 500 } },
  );
}

/** Load for a bit more than two credential lifetimes: no failures, and every issued credential set is used. */
export async function expectRefreshWithoutFailures(gw: TestGateway, emulator: Emulator, lifetimeS: number) {
  const started = Date.now();
  const results = await underLoad(gw.url, '/chain', () => Date.now() - started > 2.2 * lifetimeS * 1000);
  expect(results.filter((r) => r.status !== 200)).toEqual([]);
  expect(emulator.issuedCredentials.length).toBeGreaterThanOrEqual(3);
  const signers = new Set(
    emulator.requests
      .filter((r) => r.service === 'lambda-invoke' && r.verification?.ok)
      .map((r) => (r.verification as { accessKeyId: string }).accessKeyId),
  );
  expect(signers.size).toBeGreaterThanOrEqual(3);
}
