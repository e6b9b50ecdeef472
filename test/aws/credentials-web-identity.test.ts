// No secretRef: the pod's credential chain. IRSA: a projected service account
// token file plus AWS_ROLE_ARN, exchanged with STS AssumeRoleWithWebIdentity.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import type { TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import {
  chainRouteGateway,
  expectRefreshWithoutFailures,
  isolateCredentialChain,
} from '../support/pod-credentials.ts';

const LIFETIME_S = 6;
const dir = mkdtempSync(join(tmpdir(), 'irsa-'));
const tokenFile = join(dir, 'token');
let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    sts: { credentialLifetimeSeconds: LIFETIME_S, webIdentityTokens: ['good-token'] },
    functions: { hello: { handler: () => ({ statusCode: 200, body: 'hi' }) } },
  });
  writeFileSync(tokenFile, 'expired-token');
  isolateCredentialChain({
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/irsa',
    AWS_ENDPOINT_URL_STS: emulator.url,
  });
  gw = await chainRouteGateway(emulator);
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('is not ready while the token is rejected, and recovers when the token file is rotated', async () => {
  const refused = await send(gw.url, { path: '/chain' });
  expect(refused.status).toBe(503);
  expect(refused.json()).toMatchObject({
    reason: 'CredentialsUnavailable',
    message: expect.stringContaining('AWS credential chain'),
  });
  writeFileSync(tokenFile, 'good-token');
  const deadline = Date.now() + 5000;
  let status = 0;
  while (status !== 200 && Date.now() < deadline) status = (await send(gw.url, { path: '/chain' })).status;
  expect(status).toBe(200);
});

it('refreshes web identity credentials before they expire, without a failed request', async () => {
  await expectRefreshWithoutFailures(gw, emulator, LIFETIME_S);
});
