// A new table keeps the handlers of routes compile() handed over unchanged
// (and the pools they use); a route whose spec or Secret changed gets a new
// handler, and the new handlers serve.
import { afterAll, expect, it } from 'vitest';
import { objectKey, type Snapshot } from '../../src/api/snapshot.ts';
import type { LambdaRouteObject, SecretObject } from '../../src/api/types.ts';
import { compile } from '../../src/compile/compile.ts';
import { Router } from '../../src/dataplane/router.ts';
import { Runtime, type Serving } from '../../src/dataplane/runtime.ts';
import { createDataPlaneServer } from '../../src/dataplane/server.ts';
import { parseManifests } from '../../src/sources/manifests.ts';
import { createLoggers } from '../../src/util/log.ts';
import { startEchoUpstream } from '../support/echo-upstream.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute, secret } from '../support/manifests.ts';

const upstream = await startEchoUpstream();
const runtime = new Runtime({ bodyLimit: 1024 * 1024, poolCloseDelayMs: 0 });
const router = new Router();
const server = createDataPlaneServer({ router, logger: createLoggers('silent').app });
const url = await server.listen({ port: 0, host: '127.0.0.1' });
afterAll(async () => {
  await server.close();
  await runtime.close();
  await upstream.close();
});

const parse = (text: string) => parseManifests(text, 'inline.yaml');
const snapshot = (routes: LambdaRouteObject[], secrets: SecretObject[] = []): Snapshot => ({
  routes,
  secrets: new Map(secrets.map((s) => [objectKey(s.metadata), s])),
  errors: [],
});
let version = 0;
function serve(routes: LambdaRouteObject[], secrets: SecretObject[] = []): Serving {
  const serving = runtime.build(compile(snapshot(routes, secrets), ++version).table);
  router.swap(serving);
  return serving;
}
const handlerOf = (serving: Serving, name: string) =>
  serving.handlers.get(serving.table.routes.find((r) => r.name === name)!);

it('keeps the handlers of unchanged routes and builds those of changed ones', async () => {
  const { routes, secrets } = parse(
    documents(
      lambdaRoute('plain', `match: {path: /plain}\ntarget: {url: "${upstream.url}/a"}`),
      lambdaRoute(
        'signed',
        `match: {path: /signed}\ntarget: {url: "${upstream.url}/b"}\nauth: {iam: {secretRef: {name: aws}, region: us-east-1, service: execute-api}}`,
      ),
      secret('aws', { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-one' }),
    ),
  );
  const first = serve(routes, secrets);
  expect(runtime.poolCount).toBe(1);

  const [added] = parse(
    lambdaRoute('added', `match: {path: /added}\ntarget: {url: "${upstream.url}/c"}`),
  ).routes;
  const second = serve([...routes, added!], secrets);
  expect(handlerOf(second, 'plain')).toBe(handlerOf(first, 'plain'));
  expect(handlerOf(second, 'signed')).toBe(handlerOf(first, 'signed'));
  expect(runtime.poolCount).toBe(1);
  expect((await send(url, { path: '/added' })).status).toBe(200);
  expect((await send(url, { path: '/plain' })).status).toBe(200);

  // The Secret rotates: the signed route's handler signs with the new keys.
  const rotated = parse(secret('aws', { accessKeyId: 'AKIDROTATED', secretAccessKey: 'secret-two' })).secrets;
  const third = serve([...routes, added!], rotated);
  expect(handlerOf(third, 'plain')).toBe(handlerOf(first, 'plain'));
  expect(handlerOf(third, 'signed')).not.toBe(handlerOf(first, 'signed'));
  const signed = await send(url, { path: '/signed' });
  expect(signed.status).toBe(200);
  const { headers } = signed.json() as { headers: string[] };
  expect(headers[headers.findIndex((h) => h.toLowerCase() === 'authorization') + 1]).toContain(
    'AKIDROTATED/',
  );

  // The plain route is edited: a new handler, forwarding where the new spec says.
  const [moved] = parse(
    lambdaRoute('plain', `match: {path: /plain}\ntarget: {url: "${upstream.url}/moved"}`),
  ).routes;
  const fourth = serve([moved!, routes[1]!, added!], rotated);
  expect(handlerOf(fourth, 'plain')).not.toBe(handlerOf(first, 'plain'));
  expect(handlerOf(fourth, 'signed')).toBe(handlerOf(third, 'signed'));
  expect((await send(url, { path: '/plain' })).json()).toMatchObject({ url: '/moved' });
});
