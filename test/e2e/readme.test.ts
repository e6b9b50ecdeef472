// The README's "Without Docker: a local control plane" commands, run exactly
// as written (bash, the repo as working directory), against a fresh local
// control plane in the default .cluster directory.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from './controller-support.ts';

function readmeBlock(heading: string): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error(`no sh block after "${heading}" in README.md`);
  return match[1]!;
}

it('deploys to the local control plane as the README says', async () => {
  const script = readmeBlock('### Without Docker: a local control plane');
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    // Its own process group, so whatever the script leaves running when it fails can be stopped.
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: REPO_ROOT,
      env: process.env,
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (exit) => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // the group is already gone
      }
      resolve({ code: exit, output });
    });
  });
  expect(code, output).toBe(0);
  expect(output).toContain('"Hello, APISIX!"');
  expect(output).toMatch(/HTTP\/1\.1 200 OK/);
  for (const route of ['aws', 'aws-forward', 'hello-function']) {
    expect(output).toMatch(new RegExp(`^${route}\\s+.*\\sTrue\\s`, 'm'));
  }
  // One line per event: the controller says it reached the API server once, not twice in two spellings.
  expect(output.match(/connected to the (apiserver|API server)/g)).toEqual(['connected to the API server']);
  expect(output.match(/became (the )?leader/g)).toEqual(['became leader']);
}, 600_000);
