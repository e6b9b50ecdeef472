// auth.iam without secretRef where the credential chain finds nothing (a
// laptop in standalone mode): the route is not ready, and says what was tried
// and what to set.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import type { TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { chainRouteGateway, isolateCredentialChain } from '../support/pod-credentials.ts';

let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    functions: { hello: { handler: () => ({ statusCode: 200, body: 'hi' }) } },
  });
  isolateCredentialChain({});
  gw = await chainRouteGateway(emulator);
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
});

it('answers 503 naming spec.auth.iam.secretRef and the credential sources tried', async () => {
  const res = await send(gw.url, { path: '/chain' });
  expect(res.status).toBe(503);
  const { reason, message } = res.json();
  expect(reason).toBe('CredentialsUnavailable');
  expect(message).toMatch(/^cannot get credentials from the AWS credential chain: none found \(tried /);
  for (const source of ['environment variables', '~/.aws', 'web identity', 'container', 'IMDS']) {
    expect(message).toContain(source);
  }
  expect(message).toContain('set spec.auth.iam.secretRef to a Secret with accessKeyId and secretAccessKey');
  expect(emulator.requests.filter((r) => r.service === 'lambda-invoke')).toEqual([]);
});
