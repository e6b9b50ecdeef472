// The servers of the data-plane benchmark: the nginx upstream ("ok" and a fake
// Lambda Invoke API), nginx as a keep-alive reverse proxy (the baseline), and
// lambda-ingress in standalone mode. nginx runs as the current user from a
// temp prefix: its own pid file, error log and temp paths, `daemon off`.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, freePorts } from '../hack/lib/ports.ts';
import { commandOutput, type Started, start, stop, waitForHttp } from './procs.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const NGINX = process.env.BENCH_NGINX ?? '/usr/sbin/nginx';
/** What the fake Invoke API answers: a valid payload format 2.0 result. */
export const INVOKE_RESULT = '{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"ok"}';
export const FUNCTION_NAME = 'bench';

export interface Server {
  name: string;
  port: number;
  proc: Started;
}

function nginxCommon(dir: string, name: string): string {
  // Only root can (and, for nginx, must) name the user the workers run as;
  // for anyone else nginx keeps the current user and would warn about it.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};\n` : '';
  const temp = join(dir, `${name}-temp`);
  mkdirSync(temp, { recursive: true });
  return `${user}daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}-error.log`)} warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${temp}/client_body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_max_body_size 16m;
  client_body_buffer_size 2m;
`;
}

async function startNginx(dir: string, name: string, config: string, port: number): Promise<Server> {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(conf, config);
  const proc = start(
    NGINX,
    ['-p', `${dir}/`, '-c', conf, '-e', join(dir, `${name}-error.log`)],
    join(dir, `${name}.log`),
  );
  await waitForHttp(`http://127.0.0.1:${port}/`, proc);
  return { name, port, proc };
}

/** The upstream: `return 200 "ok"` everywhere, and a Lambda Invoke API result at the function's path. */
export async function startUpstream(dir: string): Promise<Server> {
  const port = await freePort();
  const config = `${nginxCommon(dir, 'upstream')}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { return 200 "ok"; }
    location = /2015-03-31/functions/${FUNCTION_NAME}/invocations {
      default_type application/json;
      return 200 '${INVOKE_RESULT}';
    }
  }
}
`;
  return startNginx(dir, 'upstream', config, port);
}

/** nginx as a plain reverse proxy: one worker, HTTP/1.1 keep-alive to the upstream. */
export async function startNginxProxy(dir: string, upstreamPort: number): Promise<Server> {
  const port = await freePort();
  const config = `${nginxCommon(dir, 'proxy')}
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  return startNginx(dir, 'proxy', config, port);
}

/** bench/node-floor.ts: the least a Node.js proxy can do, for reference. */
export async function startNodeFloor(dir: string, upstreamPort: number): Promise<Server> {
  const port = await freePort();
  const name = 'node-floor';
  const proc = start(
    process.execPath,
    ['--trace-gc', join(REPO, 'bench/node-floor.ts'), String(port), String(upstreamPort)],
    join(dir, `${name}.log`),
  );
  await waitForHttp(`http://127.0.0.1:${port}/`, proc);
  return { name, port, proc };
}

/** The nginx + LuaJIT peer doing the APISIX `aws-lambda` plugin's SigV4 work per request (an upper bound of APISIX). */
// The peer sits beside the shared test data (../shared/peers next to ../shared/testdata), which is also where
// a checkout in another folder (a worktree) finds it through LAMBDA_INGRESS_TESTDATA.
export const NGINX_LUA_PEER =
  process.env.BENCH_NGINX_LUA ||
  (process.env.LAMBDA_INGRESS_TESTDATA
    ? join(process.env.LAMBDA_INGRESS_TESTDATA, '../peers/nginx-lua-sigv4')
    : join(REPO, '../shared/peers/nginx-lua-sigv4'));

export async function startNginxLua(dir: string, upstreamPort: number): Promise<Server> {
  const port = await freePort();
  const name = 'nginx-lua';
  const script = join(NGINX_LUA_PEER, 'run.sh');
  if (!existsSync(script)) throw new Error(`${script} not found (BENCH_NGINX_LUA names the peer's folder)`);
  // run.sh writes the config and execs nginx (one worker, keep-alive upstream), so the pid is nginx's master.
  const proc = start(
    'bash',
    [script, join(dir, name), String(port), String(upstreamPort)],
    join(dir, `${name}.log`),
  );
  await waitForHttp(`http://127.0.0.1:${port}/`, proc);
  return { name, port, proc };
}

/** Paths lambda-ingress serves in the benchmark, one route each. */
export const LI_PATHS = { unsigned: '/unsigned', signed: '/signed', function: '/function' } as const;

export function writeManifests(dir: string, upstreamPort: number): string {
  const upstream = `http://127.0.0.1:${upstreamPort}`;
  // A directory of its own: lambda-ingress watches the directory of a --manifests file (recursively),
  // and the load generator's and servers' files changing next to it would make it rescan.
  mkdirSync(join(dir, 'manifests'));
  const file = join(dir, 'manifests', 'routes.yaml');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Secret
metadata: { name: bench-aws }
stringData:
  accessKeyId: AKIDEXAMPLE
  secretAccessKey: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
---
apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: { name: unsigned }
spec:
  match: { path: ${LI_PATHS.unsigned} }
  target: { url: ${upstream}/default/unsigned }
---
apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: { name: signed }
spec:
  match: { path: ${LI_PATHS.signed} }
  target: { url: ${upstream}/default/signed }
  auth:
    iam: { secretRef: { name: bench-aws }, region: us-east-1, service: execute-api }
---
apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: { name: function }
spec:
  match: { path: ${LI_PATHS.function} }
  target:
    function: { name: ${FUNCTION_NAME}, endpoint: ${upstream}, payloadFormat: "2.0" }
  auth:
    iam: { secretRef: { name: bench-aws }, region: us-east-1 }
`,
  );
  return file;
}

let workersFlag: boolean | undefined;
/** Whether this checkout's lambda-ingress has `--workers` (it is listed in `standalone --help`). */
export function hasWorkersFlag(): boolean {
  workersFlag ??= /--workers\b/.test(
    commandOutput(process.execPath, [join(REPO, 'bin/lambda-ingress'), 'standalone', '--help']),
  );
  return workersFlag;
}

export interface LambdaIngressOptions {
  dir: string;
  manifests: string;
  workers?: number;
  /** Directory for `node --cpu-prof` output; no profiling when absent. */
  cpuProfDir?: string;
  /** Passes --no-access-log; otherwise lambda-ingress runs with its default flags (access log on, log level info). */
  noAccessLog?: boolean;
  /** More node flags (e.g. --max-semi-space-size=32). */
  nodeFlags?: readonly string[];
  name?: string;
}

export async function startLambdaIngress(
  options: LambdaIngressOptions,
): Promise<Server & { adminPort: number }> {
  const [port, adminPort] = await freePorts(2);
  const name = options.name ?? 'lambda-ingress';
  const nodeArgs = [
    // One line per collection, read back for the row's GC pauses (bench/gc-trace.ts).
    '--trace-gc',
    ...(options.nodeFlags ?? []),
    ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : []),
  ];
  const args = [
    ...nodeArgs,
    join(REPO, 'bin/lambda-ingress'),
    'standalone',
    '--manifests',
    options.manifests,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--admin-port',
    String(adminPort),
    ...(options.noAccessLog ? ['--no-access-log'] : []),
    '--shutdown-grace',
    '1s',
    ...(options.workers !== undefined ? ['--workers', String(options.workers)] : []),
  ];
  const proc = start(process.execPath, args, join(options.dir, `${name}.log`));
  await waitForHttp(`http://127.0.0.1:${adminPort}/readyz`, proc, 30_000);
  return { name, port, adminPort, proc };
}

export async function stopServer(server: Server | undefined): Promise<void> {
  if (server)
    await stop(server.proc, 15_000, server.name.startsWith('lambda-ingress') ? 'SIGTERM' : 'SIGQUIT');
}
