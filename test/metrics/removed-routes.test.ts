// Routes come and go: the per-route series of a route that left the table
// leave /metrics with it, so the series do not grow with every route ever
// created. Routes still in the table keep theirs, counts included. With
// --route-histograms that includes the route's latency histograms.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { lambdaRoute } from '../support/manifests.ts';

let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({
    endpoints: [
      { kind: 'execute-api', path: '/', auth: 'none', handler: () => ({ status: 200, body: 'ok' }) },
    ],
  });
});
afterAll(async () => {
  await emulator?.close();
});

const routeLines = async (route: string) =>
  (await (await fetch(`${gw.adminUrl}/metrics`)).text())
    .split('\n')
    .filter((line) => line.includes(`route="${route}"`));

describe.each([false, true])('routeHistograms: %s', (routeHistograms) => {
  beforeAll(async () => {
    gw = await startTestGateway(
      { 'kept.yaml': lambdaRoute('kept', `match: {path: /kept}\ntarget: {url: "${emulator.url}/"}`) },
      { routeHistograms },
    );
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('drops the series of every deleted route, and keeps those of the routes still served', async () => {
    for (let i = 0; i < 20; i++) {
      gw.write(
        `temp-${i}.yaml`,
        lambdaRoute(
          `temp-${i}`,
          // Half of them fail upstream, so that they have an upstream_errors series too.
          `match: {path: /temp-${i}}\ntarget: {url: "${i % 2 ? 'http://127.0.0.1:1' : emulator.url}/"}`,
        ),
      );
      await gw.nextVersion();
      expect((await send(gw.url, { path: `/temp-${i}` })).status).toBe(i % 2 ? 502 : 200);
      expect(await routeLines(`temp-${i}`)).not.toEqual([]);
      gw.remove(`temp-${i}.yaml`);
      await gw.nextVersion();
      await send(gw.url, { path: '/kept' });
    }
    for (let i = 0; i < 20; i++) expect(await routeLines(`temp-${i}`)).toEqual([]);
    expect(await routeLines('kept')).toContain(
      'lambda_ingress_requests_total{route="kept",namespace="default",method="GET",code="200"} 20',
    );
    if (routeHistograms) {
      expect(await routeLines('kept')).toContain(
        'lambda_ingress_request_duration_seconds_count{route="kept",namespace="default"} 20',
      );
    }
  });
});
