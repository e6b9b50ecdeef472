// An invalid route whose match.path can be read answers 503 on that path,
// naming the field, also when another field inside `match` is wrong.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute } from '../support/manifests.ts';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    'routes.yaml': documents(
      lambdaRoute('lower', 'match: {path: /lower, pathType: prefix}\ntarget: {url: "http://127.0.0.1:9"}'),
      lambdaRoute(
        'unknown',
        'match: {path: /unknown, pathtype: Prefix}\ntarget: {url: "http://127.0.0.1:9"}',
      ),
      lambdaRoute(
        'method',
        'match: {path: /method, methods: [GET, get]}\ntarget: {url: "http://127.0.0.1:9"}',
      ),
    ),
  });
});
afterAll(() => gw?.close());

it.each([
  ['/lower', 'default/lower', 'spec.match.pathType: must be one of "Exact", "Prefix"'],
  ['/unknown', 'default/unknown', 'spec.match.pathtype: unknown field'],
  ['/method', 'default/method', 'spec.match.methods[1]: must be one of'],
])('GET %s answers 503 naming the field', async (path, route, message) => {
  const res = await send(gw.url, { path });
  expect(res.status).toBe(503);
  expect(res.json()).toMatchObject({
    error: 'route_not_ready',
    reason: 'Invalid',
    route,
    message: expect.stringContaining(message),
  });
});

it('claims no more than it can read: an unreadable pathType counts as Exact, only valid methods count', async () => {
  expect((await send(gw.url, { path: '/lower/sub' })).status).toBe(404);
  expect((await send(gw.url, { path: '/method', method: 'POST' })).status).toBe(404);
});
