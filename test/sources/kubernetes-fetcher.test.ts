// Targeted Secret GETs against a stand-in apiserver over real sockets: what is
// retried (with backoff) and what is not, and answers that came too late.
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SecretFetcher } from '../../src/sources/kubernetes-fetcher.ts';
import { CaptureLog } from '../support/capture-log.ts';
import { type ApiRequest, FakeApiserver, sendJson, sendStatus } from '../support/fake-apiserver.ts';

const VALUE = 'api-key-d41d8cd9';
const secret = (name: string, value = VALUE) => ({
  kind: 'Secret',
  metadata: { name, namespace: 'ns', resourceVersion: '7' },
  data: { apiKey: Buffer.from(value).toString('base64') },
});
const pathOf = (name: string) => `/api/v1/namespaces/ns/secrets/${name}`;
const eventually = (fn: () => void, timeout = 5000) => vi.waitFor(fn, { timeout, interval: 10 });
const gaps = (requests: ApiRequest[]) => requests.slice(1).map((r, i) => r.at - requests[i]!.at);

let server: FakeApiserver;
let fetcher: SecretFetcher | undefined;

afterEach(async () => {
  fetcher?.stop();
  await server?.close();
});

function startFetcher() {
  const log = new CaptureLog();
  const fetched: string[] = [];
  const state = { wanted: true };
  fetcher = new SecretFetcher({
    reader: server.client,
    requestTimeoutMs: 2000,
    backoff: { initialMs: 100, maxMs: 1000 },
    log,
    wanted: () => state.wanted,
    fetched: (key, raw) => fetched.push(`${key}=${Buffer.from(raw.data.apiKey, 'base64')}`),
  });
  return { fetcher, log, fetched, state };
}

describe('SecretFetcher', () => {
  it('GETs the Secret by namespace and name, once while a GET is in flight', async () => {
    server = await FakeApiserver.start(async (req, res) => {
      await sleep(50);
      sendJson(res, 200, secret(req.path.split('/').at(-1)!));
    });
    const { fetcher, fetched, log } = startFetcher();
    fetcher.fetch('ns/a.key');
    fetcher.fetch('ns/a.key');
    expect(fetcher.inFlight).toBe(1);
    await eventually(() => expect(fetched).toEqual([`ns/a.key=${VALUE}`]));
    expect(fetcher.inFlight).toBe(0);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${pathOf('a.key')}`]);
    expect(log.text()).not.toContain(VALUE);
  });

  it('does not retry 404 (the watch brings it once created) nor 403, which it logs as a warning', async () => {
    server = await FakeApiserver.start((req, res) => {
      if (req.path === pathOf('absent')) sendStatus(res, 404, 'NotFound', 'secrets "absent" not found');
      else sendStatus(res, 403, 'Forbidden', 'secrets "private" is forbidden');
    });
    const { fetcher, fetched, log } = startFetcher();
    fetcher.fetch('ns/absent');
    fetcher.fetch('ns/private');
    await eventually(() => expect(fetcher.inFlight).toBe(0));
    await sleep(400); // several backoff periods
    expect(server.requests.map((r) => r.path).sort()).toEqual([pathOf('absent'), pathOf('private')]);
    expect(fetched).toEqual([]);
    expect(log.entries.filter((e) => e.level !== 'debug')).toEqual([
      {
        level: 'warn',
        msg: 'cannot read Secret',
        obj: { secret: 'ns/private', error: expect.stringContaining('forbidden') },
      },
    ]);
    // Nothing pending: a new reference fetches again at once.
    fetcher.fetch('ns/absent');
    await eventually(() => expect(server.calls('GET', pathOf('absent'))).toHaveLength(2));
  });

  it('retries transient failures (5xx, a dropped connection) with growing backoff until it gets the Secret', async () => {
    const answers: ((res: ServerResponse) => void)[] = [
      (res) => sendStatus(res, 503, 'ServiceUnavailable'),
      (res) => res.socket?.destroy(),
      (res) => sendStatus(res, 429, 'TooManyRequests'),
      (res) => sendJson(res, 200, secret('key')),
    ];
    server = await FakeApiserver.start((_req, res) => answers.shift()!(res));
    const { fetcher, fetched, log } = startFetcher();
    fetcher.fetch('ns/key');

    await eventually(() => expect(fetched).toEqual([`ns/key=${VALUE}`]));
    // Each delay is in [d/2, d], d doubling from 100 ms.
    const [first, second, third] = gaps(server.calls('GET', pathOf('key')));
    expect(first).toBeGreaterThanOrEqual(50);
    expect(second).toBeGreaterThanOrEqual(100);
    expect(third).toBeGreaterThanOrEqual(200);
    const failures = log.entries.filter((e) => e.msg === 'Secret fetch failed');
    expect(failures).toHaveLength(3);
    expect(failures.map((e) => e.level)).toEqual(['info', 'info', 'info']);
    expect(failures[0]!.obj).toMatchObject({ secret: 'ns/key', retryInMs: expect.any(Number) });
    expect(log.text()).not.toContain(VALUE);
  });

  it('drops a due retry when the Secret is no longer wanted', async () => {
    server = await FakeApiserver.start((_req, res) => sendStatus(res, 500, 'InternalError'));
    const { fetcher, state } = startFetcher();
    fetcher.fetch('ns/key');
    await eventually(() => expect(server.requests).toHaveLength(1));
    state.wanted = false; // a watch event brought it, or the route went away
    await sleep(400);
    expect(server.requests).toHaveLength(1);
    // And the backoff starts over for the next reference.
    state.wanted = true;
    fetcher.fetch('ns/key');
    await eventually(() => expect(server.requests).toHaveLength(2));
  });

  it('ignores the answer of a GET cancelled while in flight (a watch event overtook it)', async () => {
    const held: ServerResponse[] = [];
    server = await FakeApiserver.start((_req, res) => {
      held.push(res);
    });
    const { fetcher, fetched } = startFetcher();
    fetcher.fetch('ns/key');
    await eventually(() => expect(held).toHaveLength(1));
    fetcher.cancel('ns/key');
    expect(fetcher.inFlight).toBe(0);
    // A new reference starts a new GET; the old answer, stale, arrives first and is ignored.
    fetcher.fetch('ns/key');
    await eventually(() => expect(held).toHaveLength(2));
    sendJson(held[0]!, 200, secret('key', 'stale'));
    await sleep(100);
    expect(fetched).toEqual([]);
    sendJson(held[1]!, 200, secret('key', 'fresh'));
    await eventually(() => expect(fetched).toEqual(['ns/key=fresh']));
  });

  it('stop() drops pending retries', async () => {
    server = await FakeApiserver.start((_req, res) => sendStatus(res, 500, 'InternalError'));
    const { fetcher } = startFetcher();
    fetcher.fetch('ns/key');
    await eventually(() => expect(fetcher.inFlight).toBe(0));
    fetcher.stop();
    await sleep(400);
    expect(server.requests).toHaveLength(1);
    fetcher.fetch('ns/other');
    await sleep(50);
    expect(server.requests).toHaveLength(1);
  });
});
