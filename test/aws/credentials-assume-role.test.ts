// auth.iam.roleArn: STS AssumeRole signed with the Secret's keys, refreshed
// in the background before expiry; a failure makes the route not ready with
// a reason, and it recovers by itself.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { underLoad } from '../support/load.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const BASE = { accessKeyId: 'AKIABASEKEY', secretAccessKey: 'base-secret' };
const ROLE = 'arn:aws:iam::123456789012:role/invoker';
const OTHER_ROLE = 'arn:aws:iam::123456789012:role/not-yet-allowed';
const allowedRoles = [ROLE];
const LIFETIME_S = 6;

let emulator: Emulator;
let gw: TestGateway;

const signers = () =>
  new Set(
    emulator.requests
      .filter((r) => r.service === 'lambda-invoke' && r.verification?.ok)
      .map((r) => (r.verification as { accessKeyId: string }).accessKeyId),
  );

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [BASE],
    sts: { credentialLifetimeSeconds: LIFETIME_S, roleArns: allowedRoles },
    functions: { hello: { handler: () => ({ statusCode: 200, body: 'hi' }) } },
  });
  process.env['AWS_ENDPOINT_URL_STS'] = emulator.url;
  const route = (name: string, role: string) =>
    lambdaRoute(
      name,
      `match: {path: /${name}}
target: {function: {name: hello, endpoint: "${emulator.url}"}}
auth: {iam: {secretRef: {name: base}, roleArn: "${role}", roleSessionName: tests}}`,
    );
  gw = await startTestGateway(
    {
      'base.yaml': credentialsSecret('base', BASE),
      'routes.yaml': documents(route('assumed', ROLE), route('denied', OTHER_ROLE)),
    },
    { credentialRefresh: { retryMs: 200, maxRetryMs: 500 } },
  );
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
  delete process.env['AWS_ENDPOINT_URL_STS'];
});

it('assumes the role and refreshes the session before it expires, without a failed request', async () => {
  const started = Date.now();
  const results = await underLoad(gw.url, '/assumed', () => Date.now() - started > 2.2 * LIFETIME_S * 1000);
  expect(results.filter((r) => r.status !== 200)).toEqual([]);
  expect(results.length).toBeGreaterThan(20);
  const sessions = emulator.issuedCredentials.filter((c) => c.issuer === 'sts');
  expect(sessions.length).toBeGreaterThanOrEqual(3); // first fetch plus two refreshes
  expect(signers().size).toBeGreaterThanOrEqual(3); // each session was used to sign
  expect([...signers()].every((key) => key.startsWith('ASIA'))).toBe(true); // never the base keys
});

it('marks a route not ready while its role cannot be assumed, and recovers by itself', async () => {
  const denied = await send(gw.url, { path: '/denied' });
  expect(denied.status).toBe(503);
  expect(denied.json()).toMatchObject({ error: 'route_not_ready', reason: 'CredentialsUnavailable' });
  expect(denied.json().message).toContain(OTHER_ROLE);
  const ready = () =>
    gw.gateway.pipeline.diagnostics().find((d) => d.key === 'default/denied')!.conditions[2];
  expect(ready()).toMatchObject({ status: 'False', reason: 'CredentialsUnavailable' });

  allowedRoles.push(OTHER_ROLE);
  const deadline = Date.now() + 5000;
  while (ready()?.status !== 'True' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(ready()).toMatchObject({ status: 'True' });
  expect((await send(gw.url, { path: '/denied' })).status).toBe(200);
});
