// Golden tests for compile(): each testdata/<case>.in.yaml (LambdaRoutes,
// Secrets, and optionally a `kind: Requests` document of requests to match)
// is compiled and the table, diagnostics, certificates and matches are compared with
// <case>.out.yaml. Regenerate with `npm run test:golden:update`, then review
// the diff as data.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { compile } from '../../src/compile/compile.ts';
import { describeResult } from '../../src/model/compile-result.ts';
import { parseManifests, snapshotOf } from '../../src/sources/manifests.ts';

const dir = join(import.meta.dirname, 'testdata');
const update = process.env.UPDATE_GOLDEN === '1';
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.in.yaml'))
  .map((f) => f.slice(0, -'.in.yaml'.length));

/** Splits off the trailing test-only `kind: Requests` document ("METHOD host /path" strings). */
function splitRequests(text: string): { manifests: string; requests: string[] } {
  const chunks = text.split(/^---$/m);
  const last = chunks.at(-1)!;
  if (!/^kind: Requests$/m.test(last)) return { manifests: text, requests: [] };
  return { manifests: chunks.slice(0, -1).join('---'), requests: parse(last).requests };
}

describe('compile golden cases', () => {
  it('has at least 25 cases', () => expect(cases.length).toBeGreaterThanOrEqual(25));

  it.each(cases)('%s', (name) => {
    const { manifests, requests } = splitRequests(readFileSync(join(dir, `${name}.in.yaml`), 'utf8'));
    const result = compile(snapshotOf(parseManifests(manifests, `${name}.in.yaml`)), 1);
    const matches = Object.fromEntries(
      requests.map((request) => {
        const [method, host, path] = request.split(' ') as [string, string, string];
        const found = result.table.match(host, method, path);
        return [request, found ? `${found.route.key} (prefix ends at ${found.prefixEnd})` : 'no route'];
      }),
    );
    // Each host's certificate as "Secret for route", with why it cannot be read (real keys are not checked in).
    const certificates = Object.fromEntries(
      [...result.certificates.hosts].map(([host, { secret, route, certificate }]) => [
        host,
        `${secret} for ${route}${certificate.ok ? '' : ` (${certificate.failures[0].reason})`}`,
      ]),
    );
    const actual = stringify(
      {
        ...(describeResult(result) as object),
        ...(result.certificates.hosts.size > 0 && { certificates }),
        ...(requests.length > 0 && { matches }),
      },
      { lineWidth: 0 },
    );
    const goldenPath = join(dir, `${name}.out.yaml`);
    if (update) writeFileSync(goldenPath, actual);
    expect(actual).toBe(readFileSync(goldenPath, 'utf8'));
  });
});
