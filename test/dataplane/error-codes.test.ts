// The error codes of the responses lambda-ingress gives itself, and their
// statuses, are one table in code (ERROR_STATUS): every row of the README's
// "Responses lambda-ingress gives itself", "Error mapping" and "Response
// streaming" tables agrees with it, and every code in it is documented there.
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, type ErrorCode } from '../../src/dataplane/errors.ts';
import { UPSTREAM_ERROR_KINDS } from '../../src/metrics/upstream-error.ts';
import { codeSpans, readmeTable } from '../support/readme.ts';

/** [status, code] of each README row that names an error code (rows with "—" are not errors). */
function documented(heading: string, statusColumn: number, errorColumn: number): [number, string][] {
  return readmeTable(heading)
    .filter((cells) => codeSpans(cells[errorColumn]!).length > 0)
    .map((cells) => {
      const status = /\b([1-5]\d\d)\b/.exec(cells[statusColumn]!)?.[1];
      expect(status, `a status in "${cells[statusColumn]}"`).toBeDefined();
      return [Number(status), codeSpans(cells[errorColumn]!)[0]!];
    });
}

const own = documented('### Responses lambda-ingress gives itself', 1, 2);
const lambda = documented('### Error mapping', 1, 2);
const streams = documented('### Response streaming', 1, 2);

describe('ERROR_STATUS', () => {
  it.each([...own, ...lambda, ...streams])('README: %i %s', (status, code) => {
    expect(Object.keys(ERROR_STATUS), `${code} is a known error code`).toContain(code);
    expect(ERROR_STATUS[code as ErrorCode]).toBe(status);
  });

  it('documents every code in one of the two tables', () => {
    const codes = new Set([...own, ...lambda].map(([, code]) => code));
    expect(Object.keys(ERROR_STATUS).filter((code) => !codes.has(code))).toEqual([]);
  });

  it('names known upstream error kinds for streams cut after their head', () => {
    const kinds = readmeTable('### Response streaming').flatMap((cells) => codeSpans(cells[3]!));
    expect(kinds.length).toBeGreaterThan(5);
    expect(kinds.filter((kind) => !(UPSTREAM_ERROR_KINDS as readonly string[]).includes(kind))).toEqual([]);
  });

  it('reads the tables', () => {
    expect(own.length).toBeGreaterThan(10);
    expect(lambda.length).toBeGreaterThan(5);
    expect(streams.length).toBeGreaterThan(5);
  });
});
