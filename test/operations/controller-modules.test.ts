// The controller process against a stand-in apiserver, with a module hook that
// reports every load of @kubernetes/client-node: the default path (token,
// lists, watches, the Lease, a status write, an Event) never loads it; a
// kubeconfig with an exec credential plugin does, and still works. Nor, with
// no ResponseStream route, does it load the event stream decoder (@smithy/core's);
// nor undici's index (only the parts used), nor, with a route signing with
// a Secret's keys, the AWS SDK's credential providers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freePorts } from '../../hack/lib/ports.ts';
import {
  type ApiRequest,
  FakeApiserver,
  FakeLeases,
  sendJson,
  sendStatus,
  WatchStream,
} from '../support/fake-apiserver.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from '../support/process.ts';

const MARKER = 'LOADED @kubernetes/client-node';
const STREAM_MARKER = 'LOADED the event stream decoder';
/** What the first test's controller must not load, by a part of its file URL. */
const UNUSED = {
  [STREAM_MARKER]: ['/stream-relay.', '/event-streams/'],
  "LOADED undici's index": ['/node_modules/undici/index.js'],
  "LOADED the AWS SDK's credential providers": ['/@aws-sdk/credential-providers/'],
};
const ROUTES = '/apis/lambda-ingress.io/v1alpha1/lambdaroutes';
const ROUTE = {
  apiVersion: 'lambda-ingress.io/v1alpha1',
  kind: 'LambdaRoute',
  metadata: { name: 'r', namespace: 'ns', uid: 'uid-r', generation: 1, resourceVersion: '5' },
  // A Secret that does not exist: the status says so and a Warning Event is created.
  spec: {
    match: { path: '/r' },
    target: { url: 'https://upstream.example' },
    auth: { apiKey: { secretRef: { name: 'absent', key: 'apiKey' } } },
  },
};
/** A route that is served, signing with its Secret's keys. */
const signedRoute = (upstream: string) => ({
  ...ROUTE,
  metadata: { ...ROUTE.metadata, name: 'signed', uid: 'uid-signed' },
  spec: {
    match: { path: '/signed' },
    target: { url: upstream },
    auth: { iam: { secretRef: { name: 'keys' }, region: 'us-east-1', service: 'execute-api' } },
  },
});
const SECRET = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'keys', namespace: 'ns', uid: 'uid-keys', resourceVersion: '3' },
  data: {
    accessKeyId: Buffer.from('AKIDEXAMPLEMODULES').toString('base64'),
    secretAccessKey: Buffer.from('module-test-secret-access-key').toString('base64'),
  },
};

let dir: string;
let proc: RunningProcess | undefined;
let server: FakeApiserver | undefined;
let upstream: Server | undefined;
afterEach(async () => {
  await proc?.stop('SIGKILL');
  await server?.close();
  upstream?.close();
  upstream = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function startApiserver(upstream = 'https://upstream.example'): Promise<FakeApiserver> {
  const routes = [ROUTE, signedRoute(upstream)];
  const leases = new FakeLeases();
  const watches: WatchStream[] = [];
  return FakeApiserver.start((req: ApiRequest, res: ServerResponse) => {
    if (leases.handle(req, res)) return;
    if (req.query.get('watch') === 'true') return void watches.push(new WatchStream(res));
    if (req.method === 'GET' && req.path === ROUTES) {
      return sendJson(res, 200, { metadata: { resourceVersion: '10' }, items: routes });
    }
    if (req.method === 'GET' && req.path === '/api/v1/secrets') {
      return sendJson(res, 200, { metadata: { resourceVersion: '10' }, items: [SECRET] });
    }
    const patched = routes.find(
      (route) =>
        req.path ===
        `/apis/lambda-ingress.io/v1alpha1/namespaces/ns/lambdaroutes/${route.metadata.name}/status`,
    );
    if (req.method === 'PATCH' && patched) {
      return sendJson(res, 200, {
        ...patched,
        metadata: { ...patched.metadata, resourceVersion: '6' },
        ...req.body,
      });
    }
    if (req.method === 'POST' && req.path === '/apis/events.k8s.io/v1/namespaces/ns/events') {
      return sendJson(res, 201, req.body);
    }
    sendStatus(res, 404, 'NotFound');
  });
}

/** The controller with the module hook, until it is ready and has written the route's status and Event. */
async function runController(
  kubeconfig: string,
): Promise<{ output: () => string; api: FakeApiserver; url: string }> {
  const api = server as FakeApiserver;
  const hook = join(dir, 'hook.mjs');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (resolved.url.includes('/@kubernetes/client-node/')) process.stderr.write(${JSON.stringify(`${MARKER}\n`)});
    for (const [marker, parts] of Object.entries(${JSON.stringify(UNUSED)})) {
      if (parts.some((part) => resolved.url.includes(part))) process.stderr.write(marker + '\\n');
    }
    return resolved;
  },
});
`,
  );
  const [port, adminPort] = await freePorts(2);
  proc = startCli(
    [
      'controller',
      '--kubeconfig',
      kubeconfig,
      '--lease-namespace',
      'lambda-ingress',
      ...listenOn(port, adminPort),
    ],
    {
      NODE_OPTIONS: `--import=${hook}`,
    },
  );
  await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 20_000, proc);
  await vi.waitFor(
    () => expect(api.calls('POST', '/apis/events.k8s.io/v1/namespaces/ns/events')).toHaveLength(1),
    {
      timeout: 10_000,
      interval: 50,
    },
  );
  return { output: proc.output, api, url: `http://127.0.0.1:${port}` };
}

describe('the controller process', () => {
  it('reads, elects, writes status and Events, and signs, loading nothing it does not use', async () => {
    dir = mkdtempSync(join(tmpdir(), 'controller-modules-'));
    const authorizations: (string | undefined)[] = [];
    upstream = createServer((req, res) => {
      authorizations.push(req.headers.authorization);
      res.end('ok');
    });
    await new Promise<void>((resolve) => upstream!.listen(0, '127.0.0.1', resolve));
    server = await startApiserver(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
    const { output, api, url } = await runController(server.kubeconfigPath);
    const response = await fetch(`${url}/signed`);
    expect(response.status).toBe(200);
    expect(authorizations).toEqual([
      expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEMODULES\/\d{8}\/us-east-1\/execute-api\//,
      ),
    ]);
    expect(output()).not.toContain(MARKER);
    for (const marker of Object.keys(UNUSED)) expect(output()).not.toContain(marker);
    const [patch] = api.calls(
      'PATCH',
      `/apis/lambda-ingress.io/v1alpha1/namespaces/ns/lambdaroutes/r/status`,
    );
    expect(patch?.headers['content-type']).toBe('application/merge-patch+json');
    expect(patch?.headers.authorization).toBe('Bearer test-token');
    expect(patch?.body.metadata).toEqual({ resourceVersion: '5' });
    expect(api.calls('POST', '/apis/coordination.k8s.io/v1/namespaces/lambda-ingress/leases')).toHaveLength(
      1,
    );
  });

  it('loads client-node for an exec credential plugin, and uses its token', async () => {
    dir = mkdtempSync(join(tmpdir(), 'controller-modules-'));
    server = await startApiserver();
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-exec' },
    };
    // client-node speaks plain HTTP only with insecure-skip-tls-verify.
    const config = JSON.parse(readFileSync(server.kubeconfigPath, 'utf8'));
    config.clusters[0].cluster['insecure-skip-tls-verify'] = true;
    config.users[0].user = {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: ['-e', `console.log(${JSON.stringify(JSON.stringify(credential))})`],
        interactiveMode: 'Never',
      },
    };
    const kubeconfig = join(dir, 'exec-kubeconfig');
    writeFileSync(kubeconfig, JSON.stringify(config));
    const { output, api } = await runController(kubeconfig);
    expect(output()).toContain(MARKER);
    const [patch] = api.calls(
      'PATCH',
      `/apis/lambda-ingress.io/v1alpha1/namespaces/ns/lambdaroutes/r/status`,
    );
    expect(patch?.headers.authorization).toBe('Bearer from-exec');
  });
});
