// Shared AWS test data (the SigV4 suite, AWS's Lambda event samples) lives
// outside the repo in ../shared/testdata and is read in place, never copied.
// A plain local run without it skips the dependent tests and says so;
// .ci/run sets LAMBDA_INGRESS_REQUIRE_TESTDATA=1 so that CI fails instead.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export const sharedTestdataRoot = resolve(
  process.env.LAMBDA_INGRESS_TESTDATA ?? join(repoRoot, '..', 'shared', 'testdata'),
);

/** The folder `name` under the shared test data, or undefined (after saying so) when absent. */
export function sharedTestdata(name: string): string | undefined {
  const dir = join(sharedTestdataRoot, name);
  if (existsSync(dir)) return dir;
  const message = `shared test data ${dir} not found (LAMBDA_INGRESS_TESTDATA names its folder)`;
  if (process.env.LAMBDA_INGRESS_REQUIRE_TESTDATA === '1') throw new Error(`${message} (required in CI)`);
  console.warn(`SKIPPING tests that need ${name}: ${message}`);
  return undefined;
}
