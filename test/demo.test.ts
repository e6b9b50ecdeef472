// The seed example from the APISIX aws-lambda docs, run against exactly what
// `npm start` runs: `lambda-ingress demo` on examples/ with the emulator, here
// on ports of its own (the emulator too: examples/ say 9092, and the demo
// points them at the emulator it started).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../hack/lib/ports.ts';
import { DEMO_CREDENTIALS } from '../src/emulator/demo.ts';
import { type RunningProcess, startCli, waitFor200 } from './support/process.ts';

const REPO_ROOT = new URL('..', import.meta.url).pathname;

let demo: RunningProcess;
let base: string;
let adminBase: string;
let emulatorPort: number;

beforeAll(async () => {
  const [port, adminPort, emulator] = await freePorts(3);
  emulatorPort = emulator;
  demo = startCli([
    'demo',
    '--port',
    String(port),
    '--admin-port',
    String(adminPort),
    '--emulator-port',
    String(emulatorPort),
  ]);
  base = `http://127.0.0.1:${port}`;
  adminBase = `http://127.0.0.1:${adminPort}`;
  await waitFor200(`${adminBase}/readyz`, 15_000, demo);
});
afterAll(async () => {
  expect(await demo.stop()).toBe(0);
});

it.each([['/aws?name=APISIX'], ['/aws/default/test-apisix?name=APISIX'], ['/hello?name=APISIX']])(
  'curl %s answers "Hello, APISIX!" from the emulator the demo started',
  async (path) => {
    const response = await fetch(base + path);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('"Hello, APISIX!"');
    expect(response.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  },
);

it("streams examples/stream-function.yaml's route from the emulator's stream function", async () => {
  const response = await fetch(`${base}/stream?chunks=3&size=4&metadata=one`);
  expect(response.status).toBe(200);
  expect(response.headers.get('transfer-encoding')).toBe('chunked');
  expect(response.headers.get('x-streamed')).toBe('yes');
  expect(await response.text()).toBe('aaaabbbbcccc');
});

it('serves /debug/routes, showing examples/ pointed at the emulator port', async () => {
  const table = (await (await fetch(`${adminBase}/debug/routes`)).json()) as {
    routes: { target: { host?: string } }[];
  };
  const hosts = table.routes.map((r) => r.target.host);
  expect(hosts).toContain(`127.0.0.1:${emulatorPort}`);
  expect(JSON.stringify(table)).not.toContain(':9092');
});

it('says there is no route for anything else', async () => {
  const response = await fetch(`${base}/elsewhere`);
  expect(response.status).toBe(404);
  expect(await response.json()).toMatchObject({ error: 'no_route' });
});

it("answers with the headers the README's Quick start shows", async () => {
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'));
  const block = /```console\n([\s\S]*?)```/.exec(quickStart)![1]!;
  const [command, status, ...rest] = block.split('\n');
  expect(command).toBe("$ curl -i 'localhost:9080/aws?name=APISIX'");
  const shown = rest.slice(0, rest.indexOf('')).map((line) => line.split(': ') as [string, string]);
  const body = rest[rest.indexOf('') + 1];

  const real = await new Promise<{ status: string; headers: [string, string][]; body: string }>(
    (resolve, reject) => {
      get(`${base}/aws?name=APISIX`, (response) => {
        const headers: [string, string][] = [];
        for (let i = 0; i < response.rawHeaders.length; i += 2)
          headers.push([response.rawHeaders[i]!, response.rawHeaders[i + 1]!]);
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () =>
          resolve({
            status: `HTTP/${response.httpVersion} ${response.statusCode} ${response.statusMessage}`,
            headers,
            body: text,
          }),
        );
      }).on('error', reject);
    },
  );
  expect(status).toBe(real.status);
  expect(body).toBe(real.body);
  expect(shown.map(([name]) => name)).toEqual(real.headers.map(([name]) => name));
  // Ids and the date differ on every call; the rest is what the demo sends.
  const fixed = (headers: [string, string][]) =>
    headers.filter(([name]) => !/^(x-request-id|x-amzn-requestid|date)$/i.test(name));
  expect(fixed(shown)).toEqual(fixed(real.headers));
});

it('hosts what the README lists: the stage, the function and one key pair; unsigned requests get 403', async () => {
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  for (const text of [
    '`/default/test-apisix`',
    '`hello`',
    `\`${DEMO_CREDENTIALS.accessKeyId}\``,
    `\`${DEMO_CREDENTIALS.secretAccessKey}\``,
  ])
    expect(readme).toContain(text);
  const emulator = `http://127.0.0.1:${emulatorPort}`;
  expect((await fetch(`${emulator}/default/test-apisix?name=x`)).status).toBe(403);
  const invoke = await fetch(`${emulator}/2015-03-31/functions/hello/invocations`, {
    method: 'POST',
    body: '{}',
  });
  expect(invoke.status).toBe(403);
});

describe('npm start', () => {
  let npm: ReturnType<typeof spawn> | undefined;
  afterAll(() => {
    // The test may have failed with the server still running: stop the whole group.
    if (npm?.pid)
      try {
        process.kill(-npm.pid, 'SIGKILL');
      } catch {
        // already gone
      }
  });

  it('stops the server when npm itself is stopped', async () => {
    const [port, adminPort, emulator] = await freePorts(3);
    // Its own process group, so that what it leaves behind can be found and stopped.
    npm = spawn(
      'npm',
      [
        'start',
        '--',
        '--port',
        String(port),
        '--admin-port',
        String(adminPort),
        '--emulator-port',
        String(emulator),
      ],
      { cwd: REPO_ROOT, detached: true, stdio: 'ignore' },
    );
    await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 30_000);
    process.kill(npm.pid!, 'SIGTERM'); // npm, not its children: what a parent that started `npm start` does
    const deadline = Date.now() + 10_000;
    let listening = true;
    while (listening && Date.now() < deadline) {
      listening = await fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
        () => true,
        () => false,
      );
      if (listening) await new Promise((r) => setTimeout(r, 100));
    }
    expect(listening, 'the server still answers after npm was stopped').toBe(false);
  });
});
