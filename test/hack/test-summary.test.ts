// The last line of .ci/run, "N passed, N failed" (hack/test-summary.ts), from
// the JSON reports of a real vitest run over a few generated test files.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO_ROOT = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'lambda-ingress-ci-summary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Exit code and stdout, whether it succeeded or not. */
const outcome = (file: string, args: string[]) =>
  run(process.execPath, [file, ...args], { cwd: dir }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );

it('counts every test of every report, a file that did not load and a missing report as failures', async () => {
  writeFileSync(join(dir, 'good.test.js'), "it('a', () => {});\nit('b', () => {});\n");
  writeFileSync(
    join(dir, 'mixed.test.js'),
    "it('c', () => {});\nit('d', () => { throw new Error('no'); });\n",
  );
  writeFileSync(join(dir, 'broken.test.js'), "throw new Error('does not load');\n");
  const vitest = await outcome(join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'), [
    'run',
    '--root',
    dir,
    '--globals',
    '--reporter=json',
    `--outputFile.json=${join(dir, 'unit.json')}`,
  ]);
  expect(vitest.code).toBe(1);

  const summary = await outcome(join(REPO_ROOT, 'hack/test-summary.ts'), [
    join(dir, 'unit.json'),
    join(dir, 'e2e.json'), // never written: as if the e2e run died
  ]);
  expect(summary).toEqual({ code: 1, stdout: '3 passed, 3 failed\n' });

  expect(await outcome(join(REPO_ROOT, 'hack/test-summary.ts'), [join(dir, 'unit.json')])).toEqual({
    code: 1,
    stdout: '3 passed, 2 failed\n',
  });
});

it('.ci/run ends with that line over the unit and the e2e reports, after both ran', () => {
  const script = readFileSync(join(REPO_ROOT, '.ci/run'), 'utf8').trimEnd().split('\n');
  expect(script.some((line) => /^npm test -- .*"\$\(json_report unit\)" \|\| tests_ok=0/.test(line))).toBe(
    true,
  );
  expect(
    script.some((line) => /^npm run test:e2e -- .*"\$\(json_report e2e\)" \|\| tests_ok=0/.test(line)),
  ).toBe(true);
  expect(script.slice(-3)).toEqual([
    'node hack/test-summary.ts "$REPORTS/unit.json" "$REPORTS/e2e.json" || tests_ok=0',
    'rm -rf "$REPORTS"',
    '((tests_ok))',
  ]);
});
