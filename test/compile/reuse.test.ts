// A compile after one change reuses what the previous compile made of every
// other route: the same CompiledRoute and diagnostic objects while a route's
// object, its conflict and the Secrets it reads are the same; each of those
// changing makes it anew.
import { expect, it } from 'vitest';
import { objectKey, type Snapshot } from '../../src/api/snapshot.ts';
import type { LambdaRouteObject, SecretObject } from '../../src/api/types.ts';
import { compile } from '../../src/compile/compile.ts';
import { parseManifests } from '../../src/sources/manifests.ts';
import { documents, lambdaRoute, secret } from '../support/manifests.ts';

const target = 'target: {url: "https://abc.execute-api.us-east-1.amazonaws.com/p"}';

function parse(text: string) {
  const parsed = parseManifests(text, 'inline.yaml');
  return { routes: parsed.routes, secrets: parsed.secrets };
}

const snapshot = (routes: LambdaRouteObject[], secrets: SecretObject[] = []): Snapshot => ({
  routes,
  secrets: new Map(secrets.map((s) => [objectKey(s.metadata), s])),
  errors: [],
});

const find = (result: ReturnType<typeof compile>, name: string) => ({
  route: result.table.routes.find((r) => r.name === name),
  diagnostic: result.diagnostics.find((d) => d.name === name)!,
});

/** A route without auth and one signing with the Secret `aws`. */
const plainAndSigned = () =>
  parse(
    documents(
      lambdaRoute('plain', `match: {path: /plain}\n${target}`),
      lambdaRoute('signed', `match: {path: /signed}\n${target}\nauth: {iam: {secretRef: {name: aws}}}`),
      secret('aws', { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-one' }),
    ),
  );

it('keeps the compiled route and diagnostic of routes whose object and Secrets are the same', () => {
  const { routes, secrets } = plainAndSigned();
  const first = compile(snapshot(routes, secrets), 1);
  const [added] = parse(lambdaRoute('added', `match: {path: /added}\n${target}`)).routes;
  const second = compile(snapshot([...routes, added!], secrets), 2);
  for (const name of ['plain', 'signed']) {
    expect(find(second, name).route).toBe(find(first, name).route);
    expect(find(second, name).diagnostic).toBe(find(first, name).diagnostic);
  }
  expect(find(second, 'added').route).toMatchObject({ ready: true, match: { path: '/added' } });
  expect(second.table.version).toBe(2);
});

it('makes a route anew when its object or a Secret it reads changed', () => {
  const { routes, secrets } = plainAndSigned();
  const first = compile(snapshot(routes, secrets), 1);
  const rotated = parse(secret('aws', { accessKeyId: 'AKIDROTATED', secretAccessKey: 'secret-two' })).secrets;
  const second = compile(snapshot(routes, rotated), 2);
  expect(find(second, 'plain').route).toBe(find(first, 'plain').route);
  const signed = find(second, 'signed').route;
  expect(signed).not.toBe(find(first, 'signed').route);
  const credentials = signed?.ready ? signed.auth.iam?.credentials : undefined;
  expect(credentials?.kind === 'static' && credentials.accessKeyId.reveal()).toBe('AKIDROTATED');

  // The Secret goes: the route now says so.
  const third = compile(snapshot(routes), 3);
  expect(find(third, 'signed').diagnostic.conditions.find((c) => c.type === 'ResolvedRefs')).toMatchObject({
    status: 'False',
    reason: 'SecretNotFound',
  });
  // An edited route (a new object from its source) is compiled anew; the Secret is back as it
  // was in the second compile, and so is what the signed route was compiled to then.
  const [moved] = parse(lambdaRoute('plain', `match: {path: /moved}\n${target}`)).routes;
  const fourth = compile(snapshot([moved!, routes[1]!], rotated), 4);
  expect(find(fourth, 'plain').route).toMatchObject({ match: { path: '/moved' } });
  expect(find(fourth, 'signed').route).toBe(signed);
});

it('makes a route anew when the route it conflicted with goes, or a Secret appears elsewhere', () => {
  const route = (name: string, created: string, spec = '') =>
    parse(`apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: {name: ${name}, namespace: ns, creationTimestamp: '${created}'}
spec: {match: {path: /same}, ${target}${spec}}
`).routes[0]!;
  const older = route('older', '2025-01-01T00:00:00Z');
  const newer = route('newer', '2025-02-01T00:00:00Z', ', auth: {iam: {secretRef: {name: creds}}}');
  const first = compile(snapshot([newer, older]), 1);
  expect(find(first, 'newer').diagnostic.conditions[0]).toMatchObject({ reason: 'Conflicted' });

  // Served alone now, but its Secret is in another namespace: the message names it.
  const elsewhere = parse(
    secret('creds', { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 's' }, 'other'),
  ).secrets;
  const second = compile(snapshot([newer], elsewhere), 2);
  expect(find(second, 'newer').diagnostic.conditions[1]).toMatchObject({
    reason: 'SecretNotFound',
    message: expect.stringContaining('exists in namespace other'),
  });
  // The Secret is gone from there too: the message changes with it.
  const third = compile(snapshot([newer]), 3);
  expect(find(third, 'newer').diagnostic.conditions[1]!.message).not.toContain('exists in namespace');
});
