// The seed example from the APISIX aws-lambda docs, run against exactly what
// `npm start` runs: `lambda-ingress demo` on examples/ with the emulator, here
// on ports of its own (the emulator too: examples/ say 9092, and the demo
// points them at the emulator it started).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, type RunningProcess, startCli, waitFor200 } from './support/process.ts';

let demo: RunningProcess;
let base: string;
let adminBase: string;
let emulatorPort: number;

beforeAll(async () => {
  const [port, adminPort] = [await freePort(), await freePort()];
  emulatorPort = await freePort();
  demo = startCli([
    'demo',
    '--port',
    String(port),
    '--admin-port',
    String(adminPort),
    '--emulator-port',
    String(emulatorPort),
  ]);
  base = `http://127.0.0.1:${port}`;
  adminBase = `http://127.0.0.1:${adminPort}`;
  await waitFor200(`${adminBase}/readyz`, 15_000, demo);
});
afterAll(async () => {
  expect(await demo.stop()).toBe(0);
});

it.each([['/aws?name=APISIX'], ['/aws/default/test-apisix?name=APISIX'], ['/hello?name=APISIX']])(
  'curl %s answers "Hello, APISIX!" from the emulator the demo started',
  async (path) => {
    const response = await fetch(base + path);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('"Hello, APISIX!"');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  },
);

it('serves /debug/routes, showing examples/ pointed at the emulator port', async () => {
  const table = (await (await fetch(`${adminBase}/debug/routes`)).json()) as {
    routes: { target: { host?: string } }[];
  };
  const hosts = table.routes.map((r) => r.target.host);
  expect(hosts).toContain(`127.0.0.1:${emulatorPort}`);
  expect(JSON.stringify(table)).not.toContain(':9092');
});

it('says there is no route for anything else', async () => {
  const response = await fetch(`${base}/elsewhere`);
  expect(response.status).toBe(404);
  expect(await response.json()).toMatchObject({ error: 'no_route' });
});
