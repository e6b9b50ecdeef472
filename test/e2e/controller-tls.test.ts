// TLS from the cluster, end to end: a real kube-apiserver and etcd, the
// controller as a separate process with deploy/'s RBAC, kubernetes.io/tls
// Secrets and LambdaRoutes applied with kubectl. The controller serves the
// route's certificate by SNI, serves an edited Secret on the next handshake
// with no failed request, and writes ResolvedRefs for a conflict and a bad
// Secret; --default-certificate is read though no route names it.
import { spawn } from 'node:child_process';
import { Agent, get } from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterInfo, serviceAccountKubeconfig } from '../../hack/cluster.ts';
import { freePorts } from '../../hack/lib/ports.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { type EchoUpstream, startEchoUpstream } from '../support/echo-upstream.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute, tlsSecret } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';
import { certificateOf, handshake } from '../support/tls-client.ts';
import { clusterDir, down, eventually, kubectl, REPO_ROOT, upWithCrd } from './controller-support.ts';

const DIR = clusterDir('e2e-controller-tls');
const API = 'api.example.com';

let cluster: ClusterInfo;
let admin: string;
let ca: TestCa;
let pairs: Record<'v1' | 'v2' | 'other' | 'fallback', KeyPair>;
let upstream: EchoUpstream;
let controller: RunningProcess;
let tlsPort: number;

const fingerprint = (pair: KeyPair) => certificateOf(pair).description.fingerprint;

/** kubectl apply -f - as the cluster admin: resolves with the output, rejects with it. */
function apply(yaml: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['apply', '-f', '-', '--kubeconfig', admin], { cwd: REPO_ROOT });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(out))));
    child.stdin.end(yaml);
  });
}

const route = (name: string, hosts: string, secret: string) =>
  lambdaRoute(
    name,
    `hosts: ${hosts}\nmatch: {path: /${name}}\ntarget: {url: "${upstream.url}/"}\ncertificateRef: {name: ${secret}}`,
  );

async function resolvedRefs(name: string) {
  const object = JSON.parse(await kubectl(admin, 'get', 'lr', name, '-n', 'default', '-o', 'json'));
  const conditions: { type: string; status: string; reason: string; message: string }[] =
    object.status?.conditions ?? [];
  return Object.fromEntries(conditions.map((c) => [c.type, c]));
}

beforeAll(async () => {
  ca = await TestCa.create();
  const [v1, v2, other, fallback] = await Promise.all([
    ca.issue({ cn: API }),
    ca.issue({ cn: API }),
    ca.issue({ cn: 'other.example.com', dns: [API] }),
    ca.issue({ cn: 'fallback.test' }),
  ]);
  pairs = { v1: v1!, v2: v2!, other: other!, fallback: fallback! };
  upstream = await startEchoUpstream();
  cluster = await upWithCrd(DIR);
  admin = cluster.kubeconfigPath;
  await kubectl(admin, 'apply', '-f', path.join(REPO_ROOT, 'deploy/namespace.yaml'));
  await kubectl(admin, 'apply', '-k', path.join(REPO_ROOT, 'deploy'));
  const sa = await serviceAccountKubeconfig({
    dir: DIR,
    namespace: 'lambda-ingress',
    name: 'lambda-ingress',
    create: false,
  });
  const [port, adminPort, tls] = await freePorts(3);
  tlsPort = tls;
  controller = startCli(
    [
      'controller',
      '--kubeconfig',
      sa.kubeconfigPath,
      ...listenOn(port, adminPort),
      '--tls-port',
      String(tlsPort),
      '--default-certificate',
      'default/fallback',
      '--lease-namespace',
      'lambda-ingress',
    ],
    { POD_NAME: 'tls-replica' },
  );
  await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 30_000, controller);
}, 600_000);

afterAll(async () => {
  await controller?.stop('SIGKILL');
  await upstream?.close();
  await ca?.close();
  await down(DIR);
});

/** One GET over `agent` (false: a new connection and handshake); resolves with the served fingerprint. */
function request(agent: Agent | false): Promise<{ fingerprint: string; socket: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: tlsPort, path: '/api', headers: { host: API }, agent };
    get({ ...options, rejectUnauthorized: false }, (res) => {
      const socket = res.socket as TLSSocket;
      const { fingerprint256 } = socket.getPeerCertificate();
      res.resume();
      res.on('end', () =>
        res.statusCode === 200
          ? resolve({ fingerprint: fingerprint256, socket })
          : reject(new Error(`status ${res.statusCode}`)),
      );
    }).on('error', reject);
  });
}

describe('lambda-ingress controller over TLS', () => {
  it('refuses a certificateRef without hosts at the API server, with the message standalone mode gives', async () => {
    const error = await apply(
      lambdaRoute(
        'no-hosts',
        'match: {path: /x}\ntarget: {url: "http://x.internal"}\ncertificateRef: {name: a}',
      ),
    ).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(error).toContain(
      'spec.certificateRef: Invalid value: "object": requires spec.hosts: the certificate is served for the hosts of its route',
    );
  });

  it('serves the default certificate that no route names, and the route certificate by SNI', async () => {
    await apply(tlsSecret('fallback', pairs.fallback));
    await eventually(
      async () => expect((await handshake(tlsPort, 'other.test')).cn).toBe('fallback.test'),
      10_000,
    );

    await apply(documents(tlsSecret('api-tls', pairs.v1), route('api', `[${API}]`, 'api-tls')));
    await eventually(async () =>
      expect((await handshake(tlsPort, API)).fingerprint).toBe(fingerprint(pairs.v1)),
    );
    const response = await send(`https://127.0.0.1:${tlsPort}`, { path: '/api', headers: [['Host', API]] });
    expect(response.status).toBe(200);
    const headers: string[] = response.json().headers;
    expect(headers[headers.indexOf('x-forwarded-proto') + 1]).toBe('https');
    await eventually(async () =>
      expect((await resolvedRefs('api'))['ResolvedRefs']).toMatchObject({ status: 'True' }),
    );
  });

  it('serves an edited Secret on the next handshake, with no failed request and no dropped connection', async () => {
    const failures: unknown[] = [];
    const served: { fingerprint: string; afterEdit: boolean }[] = [];
    const kept: { fingerprint: string; socket: TLSSocket }[] = [];
    let edited = false;
    let running = true;
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const loop = async (agent: Agent | false) => {
      while (running) {
        const afterEdit = edited;
        await request(agent).then(
          (answer) =>
            agent ? kept.push(answer) : served.push({ fingerprint: answer.fingerprint, afterEdit }),
          (error) => failures.push(error),
        );
      }
    };
    const clients = [loop(false), loop(keepAlive)];
    await eventually(() => expect(served.length).toBeGreaterThan(10));
    await apply(tlsSecret('api-tls', pairs.v2));
    edited = true;
    await eventually(
      () =>
        expect(
          served.filter((s) => s.afterEdit && s.fingerprint === fingerprint(pairs.v2)).length,
        ).toBeGreaterThan(5),
      10_000,
    );
    running = false;
    await Promise.all(clients);
    keepAlive.destroy();
    expect(failures).toEqual([]);
    expect(served.every((s) => [fingerprint(pairs.v1), fingerprint(pairs.v2)].includes(s.fingerprint))).toBe(
      true,
    );
    expect(new Set(kept.map((k) => k.socket)).size).toBe(1);
  });

  it('gives a newer route naming another Secret for the host CertificateConflict, naming the older route', async () => {
    await apply(documents(tlsSecret('other-tls', pairs.other), route('newer', `[${API}]`, 'other-tls')));
    const conditions = await eventually(async () => {
      const found = await resolvedRefs('newer');
      if (found['ResolvedRefs']?.reason !== 'CertificateConflict') throw new Error('no conflict yet');
      return found;
    });
    expect(conditions['ResolvedRefs']).toMatchObject({
      status: 'False',
      message:
        'spec.certificateRef: host api.example.com is served the certificate of Secret default/api-tls by the older route default/api',
    });
    expect(conditions['Ready']).toMatchObject({ status: 'True' });
    expect((await handshake(tlsPort, API)).fingerprint).toBe(fingerprint(pairs.v2));
  });

  it('keeps the last good certificate for a Secret whose key does not fit, and says so in ResolvedRefs', async () => {
    await apply(tlsSecret('api-tls', { cert: pairs.v1.cert, key: pairs.other.key }));
    const conditions = await eventually(async () => {
      const found = await resolvedRefs('api');
      if (found['ResolvedRefs']?.reason !== 'InvalidCertificate') throw new Error('not invalid yet');
      return found;
    });
    expect(conditions['ResolvedRefs']!.message).toMatch(
      /^spec\.certificateRef: Secret default\/api-tls: tls\.key does not fit the certificate in tls\.crt .*; serving the last good certificate \(CN=api\.example\.com, fingerprint .+\)$/,
    );
    expect(conditions['ResolvedRefs']!.message).toContain(fingerprint(pairs.v2));
    expect(conditions['Ready']).toMatchObject({ status: 'True' });
    expect((await handshake(tlsPort, API)).fingerprint).toBe(fingerprint(pairs.v2));
    expect(controller.output()).not.toContain('PRIVATE KEY');
  });

  it('stops serving a deleted Secret: the host gets the default certificate', async () => {
    await kubectl(admin, 'delete', 'lr', 'newer', '-n', 'default');
    await kubectl(admin, 'delete', 'secret', 'api-tls', '-n', 'default');
    await eventually(async () => expect((await handshake(tlsPort, API)).cn).toBe('fallback.test'));
    await eventually(async () =>
      expect((await resolvedRefs('api'))['ResolvedRefs']).toMatchObject({
        reason: 'InvalidCertificate',
        message: 'spec.certificateRef: Secret default/api-tls not found',
      }),
    );
  });
});
