// TLS termination through a real lambda-ingress (standalone, manifests in
// files, real sockets): certificates from kubernetes.io/tls Secret documents
// chosen by SNI (exact host, wildcard, --default-certificate), https in
// X-Forwarded-Proto and in the events of every payload format, rotation by
// rewriting the Secret file under a stream of requests, a bad key keeping the
// last good certificate, a deleted Secret no longer served, and no key
// material in logs, /debug/routes or /metrics.
import { Agent, get } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { type EchoUpstream, startEchoUpstream } from '../support/echo-upstream.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute, tlsSecret } from '../support/manifests.ts';
import { certificateOf, handshake } from '../support/tls-client.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const REFUSED = /handshake failure|alert number 40/i;
const API = 'api.example.com';

let ca: TestCa;
let pairs: Record<'api' | 'rotated' | 'wildcard' | 'fallback' | 'stray', KeyPair>;
let upstream: EchoUpstream;
let emulator: Emulator;
let gw: TestGateway;
let tlsPort: number;

const fingerprint = (pair: KeyPair) => certificateOf(pair).description.fingerprint;
const portOf = (url: string) => Number(new URL(url).port);

beforeAll(async () => {
  ca = await TestCa.create();
  const [api, rotated, wildcard, fallback, stray] = await Promise.all([
    ca.issue({ cn: API }),
    ca.issue({ cn: API }),
    ca.issue({ cn: '*.example.com' }),
    ca.issue({ cn: 'fallback.test' }),
    ca.issue({ cn: 'stray.test' }),
  ]);
  pairs = { api: api!, rotated: rotated!, wildcard: wildcard!, fallback: fallback!, stray: stray! };
  upstream = await startEchoUpstream();
  emulator = await startEmulator({
    credentials: [KEYS],
    functions: { events: { handler: (event) => ({ statusCode: 200, body: JSON.stringify(event) }) } },
  });
  const fn = (name: string, format: string) =>
    lambdaRoute(
      name,
      `hosts: [${API}]
match: {path: /${name}}
target: {function: {name: events, endpoint: "${emulator.url}", payloadFormat: "${format}"}}
auth: {iam: {secretRef: {name: keys}}}
certificateRef: {name: api-tls}`,
    );
  gw = await startTestGateway(
    {
      'keys.yaml': credentialsSecret('keys', KEYS),
      'api-tls.yaml': tlsSecret('api-tls', pairs.api),
      'wildcard-tls.yaml': tlsSecret('wildcard-tls', pairs.wildcard),
      'fallback.yaml': tlsSecret('fallback', pairs.fallback, 'ingress'),
      'routes.yaml': documents(
        lambdaRoute(
          'api',
          `hosts: [${API}]\nmatch: {path: /api, pathType: Prefix}\ntarget: {url: "${upstream.url}/", forwardSubpath: true}\ncertificateRef: {name: api-tls}`,
        ),
        lambdaRoute(
          'wildcard',
          `hosts: ["*.example.com"]\nmatch: {path: /, pathType: Prefix}\ntarget: {url: "${upstream.url}/"}\ncertificateRef: {name: wildcard-tls}`,
        ),
        fn('v2', '2.0'),
        fn('v1', '1.0'),
        fn('alb', 'alb'),
      ),
    },
    { defaultCertificate: 'ingress/fallback' },
  );
  tlsPort = portOf(await gw.tlsUrl());
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
  await upstream?.close();
  await ca?.close();
});

const https = () => `https://127.0.0.1:${tlsPort}`;

describe('SNI, through the gateway', () => {
  it.each([
    [API, API],
    ['API.EXAMPLE.COM', API],
    ['x.example.com', '*.example.com'],
    ['a.b.example.com', '*.example.com'],
    ['example.com', 'fallback.test'],
    ['other.test', 'fallback.test'],
    [undefined, 'fallback.test'],
  ])('SNI %s gets the certificate of %s', async (servername, cn) => {
    expect((await handshake(tlsPort, servername)).cn).toBe(cn);
  });

  it('serves the route over the handshake it chose, and only TLS 1.2 or later', async () => {
    const response = await send(https(), { path: '/api/x', headers: [['Host', API]] });
    expect(response.status).toBe(200);
    expect(response.json().url).toBe('/x');
    const old = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
    await expect(handshake(tlsPort, API, old)).rejects.toThrow(/protocol version/);
  });
});

describe('the scheme', () => {
  const forwarding = (raw: string[]) => {
    const pairs: Record<string, string> = {};
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.toLowerCase().startsWith('x-forwarded-')) pairs[raw[i]!.toLowerCase()] = raw[i + 1]!;
    }
    return pairs;
  };

  it('is https in X-Forwarded-Proto, and the port 443 unless the client named one', async () => {
    const standard = await send(https(), { path: '/api/x', headers: [['Host', API]] });
    expect(forwarding(standard.json().headers)).toMatchObject({
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-forwarded-host': API,
    });
    const named = await send(https(), { path: '/api/x', headers: [['Host', `${API}:8443`]] });
    expect(forwarding(named.json().headers)).toMatchObject({ 'x-forwarded-port': '8443' });
    // Plain HTTP is still http, port 80.
    const plain = await send(gw.url, { path: '/api/x', headers: [['Host', API]] });
    expect(forwarding(plain.json().headers)).toMatchObject({
      'x-forwarded-proto': 'http',
      'x-forwarded-port': '80',
    });
  });

  it.each([
    ['v2', 'x-forwarded-proto', 'x-forwarded-port'],
    ['v1', 'X-Forwarded-Proto', 'X-Forwarded-Port'],
    ['alb', 'x-forwarded-proto', 'x-forwarded-port'],
  ])('is https in %s events', async (name, proto, port) => {
    const response = await send(https(), { path: `/${name}`, headers: [['Host', API]] });
    expect(response.status).toBe(200);
    const event = response.json();
    const headers: Record<string, string> =
      name === 'alb'
        ? Object.fromEntries(Object.entries(event.multiValueHeaders).map(([k, v]) => [k, (v as string[])[0]]))
        : event.headers;
    expect(headers[proto]).toBe('https');
    expect(headers[port]).toBe('443');
    if (name === 'v1') expect(event.multiValueHeaders[proto]).toEqual(['https']);
  });
});

/** One GET over `agent` (false: a new connection and handshake); resolves with the served fingerprint. */
function request(agent: Agent | false): Promise<{ fingerprint: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    get(
      {
        host: '127.0.0.1',
        port: tlsPort,
        path: '/api/x',
        headers: { host: API },
        agent,
        rejectUnauthorized: false,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const { fingerprint256 } = socket.getPeerCertificate();
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve({ fingerprint: fingerprint256, socket })
            : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    ).on('error', reject);
  });
}

describe('rotation', () => {
  it('serves the rewritten Secret on new handshakes, with no failed request and no dropped connection', async () => {
    const [before, after] = [fingerprint(pairs.api), fingerprint(pairs.rotated)];
    const failures: unknown[] = [];
    const fresh: { startedAfter: boolean; fingerprint: string }[] = [];
    const kept: { fingerprint: string; socket: TLSSocket }[] = [];
    let rotated = false;
    let running = true;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const loop = async (agent: Agent | false) => {
      while (running) {
        const startedAfter = rotated;
        await request(agent).then(
          (answer) =>
            agent ? kept.push(answer) : fresh.push({ startedAfter, fingerprint: answer.fingerprint }),
          (error) => failures.push(error),
        );
      }
    };
    const clients = [loop(false), loop(false), loop(keepAlive)];
    while (fresh.length < 10 || kept.length < 10) await new Promise((r) => setTimeout(r, 10));

    const version = gw.gateway.pipeline.current!.table.version;
    gw.write('api-tls.yaml', tlsSecret('api-tls', pairs.rotated));
    await gw.nextVersion(version);
    rotated = true;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && fresh.filter((f) => f.startedAfter).length < 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    running = false;
    await Promise.all(clients);
    keepAlive.destroy();

    expect(failures).toEqual([]);
    expect(fresh.filter((f) => !f.startedAfter).every((f) => [before, after].includes(f.fingerprint))).toBe(
      true,
    );
    const afterSwap = fresh.filter((f) => f.startedAfter);
    expect(afterSwap.length).toBeGreaterThanOrEqual(10);
    expect(afterSwap.every((f) => f.fingerprint === after)).toBe(true);
    // The keep-alive connection was never dropped: one socket throughout, on the certificate it was made with.
    expect(new Set(kept.map((k) => k.socket)).size).toBe(1);
    expect(kept.every((k) => k.fingerprint === before)).toBe(true);
  });

  it('keeps the last good certificate when the new key does not fit, and the route says so', async () => {
    const good = fingerprint(pairs.rotated);
    const version = gw.gateway.pipeline.current!.table.version;
    gw.write('api-tls.yaml', tlsSecret('api-tls', { cert: pairs.rotated.cert, key: pairs.stray.key }));
    await gw.nextVersion(version);
    expect((await handshake(tlsPort, API)).fingerprint).toBe(good);
    const refs = gw.gateway.pipeline
      .diagnostics()
      .find((d) => d.key === 'default/api')!
      .conditions.filter((c) => c.type !== 'Accepted');
    expect(refs).toEqual([
      {
        type: 'ResolvedRefs',
        status: 'False',
        reason: 'InvalidCertificate',
        message: expect.stringMatching(
          /^spec\.certificateRef: Secret default\/api-tls: tls\.key does not fit the certificate in tls\.crt .*; serving the last good certificate \(CN=api\.example\.com, fingerprint [0-9A-F:]+, not after .+\)$/,
        ),
      },
      { type: 'Ready', status: 'True', reason: 'Ready', message: 'Served by the data plane' },
    ]);
    expect(refs[0]!.message).toContain(good);
    const debug = (await (await fetch(`${gw.adminUrl}/debug/routes`)).json()) as {
      certificates: { host: string }[];
    };
    expect(debug.certificates.find((c) => c.host === API)).toMatchObject({
      secret: 'default/api-tls',
      route: 'default/api',
      state: 'kept',
      certificate: { subject: `CN=${API}`, fingerprint: good, subjectAltNames: [`DNS:${API}`] },
    });
    expect(gw.logs.some((line) => line.includes(`serving the last good certificate for ${API}`))).toBe(true);
  });

  it('stops serving a deleted Secret: its hosts fall back to the default certificate', async () => {
    expect((await handshake(tlsPort, 'x.example.com')).cn).toBe('*.example.com');
    const version = gw.gateway.pipeline.current!.table.version;
    gw.remove('wildcard-tls.yaml');
    await gw.nextVersion(version);
    expect((await handshake(tlsPort, 'x.example.com')).cn).toBe('fallback.test');
    const refs = gw.gateway.pipeline
      .diagnostics()
      .find((d) => d.key === 'default/wildcard')!
      .conditions.find((c) => c.type === 'ResolvedRefs');
    expect(refs).toMatchObject({
      reason: 'InvalidCertificate',
      message: 'spec.certificateRef: Secret default/wildcard-tls not found',
    });
  });
});

describe('what operators see', () => {
  it('has the expiry of each served certificate in /metrics', async () => {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const notAfter = (pair: KeyPair) => certificateOf(pair).notAfter.getTime() / 1000;
    const series = text.split('\n').filter((line) => line.startsWith('lambda_ingress_certificate_expiry'));
    expect(series).toContain(
      `lambda_ingress_certificate_expiry_timestamp_seconds{namespace="ingress",secret="fallback"} ${notAfter(pairs.fallback)}`,
    );
    expect(series.some((line) => line.includes('secret="api-tls"'))).toBe(true);
  });

  it('never shows a private key in logs, /debug/routes, /metrics or conditions', async () => {
    const texts = [
      gw.logs.join('\n'),
      await (await fetch(`${gw.adminUrl}/debug/routes`)).text(),
      await (await fetch(`${gw.adminUrl}/metrics`)).text(),
      JSON.stringify(gw.gateway.pipeline.diagnostics()),
    ];
    const keyLines = Object.values(pairs).flatMap((pair) =>
      pair.key.split('\n').filter((line) => line.length > 20),
    );
    for (const text of texts) {
      expect(text).not.toContain('PRIVATE KEY');
      for (const line of keyLines) expect(text).not.toContain(line);
    }
  });
});

describe('without a default certificate', () => {
  let bare: TestGateway;
  beforeAll(async () => {
    bare = await startTestGateway({
      'routes.yaml': lambdaRoute(
        'api',
        `hosts: [${API}]\nmatch: {path: /api}\ntarget: {url: "${upstream.url}/"}\ncertificateRef: {name: api-tls}`,
      ),
    });
  });
  afterAll(() => bare?.close());

  it('opens no HTTPS listener until a certificate is known, then refuses names it has none for', async () => {
    expect(bare.gateway.tlsUrl).toBeUndefined();
    bare.write('api-tls.yaml', tlsSecret('api-tls', pairs.api));
    const port = portOf(await bare.tlsUrl());
    expect((await handshake(port, API)).fingerprint).toBe(fingerprint(pairs.api));
    await expect(handshake(port, 'other.test')).rejects.toThrow(REFUSED);
    await expect(handshake(port, undefined)).rejects.toThrow(REFUSED);

    const version = bare.gateway.pipeline.current!.table.version;
    bare.remove('api-tls.yaml');
    await bare.nextVersion(version);
    await expect(handshake(port, API)).rejects.toThrow(REFUSED);
  });
});

describe('--redirect-http', () => {
  let redirecting: TestGateway;
  beforeAll(async () => {
    redirecting = await startTestGateway(
      {
        'tls.yaml': documents(tlsSecret('api-tls', pairs.api), tlsSecret('fallback', pairs.fallback)),
        'routes.yaml': documents(
          lambdaRoute(
            'api',
            `hosts: [${API}]\nmatch: {path: /api}\ntarget: {url: "${upstream.url}/"}\ncertificateRef: {name: api-tls}`,
          ),
          lambdaRoute(
            'plain',
            `hosts: [plain.example.org]\nmatch: {path: /api}\ntarget: {url: "${upstream.url}/"}`,
          ),
        ),
      },
      { redirectHttp: true, defaultCertificate: 'default/fallback', trustedProxies: ['127.0.0.1'] },
    );
  });
  afterAll(() => redirecting?.close());

  it('answers plain HTTP for a host with a certificate with 308 to https, path and query kept', async () => {
    const port = portOf(await redirecting.tlsUrl());
    const standard = await send(redirecting.url, {
      method: 'POST',
      path: '/api?a=1&b',
      headers: [['Host', API]],
    });
    expect(standard.status).toBe(308);
    expect(standard.headers.location).toBe(`https://${API}/api?a=1&b`);
    const named = await send(redirecting.url, { path: '/anything', headers: [['Host', `${API}:9080`]] });
    expect(named.headers.location).toBe(`https://${API}:${port}/anything`);
    // Over TLS the route is served.
    const secure = await send(`https://127.0.0.1:${port}`, { path: '/api', headers: [['Host', API]] });
    expect(secure.status).toBe(200);
  });

  it('serves plain HTTP that a trusted proxy says it received over https (it terminated TLS)', async () => {
    const proxied = await send(redirecting.url, {
      path: '/api',
      headers: [
        ['Host', API],
        ['X-Forwarded-Proto', 'https'],
      ],
    });
    expect(proxied.status).toBe(200);
  });

  it('serves plain HTTP for hosts that only the default certificate covers', async () => {
    const response = await send(redirecting.url, { path: '/api', headers: [['Host', 'plain.example.org']] });
    expect(response.status).toBe(200);
  });
});
