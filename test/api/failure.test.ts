// The reasons a route's conditions can give are the README's Status table,
// condition by condition: a reason added in code and not documented (or the
// other way round) fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fail, failuresText, REASONS } from '../../src/api/failure.ts';

it("names the reasons of the README's Status table, condition by condition", () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('### Status'), readme.indexOf('### Responses'));
  const documented = Object.fromEntries(
    [...table.matchAll(/^\| `(\w+)` \| (.*) \|$/gm)].map(([, condition, reasons]) => [
      condition,
      [...reasons!.matchAll(/`(\w+)`/g)].map((m) => m[1]),
    ]),
  );
  expect(documented).toEqual(REASONS);
});

it('writes each failure with its field path first', () => {
  const failures = [
    ...fail('Invalid', 'is required', 'spec.match.path').failures,
    ...fail('Invalid', 'exactly one of url or function').failures,
  ];
  expect(failuresText(failures)).toBe('spec.match.path: is required; exactly one of url or function');
});
