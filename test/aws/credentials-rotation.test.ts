// Rotating the IAM keys in a Secret file while traffic flows: no request may
// fail, and the new key must be in use within 2 s.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, lambdaRoute } from '../support/manifests.ts';

const OLD = { accessKeyId: 'AKIAOLDKEY', secretAccessKey: 'old-secret' };
const NEW = { accessKeyId: 'AKIANEWKEY', secretAccessKey: 'new-secret' };

let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    credentials: [OLD, NEW],
    endpoints: [
      {
        kind: 'execute-api',
        path: '/prod',
        auth: 'iam',
        handler: (r) => ({ status: 200, body: r.signature!.accessKeyId }),
      },
    ],
  });
  gw = await startTestGateway({
    'secret.yaml': credentialsSecret('keys', OLD),
    'route.yaml': lambdaRoute(
      'rotating',
      `match: {path: /r}
target: {url: "${emulator.url}/prod/r"}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}`,
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
});

it('rotates keys under continuous load without a failed request', async () => {
  const results: { at: number; status: number; key: string }[] = [];
  let running = true;
  const client = async () => {
    while (running) {
      const response = await send(gw.url, { path: '/r' });
      results.push({ at: Date.now(), status: response.status, key: response.text });
    }
  };
  const clients = Array.from({ length: 4 }, client);
  await new Promise((r) => setTimeout(r, 300));
  const rotatedAt = Date.now();
  gw.write('secret.yaml', credentialsSecret('keys', NEW));
  // Keep going until the new key has been in use for a while.
  const deadline = rotatedAt + 5000;
  while (Date.now() < deadline && results.filter((r) => r.key === NEW.accessKeyId).length < 50) {
    await new Promise((r) => setTimeout(r, 20));
  }
  running = false;
  await Promise.all(clients);

  expect(results.filter((r) => r.status !== 200)).toEqual([]);
  const firstNew = results.find((r) => r.key === NEW.accessKeyId);
  expect(firstNew, 'the new key was never used').toBeDefined();
  expect(firstNew!.at - rotatedAt).toBeLessThan(2000);
  // Once switched, the old key is never used again.
  expect(results.filter((r) => r.at > firstNew!.at + 100 && r.key === OLD.accessKeyId)).toEqual([]);
  expect(results.filter((r) => r.key === OLD.accessKeyId).length).toBeGreaterThan(0);
});
