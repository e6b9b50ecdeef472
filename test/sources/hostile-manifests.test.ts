// bin/lambda-ingress standalone, started (as after a restart) on a manifests
// directory holding a YAML alias bomb, directory links back to itself
// (`ln -s . current; ln -s . latest`) and a file link loop: it serves the
// valid routes, names each problem with file and document, keeps reloading
// (an emptied file keeps its routes), and stops promptly on SIGTERM.
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts, listenLoopback } from '../../hack/lib/ports.ts';
import { lambdaRoute } from '../support/manifests.ts';
import { listenOn, type RunningProcess, startCli } from '../support/process.ts';

const aliasBomb = `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
`;

let upstream: Server;
let upstreamUrl: string;
let dir: string;
let proc: RunningProcess;
let port: number;

const route = (name: string) =>
  lambdaRoute(name, `match: {path: /${name}}\ntarget: {url: "${upstreamUrl}/${name}"}`);

async function statusOf(path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  upstream = createServer((req, res) => res.end(`upstream ${req.url}`));
  upstreamUrl = `http://127.0.0.1:${await listenLoopback(upstream)}`;
  dir = mkdtempSync(join(tmpdir(), 'hostile-manifests-'));
  writeFileSync(join(dir, 'good.yaml'), route('good'));
  writeFileSync(join(dir, 'bomb.yaml'), aliasBomb);
  symlinkSync('.', join(dir, 'current'));
  symlinkSync('.', join(dir, 'latest'));
  symlinkSync('y.yaml', join(dir, 'x.yaml'));
  symlinkSync('x.yaml', join(dir, 'y.yaml'));
  const [dataPort, adminPort] = await freePorts(2);
  port = dataPort;
  proc = startCli(['standalone', '--manifests', dir, ...listenOn(port, adminPort)]);
});
afterAll(async () => {
  await proc?.stop('SIGKILL');
  upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('starts and serves the valid routes, naming each problem', async () => {
  await eventually(async () => (await statusOf('/good')) === 200, '/good was not served');
  const output = proc.output();
  expect(output).toMatch(/"origin":"bomb.yaml#0".*invalid YAML: Excessive alias count/);
  expect(output).toMatch(/"origin":"current".*the same directory as \., already read: not followed/);
  expect(output).toMatch(/"origin":"latest".*the same directory as \., already read: not followed/);
  expect(output).toMatch(/"origin":"x.yaml".*cannot read: ELOOP/);
  expect(proc.child.exitCode).toBeNull();
});

it('keeps serving the routes of a file that is emptied, and says so in the log', async () => {
  writeFileSync(join(dir, 'good.yaml'), ''); // `generator > good.yaml` truncates first
  await eventually(
    async () =>
      /"origin":"good.yaml".*the file is empty; keeping the 1 object\(s\) last read/.test(proc.output()),
    'no log line about the emptied file',
  );
  expect(await statusOf('/good')).toBe(200);
});

it('keeps reloading: a new file is served, a deleted one goes', async () => {
  writeFileSync(join(dir, 'added.yaml'), route('added'));
  await eventually(async () => (await statusOf('/added')) === 200, '/added was not served');
  rmSync(join(dir, 'good.yaml'));
  await eventually(async () => (await statusOf('/good')) === 404, '/good was still served');
});

it('stops promptly on SIGTERM', async () => {
  const signalledAt = Date.now();
  expect(await proc.stop('SIGTERM')).toBe(0);
  expect(Date.now() - signalledAt).toBeLessThan(10_000);
});
