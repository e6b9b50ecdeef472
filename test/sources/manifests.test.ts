// parseManifests on hostile input: every document is read inside its own
// error handling, with bounds, and every problem names file and document.
import { expect, it } from 'vitest';
import { parseManifests } from '../../src/sources/manifests.ts';

const route = (name: string, extra = '') => `apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata:
  name: ${name}
${extra}spec:
  match: {path: /${name}}
  target: {url: "http://upstream.internal"}
`;

it('reports a document whose aliases expand too far, and reads the others', () => {
  const bomb = `a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]`;
  const parsed = parseManifests(`${route('before')}---\n${bomb}\n---\n${route('after')}`, 'bomb.yaml');
  expect(parsed.routes.map((r) => r.metadata.name)).toEqual(['before', 'after']);
  expect(parsed.errors).toEqual([
    { origin: 'bomb.yaml#1', message: expect.stringMatching(/^invalid YAML: Excessive alias count/) },
  ]);
  expect(parsed.unreadable).toBe(true);
});

it('reports nesting too deep to parse as invalid YAML of that document', () => {
  const parsed = parseManifests(`${route('ok')}---\n${'['.repeat(50_000)}\n`, 'deep.yaml');
  expect(parsed.routes.map((r) => r.metadata.name)).toEqual(['ok']);
  expect(parsed.errors).toEqual([
    {
      origin: 'deep.yaml#1',
      message: expect.stringMatching(/^invalid YAML: Maximum call stack size exceeded/),
    },
  ]);
});

it('still refuses duplicate keys, naming the key', () => {
  const parsed = parseManifests(route('dup', '  name: again\n'), 'dup.yaml');
  expect(parsed.routes).toEqual([]);
  expect(parsed.errors).toEqual([
    { origin: 'dup.yaml#0', message: 'invalid YAML: Map keys must be unique (name)' },
  ]);
});

it('parses a mapping of 100,000 keys (duplicates are found in linear time, not by comparing every pair)', () => {
  // The yaml package's own check is quadratic: two minutes for this 4.5 MB document, a stalled reload.
  const notes = Array.from({ length: 100_000 }, (_, i) => `    note-${i}: "annotation ${i}"`).join('\n');
  const parsed = parseManifests(route('big', `  annotations:\n${notes}\n`), 'big.yaml');
  expect(parsed.errors).toEqual([]);
  expect(parsed.routes.map((r) => r.metadata.name)).toEqual(['big']);
});

it('counts a document that is not a named object as making the file unreadable, and an unknown kind not', () => {
  const cut = parseManifests(`${route('a')}---\napiVersion: v1\nkind: Secret\n`, 'cut.yaml');
  expect(cut).toMatchObject({
    unreadable: true,
    errors: [{ origin: 'cut.yaml#1', message: 'metadata is required' }],
  });
  const other = parseManifests(
    `${route('a')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n`,
    'cm.yaml',
  );
  expect(other.unreadable).toBe(false);
  expect(other.routes).toHaveLength(1);
});
