// What compile binds for the HTTPS listener, with real certificates: each host
// of an accepted route with a certificateRef, to its Secret read once per
// Secret object; the oldest route wins a host; a Secret that cannot be served
// is InvalidCertificate and stays bound (the listener keeps the last good one);
// the default certificate; Ready is never turned False by a certificate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/api/snapshot.ts';
import { compile } from '../../src/compile/compile.ts';
import type { CompileResult } from '../../src/model/compile-result.ts';
import { parseManifests, snapshotOf } from '../../src/sources/manifests.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { documents, lambdaRoute, tlsSecret } from '../support/manifests.ts';

let ca: TestCa;
let api: KeyPair;
let other: KeyPair;

beforeAll(async () => {
  ca = await TestCa.create();
  [api, other] = await Promise.all([
    ca.issue({ cn: 'api.example.com', dns: ['api.example.com', '*.example.org'] }),
    ca.issue({ cn: 'other.example.com' }),
  ]);
});
afterAll(() => ca?.close());

const target = 'target: {url: "http://upstream.internal"}';
const route = (name: string, hosts: string, secret: string, extra = '') =>
  lambdaRoute(
    name,
    `hosts: ${hosts}\nmatch: {path: /${name}}\n${target}\ncertificateRef: {name: ${secret}}\n${extra}`,
  );

const snapshot = (...docs: string[]): Snapshot =>
  snapshotOf(parseManifests(documents(...docs), 'routes.yaml'));

function conditionOf(result: CompileResult, key: string, type: string) {
  return result.diagnostics.find((d) => d.key === key)!.conditions.find((c) => c.type === type)!;
}

describe('a usable certificate', () => {
  it('binds every host of the route, wildcard hosts included, to the Secret and the route', () => {
    const result = compile(
      snapshot(route('api', '[api.example.com, "*.example.org"]', 'api-tls'), tlsSecret('api-tls', api)),
      1,
    );
    expect([...result.certificates.hosts.keys()]).toEqual(['api.example.com', '*.example.org']);
    const binding = result.certificates.hosts.get('*.example.org')!;
    expect(binding).toMatchObject({ secret: 'default/api-tls', route: 'default/api' });
    expect(binding.certificate.ok && binding.certificate.value.description.subject).toBe(
      'CN=api.example.com',
    );
    expect(conditionOf(result, 'default/api', 'ResolvedRefs')).toMatchObject({ status: 'True' });
    expect(result.certificates.default).toBeUndefined();
  });

  it('reads a Secret object once, however many compiles and hosts use it', () => {
    const input = snapshot(
      route('api', '[api.example.com, www.example.com]', 'api-tls'),
      tlsSecret('api-tls', api),
    );
    const first = compile(input, 1).certificates.hosts;
    const second = compile(input, 2).certificates.hosts;
    expect(second.get('api.example.com')!.certificate).toBe(first.get('api.example.com')!.certificate);
    expect(first.get('www.example.com')!.certificate).toBe(first.get('api.example.com')!.certificate);
  });

  it('serves --default-certificate from any namespace, and says when it cannot be read', () => {
    const input = snapshot(tlsSecret('fallback', other, 'ingress'));
    const bound = compile(input, 1, { defaultCertificate: 'ingress/fallback' }).certificates.default!;
    expect(bound.secret).toBe('ingress/fallback');
    expect(bound.certificate.ok).toBe(true);
    const missing = compile(input, 1, { defaultCertificate: 'ingress/nope' }).certificates.default!;
    expect(missing.certificate.ok || missing.certificate.failures[0].message).toBe(
      'Secret ingress/nope not found',
    );
  });
});

describe('a certificate that cannot be served', () => {
  it('is InvalidCertificate naming the Secret and what is wrong, stays bound, and leaves Ready True', () => {
    const result = compile(
      snapshot(
        route('api', '[api.example.com]', 'api-tls'),
        tlsSecret('api-tls', { cert: api.cert, key: other.key }),
      ),
      1,
    );
    expect(conditionOf(result, 'default/api', 'ResolvedRefs')).toEqual({
      type: 'ResolvedRefs',
      status: 'False',
      reason: 'InvalidCertificate',
      message:
        "spec.certificateRef: Secret default/api-tls: tls.key does not fit the certificate in tls.crt (the server's certificate must come first)",
    });
    expect(conditionOf(result, 'default/api', 'Ready')).toMatchObject({ status: 'True' });
    expect(result.certificates.hosts.get('api.example.com')!.certificate.ok).toBe(false);
    expect(JSON.stringify(result.diagnostics)).not.toContain('PRIVATE KEY');
  });

  it('names a key whose data is not base64 in a standalone file', () => {
    const broken = `apiVersion: v1\nkind: Secret\nmetadata: {name: api-tls, namespace: default}\ntype: kubernetes.io/tls\ndata: {tls.crt: "not base64!", tls.key: eA==}\n`;
    const result = compile(snapshot(route('api', '[api.example.com]', 'api-tls'), broken), 1);
    expect(conditionOf(result, 'default/api', 'ResolvedRefs').message).toBe(
      'spec.certificateRef: Secret default/api-tls: data.tls.crt is not valid base64 (use stringData for plain text)',
    );
  });

  it('leaves a failing auth reference first: its reason is the one Ready gives', () => {
    const result = compile(
      snapshot(
        route('api', '[api.example.com]', 'missing-tls', 'auth: {iam: {secretRef: {name: missing-keys}}}'),
      ),
      1,
    );
    expect(conditionOf(result, 'default/api', 'ResolvedRefs')).toMatchObject({ reason: 'SecretNotFound' });
    expect(conditionOf(result, 'default/api', 'Ready')).toMatchObject({ reason: 'SecretNotFound' });
    expect(result.certificates.hosts.has('api.example.com')).toBe(true);
  });
});

describe('two routes naming certificates for one host', () => {
  it('in standalone files, the route read first wins, and the message says so', () => {
    const result = compile(
      snapshot(
        route('first', '[api.example.com]', 'api-tls'),
        route('second', '[api.example.com, other.example.com]', 'other-tls'),
        tlsSecret('api-tls', api),
        tlsSecret('other-tls', other),
      ),
      1,
    );
    expect(conditionOf(result, 'default/second', 'ResolvedRefs')).toMatchObject({
      status: 'False',
      reason: 'CertificateConflict',
      message:
        'spec.certificateRef: host api.example.com is served the certificate of Secret default/api-tls by the route default/first (loaded first)',
    });
    expect(conditionOf(result, 'default/second', 'Ready')).toMatchObject({ status: 'True' });
    // The host nobody else claims is still served the second route's certificate.
    expect(result.certificates.hosts.get('api.example.com')).toMatchObject({ route: 'default/first' });
    expect(result.certificates.hosts.get('other.example.com')).toMatchObject({ route: 'default/second' });
  });

  it('binds nothing for a route that is not accepted', () => {
    const result = compile(
      snapshot(
        route('first', '[api.example.com]', 'api-tls'),
        // Same host and path as `first`: Conflicted, so its certificate is not looked at.
        lambdaRoute(
          'shadowed',
          `hosts: [api.example.com, shadow.example.com]\nmatch: {path: /first}\n${target}\ncertificateRef: {name: other-tls}`,
        ),
        tlsSecret('api-tls', api),
        tlsSecret('other-tls', other),
      ),
      1,
    );
    expect(conditionOf(result, 'default/shadowed', 'Accepted')).toMatchObject({ reason: 'Conflicted' });
    expect([...result.certificates.hosts.keys()]).toEqual(['api.example.com']);
  });
});
