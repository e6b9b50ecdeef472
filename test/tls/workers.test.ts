// --workers 2 with TLS: every worker opens the HTTPS listener once a
// certificate is known and updates its certificates right after each table
// swap, so a rewritten Secret is served by all of them; the primary reports
// what they serve (/debug/routes) and /metrics has one expiry per Secret.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts } from '../../hack/lib/ports.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { type EchoUpstream, startEchoUpstream } from '../support/echo-upstream.ts';
import { send } from '../support/http.ts';
import { documents, lambdaRoute, tlsSecret } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';
import { certificateOf, handshake } from '../support/tls-client.ts';

const API = 'api.example.com';

let ca: TestCa;
let first: KeyPair;
let second: KeyPair;
let upstream: EchoUpstream;
let dir: string;
let proc: RunningProcess;
let tlsPort: number;
let admin: string;

const write = (pair: KeyPair) =>
  writeFileSync(
    join(dir, 'routes.yaml'),
    documents(
      tlsSecret('api-tls', pair),
      lambdaRoute(
        'api',
        `hosts: [${API}]\nmatch: {path: /api}\ntarget: {url: "${upstream.url}/"}\ncertificateRef: {name: api-tls}`,
      ),
    ),
  );

beforeAll(async () => {
  ca = await TestCa.create();
  [first, second] = await Promise.all([ca.issue({ cn: API }), ca.issue({ cn: API })]);
  upstream = await startEchoUpstream();
  dir = mkdtempSync(join(tmpdir(), 'tls-workers-'));
  write(first!);
  const [port, adminPort, tls] = await freePorts(3);
  tlsPort = tls;
  admin = `http://127.0.0.1:${adminPort}`;
  proc = startCli([
    'standalone',
    '--manifests',
    dir,
    '--workers',
    '2',
    '--tls-port',
    String(tlsPort),
    '--debug-routes',
    ...listenOn(port, adminPort),
  ]);
  await waitFor200(`${admin}/readyz`, 20_000, proc);
});
afterAll(async () => {
  await proc?.stop('SIGKILL');
  await upstream?.close();
  await ca?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The fingerprints served on `n` fresh connections (the kernel picks a worker for each). */
async function served(n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add((await handshake(tlsPort, API)).fingerprint);
  return seen;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('serves the certificate from every worker, and rotates it in every worker', async () => {
  await eventually(async () => {
    try {
      return (await served(1)).has(certificateOf(first).description.fingerprint);
    } catch {
      return false; // not listening yet
    }
  }, 'no worker served the certificate');
  for (let i = 0; i < 20; i++) {
    const response = await send(`https://127.0.0.1:${tlsPort}`, { path: '/api', headers: [['Host', API]] });
    expect(response.status).toBe(200);
  }
  const workers = () =>
    new Set(
      [...proc.output().matchAll(/"worker":(\d+)[^\n]*"path":"\/api"[^\n]*"msg":"request"/g)].map(
        (m) => m[1],
      ),
    );
  // Access lines are buffered: each worker writes its own within half a second.
  await eventually(async () => workers().size === 2, 'the access log does not name both workers');

  write(second!);
  const rotated = certificateOf(second).description.fingerprint;
  await eventually(async () => {
    const seen = await served(20);
    return seen.size === 1 && seen.has(rotated);
  }, 'the workers did not all serve the rotated certificate');
});

it('reports what the workers serve, and one expiry per Secret in /metrics', async () => {
  const debug = (await (await fetch(`${admin}/debug/routes`)).json()) as { certificates: unknown[] };
  expect(debug.certificates).toEqual([
    expect.objectContaining({
      host: API,
      secret: 'default/api-tls',
      state: 'serving',
      certificate: expect.objectContaining({ fingerprint: certificateOf(second).description.fingerprint }),
    }),
  ]);
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  expect(metrics.split('\n').filter((line) => line.startsWith('lambda_ingress_certificate_expiry'))).toEqual([
    `lambda_ingress_certificate_expiry_timestamp_seconds{namespace="default",secret="api-tls"} ${certificateOf(second).notAfter.getTime() / 1000}`,
  ]);
});
