// Rotating certificates on a live HTTPS listener: a new version is served on
// the next handshake with no failed request and no dropped connection; a
// version that cannot be served keeps the last good one; a deleted Secret or
// an unbound host stops being served, while open connections keep working.
import { Agent, get, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpsServer } from '../../src/tls/listener.ts';
import { type CertificateBinding, CertificateStore } from '../../src/tls/store.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { binding, handshake } from '../support/tls-client.ts';

const HOST = 'api.example.com';
const SECRET = 'default/api-tls';
const REFUSED = /handshake failure|alert number 40/i;

let ca: TestCa;
let v1: KeyPair;
let v2: KeyPair;
let v3: KeyPair;
let weak: KeyPair;
let store: CertificateStore;
let server: Server;
let port: number;

const only = (host: string, bound: CertificateBinding) => store.update({ hosts: new Map([[host, bound]]) });
const fingerprintOf = async (pair: KeyPair) => {
  const probe = new CertificateStore();
  probe.update({ hosts: new Map([[HOST, binding(SECRET, pair)]]) });
  return probe.report()[0]!.certificate!.fingerprint;
};

interface Answer {
  fingerprint: string;
  socket: Socket;
}

/** One GET / over `agent` (false: a new connection, so a new handshake). */
function request(agent: Agent | false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, servername: HOST, path: '/', agent, rejectUnauthorized: false }, (res) => {
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve({ fingerprint, socket })
          : reject(new Error(`status ${res.statusCode}`)),
      );
    }).on('error', reject);
  });
}

beforeAll(async () => {
  ca = await TestCa.create();
  [v1, v2, v3, weak] = await Promise.all([
    ca.issue({ cn: HOST }),
    ca.issue({ cn: HOST }),
    ca.issue({ cn: HOST, key: 'rsa2048' }),
    ca.issue({ cn: HOST, key: 'rsa512' }),
  ]);
  store = new CertificateStore();
  only(HOST, binding(SECRET, v1, 'default/api'));
  server = createHttpsServer(store, (_req, res) => res.end('ok'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await ca?.close();
});

it('serves a new version on new handshakes during a stream of requests, with none failing', async () => {
  const [old, rotated] = await Promise.all([fingerprintOf(v1), fingerprintOf(v2)]);
  const fresh: { startedAfterSwap: boolean; fingerprint: string }[] = [];
  const kept: (Answer & { afterSwap: boolean })[] = [];
  const failures: unknown[] = [];
  let swapped = false;
  let running = true;
  const freshClient = async () => {
    while (running) {
      const startedAfterSwap = swapped;
      await request(false).then(
        ({ fingerprint }) => fresh.push({ startedAfterSwap, fingerprint }),
        (error) => failures.push(error),
      );
    }
  };
  const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
  const keepAliveClient = async () => {
    while (running) {
      const afterSwap = swapped;
      await request(keepAlive).then(
        (answer) => kept.push({ ...answer, afterSwap }),
        (error) => failures.push(error),
      );
    }
  };
  const clients = [freshClient(), freshClient(), freshClient(), keepAliveClient()];
  while (fresh.length < 20 || kept.length < 20) await new Promise((r) => setTimeout(r, 10));

  only(HOST, binding(SECRET, v2, 'default/api'));
  swapped = true;
  const deadline = Date.now() + 10_000;
  while (
    Date.now() < deadline &&
    (fresh.filter((f) => f.startedAfterSwap).length < 30 || kept.filter((k) => k.afterSwap).length < 30)
  ) {
    await new Promise((r) => setTimeout(r, 10));
  }
  running = false;
  await Promise.all(clients);
  keepAlive.destroy();

  expect(failures).toEqual([]);
  const before = fresh.filter((f) => !f.startedAfterSwap);
  const after = fresh.filter((f) => f.startedAfterSwap);
  // A request started just before the swap may have made its handshake just after it.
  expect(before.filter((f) => f.fingerprint === old).length).toBeGreaterThanOrEqual(20);
  expect(before.every((f) => f.fingerprint === old || f.fingerprint === rotated)).toBe(true);
  expect(after.length).toBeGreaterThanOrEqual(30);
  expect(after.every((f) => f.fingerprint === rotated)).toBe(true);
  // The keep-alive connection was never dropped: one socket, still on the certificate it was made with.
  expect(new Set(kept.map((k) => k.socket)).size).toBe(1);
  expect(kept.filter((k) => k.afterSwap).length).toBeGreaterThanOrEqual(30);
  expect(kept.every((k) => k.fingerprint === old)).toBe(true);
});

it('builds one context per version: the same content read again reuses it, new content gets a new one', () => {
  const probe = new CertificateStore();
  let defaultChanges = 0;
  probe.onDefaultChange(() => defaultChanges++);
  const update = (pair: KeyPair) =>
    probe.update({
      hosts: new Map([[HOST, binding(SECRET, pair)]]),
      default: binding('ingress/fallback', pair),
    });
  update(v1);
  const first = probe.select(HOST);
  update(v1); // a new read of the same bytes, as after a resync
  expect(probe.select(HOST)).toBe(first);
  expect(probe.select('other.test')).toBe(first);
  expect(defaultChanges).toBe(1);
  update(v2);
  expect(probe.select(HOST)).not.toBe(first);
  expect(defaultChanges).toBe(2);
});

describe('keep-last-good', () => {
  it('keeps serving the last good certificate when the new key does not fit, and says so', async () => {
    only(HOST, binding(SECRET, v2, 'default/api'));
    const good = await fingerprintOf(v2);
    const context = store.select(HOST);
    const report = only(HOST, binding(SECRET, { cert: v3.cert, key: v1.key }, 'default/api'));
    expect(store.select(HOST)).toBe(context);
    expect(report).toEqual([
      {
        host: HOST,
        secret: SECRET,
        route: 'default/api',
        state: 'kept',
        problem: `Secret ${SECRET}: tls.key does not fit the certificate in tls.crt (the server's certificate must come first)`,
        certificate: expect.objectContaining({ fingerprint: good }),
        warnings: [],
      },
    ]);
    expect((await handshake(port, HOST)).fingerprint).toBe(good);
  });

  it('keeps it when OpenSSL refuses the new version (a 512-bit RSA key)', async () => {
    const good = await fingerprintOf(v2);
    const [report] = only(HOST, binding(SECRET, weak, 'default/api'));
    expect(report).toMatchObject({ state: 'kept', certificate: { fingerprint: good } });
    expect(report!.problem).toBe(
      `Secret ${SECRET}: OpenSSL refuses this certificate or key: ee key too small`,
    );
    expect((await handshake(port, HOST)).fingerprint).toBe(good);
  });

  it('serves the next good version once there is one', async () => {
    const [report] = only(HOST, binding(SECRET, v3, 'default/api'));
    expect(report).toMatchObject({ state: 'serving', certificate: { fingerprint: await fingerprintOf(v3) } });
    expect(report).not.toHaveProperty('problem');
    expect((await handshake(port, HOST)).fingerprint).toBe(await fingerprintOf(v3));
  });

  it('has nothing to keep for a host that never had a good certificate', async () => {
    const report = store.update({
      hosts: new Map([
        [HOST, binding(SECRET, v3)],
        ['new.example.com', binding('default/new-tls', { cert: v1.cert, key: v2.key })],
      ]),
    });
    expect(report.find((r) => r.host === 'new.example.com')).toMatchObject({
      state: 'none',
      problem: expect.stringContaining('does not fit'),
    });
    await expect(handshake(port, 'new.example.com')).rejects.toThrow(REFUSED);
  });

  it('keeps the last good default certificate too', async () => {
    const hosts = new Map([[HOST, binding(SECRET, v3)]]);
    store.update({ hosts, default: binding('ingress/fallback', v1) });
    const report = store.update({
      hosts,
      default: binding('ingress/fallback', { cert: v1.cert, key: v2.key }),
    });
    expect(report.find((r) => r.host === '(default)')).toMatchObject({
      state: 'kept',
      certificate: { fingerprint: await fingerprintOf(v1) },
    });
    expect((await handshake(port, undefined)).fingerprint).toBe(await fingerprintOf(v1));
    expect((await handshake(port, 'other.test')).fingerprint).toBe(await fingerprintOf(v1));
  });
});

describe('withdrawal', () => {
  it('stops serving a deleted Secret on new handshakes, while an open connection keeps working', async () => {
    only(HOST, binding(SECRET, v3));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(agent);
    const [report] = only(HOST, binding(SECRET, undefined));
    expect(report).toEqual({
      host: HOST,
      secret: SECRET,
      state: 'none',
      problem: `Secret ${SECRET} not found`,
      warnings: [],
    });
    await expect(handshake(port, HOST)).rejects.toThrow(REFUSED);
    const second = await request(agent);
    expect(second.socket).toBe(first.socket);
    agent.destroy();
  });

  it('stops serving a host that is no longer bound', async () => {
    only(HOST, binding(SECRET, v3));
    expect((await handshake(port, HOST)).cn).toBe(HOST);
    expect(store.update({ hosts: new Map() })).toEqual([]);
    await expect(handshake(port, HOST)).rejects.toThrow(REFUSED);
    expect(store.empty).toBe(true);
  });

  it('stops serving the default certificate when it is unset', async () => {
    store.update({ hosts: new Map(), default: binding('ingress/fallback', v1) });
    expect((await handshake(port, undefined)).cn).toBe(HOST);
    store.update({ hosts: new Map() });
    await expect(handshake(port, undefined)).rejects.toThrow(REFUSED);
  });
});
