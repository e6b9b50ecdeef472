// One request's failure never takes the data plane down: a handler that
// throws gets a 500 for that request, and the next request is served.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.ts';
import type { Exchange } from '../../src/dataplane/exchange.ts';
import { Router } from '../../src/dataplane/router.ts';
import { createDataPlaneServer } from '../../src/dataplane/server.ts';
import { parseManifests, snapshotOf } from '../../src/sources/manifests.ts';
import { createLoggers } from '../../src/util/log.ts';
import { send } from '../support/http.ts';
import { lambdaRoute } from '../support/manifests.ts';

const router = new Router();
let uncaught = 0;
const { app: log } = createLoggers('silent');
const server = createDataPlaneServer({ router, logger: log, onUncaught: () => uncaught++ });
let url: string;

beforeAll(async () => {
  const result = compile(
    snapshotOf(
      parseManifests(
        lambdaRoute('flaky', 'match: {path: /flaky}\ntarget: {url: "http://127.0.0.1:1/"}'),
        'inline.yaml',
      ),
    ),
    1,
  );
  let calls = 0;
  const handler = {
    handle(exchange: Exchange, done: () => void) {
      if (++calls === 1) throw new Error('boom');
      exchange.res.end('fine');
      done();
    },
  };
  router.swap({ table: result.table, handlers: new Map([[result.table.routes[0]!, handler]]) });
  await server.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

it('answers 500 for the request whose handler throws, and serves the next one', async () => {
  const failed = await send(url, { path: '/flaky' });
  expect(failed.status).toBe(500);
  expect(failed.json()).toMatchObject({ error: 'internal_error' });
  expect(uncaught).toBe(1);
  const next = await send(url, { path: '/flaky' });
  expect(next.status).toBe(200);
  expect(next.text).toBe('fine');
});
