// bin/lambda-ingress refuses bad flags with exit code 2 and a message that names
// the flag, and reports system errors (a port in use) in one line, not a stack.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freePorts, listenLoopback } from '../hack/lib/ports.ts';
import { listenOn, type RunningProcess, startCli, waitFor200 } from './support/process.ts';

const EXAMPLES = new URL('../examples/', import.meta.url).pathname;

// Every process a test starts is stopped after it, also when the test failed before it exited.
const started: RunningProcess[] = [];
const run = (...args: Parameters<typeof startCli>): RunningProcess => {
  const proc = startCli(...args);
  started.push(proc);
  return proc;
};
afterEach(async () => {
  await Promise.all(started.splice(0).map((proc) => proc.stop('SIGKILL')));
});

it.each([
  [
    ['--log-level', 'loud'],
    '--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
  ],
  [['--trusted-proxy', '10.0.0.0/33'], '--trusted-proxy 10.0.0.0/33 is not an IP address or CIDR range'],
  [['--trusted-proxy', 'proxy.local'], '--trusted-proxy proxy.local is not an IP address or CIDR range'],
  [['--port', '70000'], '--port must be an integer from 0 to 65535, got "70000"'],
  [['--shutdown-grace', '25'], '--shutdown-grace must be a duration such as 25s, got "25"'],
  [['--workers', 'two'], '--workers must be an integer from 0 to'],
  [['--no-such-flag'], 'unknown option --no-such-flag\n'],
  [['--prot', '9080'], 'unknown option --prot (did you mean --port?)'],
  [['--Port', '9080'], 'unknown option --Port (did you mean --port?)'],
  [['--no-acces-log'], 'unknown option --no-acces-log (did you mean --no-access-log?)'],
  [['--no-port'], 'unknown option --no-port (did you mean --port?)'],
  [
    ['--kubeconfig', 'k'],
    '--kubeconfig is not an option of standalone (lambda-ingress standalone --help lists them)',
  ],
  [['--emulator-port', '1'], '--emulator-port is not an option of standalone'],
  [['--tls-port', '9080', '--port', '9080'], '--tls-port must differ from --port (9080)'],
  [['--default-certificate', 'fallback'], '--default-certificate must be <namespace>/<name>, got "fallback"'],
  [['--default-certificate', 'Ingress/fallback'], '--default-certificate must be <namespace>/<name>'],
])('standalone %j exits 2: %s', async (flags, message) => {
  const proc = run(['standalone', '--manifests', EXAMPLES, ...flags]);
  expect(await proc.exited).toBe(2);
  expect(proc.output()).toContain(message);
  expect(proc.output()).toContain('Usage:');
});

let taken: Server;
let takenPort: number;
beforeAll(async () => {
  taken = createServer();
  takenPort = await listenLoopback(taken);
});
afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

it('exits 1 with one line when the port is in use', async () => {
  const proc = run(['standalone', '--manifests', EXAMPLES, ...listenOn(takenPort, await freePort())]);
  expect(await proc.exited).toBe(1);
  const errorLine = proc
    .output()
    .split('\n')
    .filter((line) => line.startsWith('lambda-ingress:'));
  expect(errorLine).toEqual([expect.stringMatching(new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${takenPort}`))]);
  expect(proc.output()).not.toMatch(/\n\s+at /); // no stack trace
});

it.each([
  [['demo', '--manifests', 'routes/'], '--manifests is not an option of demo'],
  [['emulator', '--port', '9080'], '--port is not an option of emulator'],
  [['controller', '--emulator-port', '1'], '--emulator-port is not an option of controller'],
  [['demo', '--debug-routes'], '--debug-routes is not an option of demo'],
  [['demo', '--redirect-http'], '--redirect-http is not an option of demo'],
])('%j exits 2 naming the flag the command does not take', async (args, message) => {
  const proc = run(args);
  expect(await proc.exited).toBe(2);
  expect(proc.output()).toContain(`lambda-ingress: ${message} (lambda-ingress ${args[0]} --help lists them)`);
  expect(proc.output()).toContain(`Usage: lambda-ingress ${args[0]}`);
});

it('refuses a --default-certificate outside the namespaces the controller watches', async () => {
  const proc = run([
    'controller',
    '--namespace',
    'team-a',
    '--default-certificate',
    'ingress/fallback',
    '--kubeconfig',
    'none',
  ]);
  expect(await proc.exited).toBe(2);
  expect(proc.output()).toContain(
    'lambda-ingress: --default-certificate ingress/fallback: namespace ingress is not watched (add --namespace ingress)',
  );
});

it('suggests the command a typo meant', async () => {
  const proc = run(['standalon', '--manifests', EXAMPLES]);
  expect(await proc.exited).toBe(2);
  expect(proc.output()).toContain('lambda-ingress: unknown command "standalon" (did you mean standalone?)');
});

it('--version prints the version from package.json', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const proc = run(['--version']);
  expect(await proc.exited).toBe(0);
  expect(proc.output()).toBe(`lambda-ingress ${version}\n`);
});

it.each([
  [
    'standalone',
    ['--manifests', '--debug-routes', '--admin-host', '--port', '--tls-port', '--default-certificate'],
    ['--kubeconfig', '--emulator-port'],
  ],
  [
    'controller',
    ['--kubeconfig', '--namespace', '--lease-namespace', '--admin-host', '--tls-port', '--redirect-http'],
    ['--manifests'],
  ],
  ['demo', ['--emulator-port', '--emulator-host', '--port'], ['--manifests', '--kubeconfig', '--tls-port']],
  ['emulator', ['--emulator-port', '--emulator-host', '--log-level'], ['--port', '--admin-port', '--host']],
])('%s --help prints the options of that command only', async (command, has, hasNot) => {
  const proc = run([command, '--help']);
  expect(await proc.exited).toBe(0);
  const output = proc.output();
  expect(output).toContain(`Usage: lambda-ingress ${command}`);
  for (const flag of has) expect(output).toMatch(new RegExp(`^  ${flag} `, 'm'));
  for (const flag of hasNot) expect(output).not.toMatch(new RegExp(`^  ${flag} `, 'm'));
});

describe('the admin port', () => {
  let proc: RunningProcess | undefined;
  const standalone = async (...flags: string[]) => {
    const [port, adminPort] = await freePorts(2);
    proc = run([
      'standalone',
      '--manifests',
      EXAMPLES,
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      ...flags,
    ]);
    return adminPort;
  };
  const reachable = (url: string) =>
    fetch(url).then(
      () => true,
      () => false,
    );

  it('listens on loopback whatever --host says, and /debug/routes is off', async () => {
    // 127.0.0.2 is loopback too: the data plane there, the admin port must stay on 127.0.0.1.
    const adminPort = await standalone('--host', '127.0.0.2');
    await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 15_000, proc);
    expect(await reachable(`http://127.0.0.2:${adminPort}/readyz`)).toBe(false);
    const debug = await fetch(`http://127.0.0.1:${adminPort}/debug/routes`);
    expect(debug.status).toBe(404);
    expect(await debug.json()).toEqual({
      error: 'not_enabled',
      message: '/debug/routes is off: start lambda-ingress with --debug-routes to serve it',
    });
    expect((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status).toBe(200);
  });

  it('listens on --admin-host only, and serves /debug/routes with --debug-routes', async () => {
    const adminPort = await standalone('--host', '127.0.0.1', '--admin-host', '127.0.0.3', '--debug-routes');
    await waitFor200(`http://127.0.0.3:${adminPort}/readyz`, 15_000, proc);
    expect(await reachable(`http://127.0.0.1:${adminPort}/readyz`)).toBe(false);
    const debug = await fetch(`http://127.0.0.3:${adminPort}/debug/routes`);
    expect(debug.status).toBe(200);
    expect(JSON.stringify(await debug.json())).toContain('test-apisix');
    expect(proc!.output()).toContain(`"admin":"http://127.0.0.3:${adminPort}"`);
  });
});

describe('lambda-ingress emulator', () => {
  const start = async (...flags: string[]) => {
    const port = await freePort();
    const proc = run(['emulator', '--emulator-port', String(port), ...flags]);
    const deadline = Date.now() + 15_000;
    while (!proc.output().includes('AWS emulator listening')) {
      if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(proc.output());
      await new Promise((r) => setTimeout(r, 50));
    }
    return port;
  };
  const answers = (url: string) =>
    fetch(url).then(
      () => true,
      () => false,
    );

  it('listens on 127.0.0.1 only: it accepts the published example keys', async () => {
    const port = await start();
    expect(await answers(`http://127.0.0.1:${port}/`)).toBe(true);
    expect(await answers(`http://127.0.0.2:${port}/`)).toBe(false);
  });

  it('listens where --emulator-host says', async () => {
    const port = await start('--emulator-host', '127.0.0.2');
    expect(await answers(`http://127.0.0.2:${port}/`)).toBe(true);
    expect(await answers(`http://127.0.0.1:${port}/`)).toBe(false);
  });
});

describe('on Node.js older than 22.19', () => {
  // This Node, made to report 22.18.0 before anything else runs.
  const OLD_NODE = `--import=data:text/javascript,${encodeURIComponent(
    "Object.defineProperty(process, 'version', { value: 'v22.18.0' });" +
      "Object.defineProperty(process.versions, 'node', { value: '22.18.0' });",
  )}`;

  it('bin/lambda-ingress stops at once with one line naming the version it needs', async () => {
    const proc = run(['demo'], { NODE_OPTIONS: OLD_NODE });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toBe(
      'lambda-ingress needs Node.js 22.19 or later (24 recommended); this is v22.18.0.\n',
    );
  });

  it('npm ci refuses to install (engine-strict), naming the version it needs', async () => {
    const repo = new URL('..', import.meta.url).pathname;
    const dir = mkdtempSync(join(tmpdir(), 'lambda-ingress-engines-'));
    try {
      for (const file of ['package.json', 'package-lock.json', '.npmrc'])
        copyFileSync(join(repo, file), join(dir, file));
      const result = await promisify(execFile)(
        'npm',
        ['ci', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'],
        { cwd: dir, env: { ...process.env, NODE_OPTIONS: OLD_NODE } },
      ).then(
        () => ({ code: 0, output: '' }),
        (error: { code: number; stdout: string; stderr: string }) => ({
          code: error.code,
          output: error.stdout + error.stderr,
        }),
      );
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('npm error code EBADENGINE');
      expect(result.output).toContain('Required: {"node":">=22.19"}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
