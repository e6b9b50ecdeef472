// The controller process against a stand-in apiserver, with a module hook that
// reports every load of @kubernetes/client-node: the default path (token,
// lists, watches, the Lease, a status write, an Event) never loads it; a
// kubeconfig with an exec credential plugin does, and still works. Nor, with
// no ResponseStream route, does it load the event stream decoder (@smithy/core's).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
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

let dir: string;
let proc: RunningProcess | undefined;
let server: FakeApiserver | undefined;
afterEach(async () => {
  await proc?.stop('SIGKILL');
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startApiserver(): Promise<FakeApiserver> {
  const leases = new FakeLeases();
  const watches: WatchStream[] = [];
  return FakeApiserver.start((req: ApiRequest, res: ServerResponse) => {
    if (leases.handle(req, res)) return;
    if (req.query.get('watch') === 'true') return void watches.push(new WatchStream(res));
    if (req.method === 'GET' && req.path === ROUTES) {
      return sendJson(res, 200, { metadata: { resourceVersion: '10' }, items: [ROUTE] });
    }
    if (req.method === 'GET' && req.path === '/api/v1/secrets') {
      return sendJson(res, 200, { metadata: { resourceVersion: '10' }, items: [] });
    }
    if (
      req.method === 'PATCH' &&
      req.path === `/apis/lambda-ingress.io/v1alpha1/namespaces/ns/lambdaroutes/r/status`
    ) {
      return sendJson(res, 200, {
        ...ROUTE,
        metadata: { ...ROUTE.metadata, resourceVersion: '6' },
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
async function runController(kubeconfig: string): Promise<{ output: string; api: FakeApiserver }> {
  const api = server as FakeApiserver;
  const hook = join(dir, 'hook.mjs');
  writeFileSync(
    hook,
    `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (resolved.url.includes('/@kubernetes/client-node/')) process.stderr.write(${JSON.stringify(`${MARKER}\n`)});
    if (['/stream-relay.', '/event-streams/'].some((part) => resolved.url.includes(part))) process.stderr.write(${JSON.stringify(`${STREAM_MARKER}\n`)});
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
  return { output: proc.output(), api };
}

describe('the controller process', () => {
  it('reads, elects, writes status and Events without loading client-node', async () => {
    dir = mkdtempSync(join(tmpdir(), 'controller-modules-'));
    server = await startApiserver();
    const { output, api } = await runController(server.kubeconfigPath);
    expect(output).not.toContain(MARKER);
    expect(output).not.toContain(STREAM_MARKER);
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
    expect(output).toContain(MARKER);
    const [patch] = api.calls(
      'PATCH',
      `/apis/lambda-ingress.io/v1alpha1/namespaces/ns/lambdaroutes/r/status`,
    );
    expect(patch?.headers.authorization).toBe('Bearer from-exec');
  });
});
