// Standalone mode never lets a file read later take over a route already
// serving: not by reusing its namespace/name, nor by claiming the same host,
// path and methods. The object read first keeps serving; a creationTimestamp,
// when given, still wins.
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { lambdaRoute } from '../support/manifests.ts';

let upstream: Server;
let upstreamUrl: string;
let gw: TestGateway | undefined;

beforeAll(async () => {
  upstream = createServer((req, res) => res.end(`upstream ${req.url}`));
  upstreamUrl = `http://127.0.0.1:${await listenLoopback(upstream)}`;
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});
afterAll(() => upstream?.close());

/** A route on `path` whose upstream answers with `tag` in its path. */
const route = (name: string, path: string, tag: string, metadataExtra = '') =>
  lambdaRoute(name, `match: {path: ${path}}\ntarget: {url: "${upstreamUrl}/${tag}"}`).replace(
    `metadata: {name: ${name}, namespace: default}`,
    `metadata: {name: ${name}, namespace: default${metadataExtra}}`,
  );

const get = async (path: string) => {
  const res = await send(gw!.url, { path });
  return `${res.status} ${res.status === 200 ? res.text : res.json().error}`;
};

it("a file added later that reuses a serving route's name is ignored, naming both files", async () => {
  gw = await startTestGateway({ 'routes.yaml': route('aws', '/aws', 'original') });
  expect(await get('/aws')).toBe('200 upstream /original');
  gw.write('a.yaml', route('aws', '/other', 'newcomer')); // sorts before routes.yaml
  await gw.nextVersion();
  expect(await get('/aws')).toBe('200 upstream /original');
  expect(await get('/other')).toBe('404 no_route');
  expect(gw.gateway.pipeline.current!.errors).toEqual([
    {
      origin: 'a.yaml#0',
      message:
        'LambdaRoute default/aws is already defined in routes.yaml#0 (loaded first); ignoring this one',
    },
  ]);
  expect(gw.logs.some((l) => l.includes('"origin":"a.yaml#0"') && l.includes('routes.yaml#0'))).toBe(true);
});

it('a route added later that conflicts with a serving one is Conflicted, the serving one loaded first', async () => {
  gw = await startTestGateway({ 'z.yaml': route('z-serving', '/x', 'serving') });
  gw.write('a.yaml', route('a-newcomer', '/x', 'newcomer'));
  await gw.nextVersion();
  expect(await get('/x')).toBe('200 upstream /serving');
  const { conditions } = gw.gateway.pipeline.diagnostics().find((d) => d.name === 'a-newcomer')!;
  expect(conditions.find((c) => c.type === 'Accepted')).toMatchObject({
    status: 'False',
    reason: 'Conflicted',
    message: '/x is served by the route default/z-serving (loaded first)',
  });
  // Its references were never looked at: neither resolved nor broken.
  expect(conditions.find((c) => c.type === 'ResolvedRefs')).toMatchObject({
    status: 'Unknown',
    reason: 'Conflicted',
  });
  expect(gw.logs.join('\n')).not.toMatch(/older/);
});

it('routes read at start-up are ranked by file path and document index', async () => {
  gw = await startTestGateway({
    'b.yaml': route('b-later-file', '/x', 'b'),
    'a.yaml': `${route('z-first-document', '/x', 'a0')}---\n${route('a-second-document', '/x', 'a1')}`,
  });
  expect(await get('/x')).toBe('200 upstream /a0');
});

it('a creationTimestamp, when given, still wins', async () => {
  gw = await startTestGateway({ 'z.yaml': route('serving', '/x', 'serving') });
  gw.write('a.yaml', route('dated', '/x', 'dated', ", creationTimestamp: '2026-01-01T00:00:00Z'"));
  await gw.nextVersion();
  expect(await get('/x')).toBe('200 upstream /dated');
});
