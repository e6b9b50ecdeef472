// The seed example from the APISIX aws-lambda docs, run against exactly what
// `npm start` runs: `lambda-ingress demo` on examples/ with the emulator.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, type RunningProcess, startCli, waitFor200 } from './support/process.ts';

let demo: RunningProcess;
let base: string;

beforeAll(async () => {
  const [port, adminPort] = [await freePort(), await freePort()];
  demo = startCli(['demo', '--port', String(port), '--admin-port', String(adminPort)]);
  base = `http://127.0.0.1:${port}`;
  await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 15_000, demo);
});
afterAll(async () => {
  expect(await demo.stop()).toBe(0);
});

it.each([['/aws?name=APISIX'], ['/aws/default/test-apisix?name=APISIX']])(
  'curl %s answers "Hello, APISIX!" through a SigV4-checked API Gateway',
  async (path) => {
    const response = await fetch(base + path);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('"Hello, APISIX!"');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  },
);

it('says there is no route for anything else', async () => {
  const response = await fetch(`${base}/elsewhere`);
  expect(response.status).toBe(404);
  expect(await response.json()).toMatchObject({ error: 'no_route' });
});
