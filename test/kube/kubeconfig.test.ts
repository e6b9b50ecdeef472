// The kubeconfig loader against real files and real TLS sockets: in-cluster
// files and token rotation, -data fields and file fields (relative to the
// kubeconfig), client certificates, CA checks, merged $KUBECONFIG lists, clear
// errors, and the client-node fallback for exec credential plugins.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { inClusterAccess, kubeconfigAccess, loadClusterAccess } from '../../src/kube/kubeconfig.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { FakeApiserver, sendJson } from '../support/fake-apiserver.ts';

let dir: string;
let ca: TestCa;
let serverPair: KeyPair;
let clientPair: KeyPair;
let https: Server;
let httpsUrl: string;

beforeAll(async () => {
  ca = await TestCa.create();
  serverPair = await ca.issue({ cn: 'apiserver.test' });
  clientPair = await ca.issue({ cn: 'system:admin' });
  // Answers with what it saw: the client certificate's CN and the Authorization header.
  https = createServer({ ...serverPair, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ cn: peer?.subject?.CN ?? null, authorization: req.headers.authorization ?? null }),
    );
  });
  httpsUrl = `https://127.0.0.1:${await listenLoopback(https)}`;
});
afterAll(async () => {
  https?.close();
  await ca?.close();
});

let servers: FakeApiserver[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  dir = await mkdtemp(path.join(tmpdir(), 'kubeconfig-test-'));
  return dir;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfig(cluster: object, user: object, context: object = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'here',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'here', context: { cluster: 'c', user: 'u', ...context } }],
  };
}

async function writeConfig(file: string, doc: object): Promise<string> {
  await writeFile(file, JSON.stringify(doc));
  return file;
}

/** What the HTTPS server saw of a GET made with this kubeconfig. */
async function seen(file: string): Promise<{ cn: string | null; authorization: string | null }> {
  return new KubeClient(await kubeconfigAccess([file])).get('/version', { timeoutMs: 5000 });
}

describe('kubeconfig files', () => {
  it('reads -data fields: CA, client certificate and key, token', async () => {
    const d = await tempDir();
    const file = await writeConfig(
      path.join(d, 'config'),
      kubeconfig(
        { server: httpsUrl, 'certificate-authority-data': b64(ca.cert), 'tls-server-name': 'apiserver.test' },
        {
          'client-certificate-data': b64(clientPair.cert),
          'client-key-data': b64(clientPair.key),
          token: 't0',
        },
      ),
    );
    expect(await seen(file)).toEqual({ cn: 'system:admin', authorization: 'Bearer t0' });
  });

  it('reads file fields relative to the kubeconfig, and tokenFile again when it changes', async () => {
    const d = await tempDir();
    await writeFile(path.join(d, 'ca.pem'), ca.cert);
    await writeFile(path.join(d, 'client.pem'), clientPair.cert);
    await writeFile(path.join(d, 'client.key'), clientPair.key);
    await writeFile(path.join(d, 'token'), 'first\n');
    const file = await writeConfig(
      path.join(d, 'config'),
      kubeconfig(
        { server: httpsUrl, 'certificate-authority': 'ca.pem', 'tls-server-name': 'apiserver.test' },
        { 'client-certificate': 'client.pem', 'client-key': 'client.key', tokenFile: 'token' },
      ),
    );
    const client = new KubeClient(await kubeconfigAccess([file]));
    expect(await client.get('/version')).toEqual({ cn: 'system:admin', authorization: 'Bearer first' });
    // Rotated the way the kubelet does it: a new file swapped in.
    await writeFile(path.join(d, 'token.new'), 'second\n');
    await rename(path.join(d, 'token.new'), path.join(d, 'token'));
    expect((await client.get('/version')).authorization).toBe('Bearer second');
  });

  it('verifies the server against the CA unless insecure-skip-tls-verify', async () => {
    const d = await tempDir();
    const other = await TestCa.create();
    try {
      const wrong = await writeConfig(
        path.join(d, 'wrong'),
        kubeconfig(
          {
            server: httpsUrl,
            'certificate-authority-data': b64(other.cert),
            'tls-server-name': 'apiserver.test',
          },
          {},
        ),
      );
      await expect(seen(wrong)).rejects.toThrow(/GET \/version: fetch failed/);
      const skip = await writeConfig(
        path.join(d, 'skip'),
        kubeconfig({ server: httpsUrl, 'insecure-skip-tls-verify': true }, { username: 'a', password: 'b' }),
      );
      expect(await seen(skip)).toEqual({ cn: null, authorization: `Basic ${b64('a:b')}` });
    } finally {
      await other.close();
    }
  });

  it('merges a $KUBECONFIG list: the first current-context and the first entry of each name win', async () => {
    const d = await tempDir();
    const fake = await FakeApiserver.start((req, res) =>
      sendJson(res, 200, { auth: req.headers.authorization }),
    );
    servers.push(fake);
    const { server } = await kubeconfigAccess([fake.kubeconfigPath]);
    const first = await writeConfig(path.join(d, 'first'), {
      'current-context': 'here',
      users: [{ name: 'u', user: { token: 'from-first' } }],
    });
    const second = await writeConfig(
      path.join(d, 'second'),
      kubeconfig({ server }, { token: 'from-second' }, { namespace: 'team' }),
    );
    const env = { KUBECONFIG: [first, path.join(d, 'absent'), second].join(path.delimiter) };
    const access = await loadClusterAccess({ env });
    expect(access.namespace).toBe('team');
    expect(await new KubeClient(access).get('/x')).toEqual({ auth: 'Bearer from-first' });
  });

  it('names the field and the file when the current context cannot be resolved', async () => {
    const d = await tempDir();
    const none = await writeConfig(path.join(d, 'none'), {
      ...kubeconfig({ server: 'https://x' }, {}),
      'current-context': '',
    });
    await expect(kubeconfigAccess([none])).rejects.toThrow(`kubeconfig ${none}: current-context is not set`);
    const dangling = await writeConfig(path.join(d, 'dangling'), {
      ...kubeconfig({ server: 'https://x' }, {}),
      'current-context': 'gone',
    });
    await expect(kubeconfigAccess([dangling])).rejects.toThrow(
      `kubeconfig ${dangling}: current-context "gone" is not among its contexts`,
    );
    const noServer = await writeConfig(path.join(d, 'no-server'), kubeconfig({}, {}));
    await expect(kubeconfigAccess([noServer])).rejects.toThrow(
      `kubeconfig ${noServer}: cluster "c" has no server`,
    );
    await expect(kubeconfigAccess([path.join(d, 'missing')])).rejects.toThrow(/ENOENT/);
  });

  it('leaves exec credential plugins to client-node', async () => {
    const d = await tempDir();
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-exec' },
    };
    const file = await writeConfig(
      path.join(d, 'config'),
      kubeconfig(
        { server: httpsUrl, 'certificate-authority-data': b64(ca.cert), 'tls-server-name': 'apiserver.test' },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: process.execPath,
            args: ['-e', `console.log(${JSON.stringify(JSON.stringify(credential))})`],
            interactiveMode: 'Never',
          },
        },
      ),
    );
    expect(await seen(file)).toEqual({ cn: null, authorization: 'Bearer from-exec' });
  });
});

describe('in-cluster', () => {
  it('uses the service host and port, the CA, the namespace and the current token', async () => {
    const d = await tempDir();
    await writeFile(path.join(d, 'ca.crt'), ca.cert);
    await writeFile(path.join(d, 'namespace'), 'ingress-system\n');
    await writeFile(path.join(d, 'token'), 'sa-1');
    const port = new URL(httpsUrl).port;
    const access = inClusterAccess(
      { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port },
      d,
    );
    expect(access.server).toBe(`https://127.0.0.1:${port}`);
    expect(access.namespace).toBe('ingress-system');
    expect((await access.authorize(`${access.server}/x`, 'GET')).headers).toEqual({
      authorization: 'Bearer sa-1',
    });
    await writeFile(path.join(d, 'token'), 'sa-2-longer');
    expect((await access.authorize(`${access.server}/x`, 'GET')).headers).toEqual({
      authorization: 'Bearer sa-2-longer',
    });
    // The apiserver's certificate names the service, not 127.0.0.1: verification is on.
    await expect(new KubeClient(access).get('/version')).rejects.toThrow(/fetch failed/);
  });

  it('is chosen when KUBERNETES_SERVICE_HOST is set and no kubeconfig is given', async () => {
    await expect(
      loadClusterAccess({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, serviceAccountDir: '/nonexistent' }),
    ).rejects.toThrow(/\/nonexistent\/ca\.crt/);
    await expect(loadClusterAccess({ env: { HOME: '/nonexistent' } })).rejects.toThrow(
      /no Kubernetes configuration/,
    );
  });
});
