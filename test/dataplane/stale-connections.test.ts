// An upstream that closes each kept-alive connection just after answering
// races the next request sent on it. Idempotent requests whose body can be
// sent again (none, or buffered for signing) are retried once on another
// connection; other requests are never sent twice, and a request that fails
// on a new connection is not retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';
import { type RawUpstream, startRawUpstream } from '../support/raw-upstream.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

let upstream: RawUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startRawUpstream((socket, request) => {
    if (request.line.includes('/drop')) {
      socket.destroy();
      return;
    }
    socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    // Kept alive as far as the client can tell, then closed as idle almost at once.
    setTimeout(() => socket.destroy(), Math.random() * 3);
  });
  const url = `target: {url: "${upstream.url}", forwardSubpath: true}`;
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute('open', `match: {path: /open, pathType: Prefix}\n${url}`),
      lambdaRoute(
        'signed',
        `match: {path: /signed, pathType: Prefix}
${url}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}`,
      ),
      lambdaRoute('fresh', `match: {path: /fresh, pathType: Prefix}\n${url}\nkeepalive: {enabled: false}`),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

/** `count` requests one after the other, with short random pauses: the statuses seen. */
async function sequence(count: number, request: (i: number) => Parameters<typeof send>[1]) {
  const statuses: Record<number, number> = {};
  for (let i = 0; i < count; i++) {
    const { status } = await send(gw.url, request(i));
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (i % 4 === 0) await new Promise((r) => setTimeout(r, Math.random() * 3));
  }
  return statuses;
}

const seen = (marker: string) => upstream.requests.filter((r) => r.line.includes(marker)).length;

describe('an upstream closing idle keep-alive connections', () => {
  it.each([
    ['GET', { path: '/open/get' }],
    ['OPTIONS', { method: 'OPTIONS', path: '/open/options' }],
    ['DELETE', { method: 'DELETE', path: '/open/delete' }],
    ['a signed PUT with a buffered body', { method: 'PUT', path: '/signed/put', body: 'replayable' }],
  ] as const)('%s: every request is answered (one retry on another connection)', async (_name, request) => {
    expect(await sequence(300, () => request)).toEqual({ 200: 300 });
  });

  it('never sends a POST or a streamed body twice', async () => {
    const post = await sequence(200, (i) => ({ method: 'POST', path: `/open/post?n=${i}`, body: 'x' }));
    const streamed = await sequence(200, (i) => ({
      method: 'PUT',
      path: `/open/streamed?n=${i}`,
      chunks: ['x'],
    }));
    for (const [marker, statuses] of [
      ['/post?', post],
      ['/streamed?', streamed],
    ] as const) {
      for (let i = 0; i < 200; i++) expect(seen(`${marker}n=${i} `), `${marker}${i}`).toBeLessThanOrEqual(1);
      expect(Object.keys(statuses).every((s) => s === '200' || s === '502')).toBe(true);
    }
  });

  it('does not retry a request that failed on a new connection', async () => {
    const response = await send(gw.url, { path: '/fresh/drop?new' });
    expect(response.status).toBe(502);
    expect(seen('/drop?new')).toBe(1);
  });

  it('retries a request that failed on a reused connection once, not more', async () => {
    // A connection to reuse, then a request it is lost under on every attempt.
    expect((await send(gw.url, { path: '/open/warm' })).status).toBe(200);
    const response = await send(gw.url, { path: '/open/drop?reused' });
    expect(response.status).toBe(502);
    expect(seen('/drop?reused')).toBeGreaterThanOrEqual(1);
    expect(seen('/drop?reused')).toBeLessThanOrEqual(2);
  });
});
