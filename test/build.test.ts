// `npm run build` output is what production runs: bin/lambda-ingress picks
// dist/ when it is newer than src/, and then needs no type stripping at all
// (these runs pass --no-experimental-strip-types, so loading any .ts fails).
// The build goes to a copy of the repository's runtime files in a temp dir.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePorts } from '../hack/lib/ports.ts';
import { listenOn, type RunningProcess, spawnProcess, waitFor200 } from './support/process.ts';

const REPO_ROOT = join(import.meta.dirname, '..');
const NO_STRIPPING = '--no-experimental-strip-types';

let copy: string;
const run = (...args: string[]) =>
  spawnSync(process.execPath, [NO_STRIPPING, join(copy, 'bin', 'lambda-ingress'), ...args], {
    encoding: 'utf8',
  });

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'lambda-ingress-build-'));
  for (const entry of ['bin', 'src', 'examples', 'package.json', 'tsconfig.json', 'tsconfig.build.json']) {
    cpSync(join(REPO_ROOT, entry), join(copy, entry), { recursive: true });
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: copy, encoding: 'utf8' });
  expect(build.stdout + build.stderr).toBe('');
  expect(build.status).toBe(0);
}, 180_000);
afterAll(() => rmSync(copy, { recursive: true, force: true }));

it('--version and --help run from dist/ without type stripping', () => {
  const version = run('--version');
  expect(version.stderr).toBe('');
  expect(version.stdout).toMatch(/^lambda-ingress \d+\.\d+\.\d+\n$/);
  expect(run('controller', '--help').stdout).toContain('Usage: lambda-ingress controller');
});

it('standalone serves from dist/ (manifest worker, a forked worker) without type stripping', async () => {
  const [port, adminPort] = await freePorts(2);
  const proc: RunningProcess = spawnProcess(process.execPath, [
    NO_STRIPPING,
    join(copy, 'bin', 'lambda-ingress'),
    'standalone',
    '--manifests',
    join(copy, 'examples'),
    '--debug-routes',
    '--workers',
    '1',
    ...listenOn(port, adminPort),
  ]);
  try {
    await waitFor200(`http://127.0.0.1:${adminPort}/readyz`, 20_000, proc);
    const routes = await (await fetch(`http://127.0.0.1:${adminPort}/debug/routes`)).text();
    expect(routes).toContain('default/hello');
    const missing = await fetch(`http://127.0.0.1:${port}/no-such-route`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'no_route' });
  } finally {
    expect(await proc.stop()).toBe(0);
  }
  expect(proc.output()).not.toMatch(/ERR_UNKNOWN_FILE_EXTENSION|\.ts\b/);
});

it('runs src/ while a build is under way, and once a source file is newer than the build', () => {
  const stamp = join(copy, 'dist', '.built');
  renameSync(stamp, `${stamp}.away`);
  expect(run('--version').stderr).toContain(join(copy, 'src', 'cli.ts'));
  renameSync(`${stamp}.away`, stamp);
  expect(run('--version').status).toBe(0);

  const later = new Date(Date.now() + 60_000);
  utimesSync(join(copy, 'src', 'util', 'closest.ts'), later, later);
  const stale = run('--version');
  expect(stale.status).not.toBe(0);
  expect(stale.stderr).toContain(join(copy, 'src', 'cli.ts'));
  const fromSource = spawnSync(process.execPath, [join(copy, 'bin', 'lambda-ingress'), '--version'], {
    encoding: 'utf8',
  });
  expect(fromSource.stdout).toMatch(/^lambda-ingress /);
});
