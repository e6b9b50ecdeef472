// A large manifest is read and parsed off the serving event loop: while it is
// parsed, requests to the routes already served keep being answered.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute } from '../support/manifests.ts';

let upstream: Server;
let upstreamUrl: string;
let gw: TestGateway;

beforeAll(async () => {
  upstream = createServer((_req, res) => res.end('ok'));
  upstreamUrl = `http://127.0.0.1:${await listenLoopback(upstream)}`;
  gw = await startTestGateway({
    'a.yaml': lambdaRoute('a', `match: {path: /a}\ntarget: {url: "${upstreamUrl}"}`),
  });
});
afterAll(async () => {
  await gw?.close();
  upstream?.close();
});

/** About 1.3 MB of YAML: 100 routes with 300 annotations each, a second or so to parse. */
function bigManifest(): string {
  const notes = Array.from({ length: 300 }, (_, i) => `    note-${i}: "annotation text number ${i}"`).join(
    '\n',
  );
  return documents(
    ...Array.from(
      { length: 100 },
      (_, i) => `apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata:
  name: big-${i}
  namespace: default
  annotations:
${notes}
spec:
  match: {path: /big-${i}}
  target: {url: "${upstreamUrl}"}
`,
    ),
  );
}

it('keeps answering requests while a large file is parsed', async () => {
  const text = bigManifest();
  expect(text.length).toBeGreaterThan(1_000_000);
  const answered: number[] = [];
  let running = true;
  const statuses = new Set<number>();
  const loop = (async () => {
    while (running) {
      statuses.add((await send(gw.url, { path: '/a' })).status);
      answered.push(Date.now());
    }
  })();
  const table = () => gw.gateway.pipeline.current!.table;
  let written = 0;
  let applied = 0;
  try {
    await new Promise((r) => setTimeout(r, 200)); // the loop is going
    const version = table().version;
    written = Date.now();
    gw.write('big.yaml', text);
    while (table().version === version && Date.now() - written < 60_000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    applied = Date.now();
  } finally {
    running = false;
    await loop;
  }

  expect(statuses).toEqual(new Set([200]));
  expect(table().routes).toHaveLength(101);
  // Between the write and the new table, requests were answered all along: no
  // gap between two answers comes near the time the file took to be parsed.
  const during = [written, ...answered.filter((t) => t > written && t < applied), applied];
  const gaps = during.slice(1).map((t, i) => t - during[i]!);
  const took = applied - written;
  expect(during.length - 2).toBeGreaterThanOrEqual(5);
  expect(Math.max(...gaps)).toBeLessThan(took / 3);
});
