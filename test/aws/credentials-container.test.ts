// No secretRef: the pod's credential chain. EKS Pod Identity (and ECS): the
// container credentials endpoint named by AWS_CONTAINER_CREDENTIALS_FULL_URI.
import { afterAll, beforeAll, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import type { TestGateway } from '../support/gateway.ts';
import {
  chainRouteGateway,
  expectRefreshWithoutFailures,
  isolateCredentialChain,
} from '../support/pod-credentials.ts';

const LIFETIME_S = 6;
let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    containerCredentials: {
      path: '/v1/credentials',
      authorizationToken: 'pod-identity-token',
      lifetimeSeconds: LIFETIME_S,
    },
    functions: { hello: { handler: () => ({ statusCode: 200, body: 'hi' }) } },
  });
  isolateCredentialChain({
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `${emulator.url}/v1/credentials`,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: 'pod-identity-token',
  });
  gw = await chainRouteGateway(emulator);
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
});

it('refreshes container credentials before they expire, without a failed request', async () => {
  await expectRefreshWithoutFailures(gw, emulator, LIFETIME_S);
});
