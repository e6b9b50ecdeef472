// The cluster source's conversion of apiserver JSON: metadata, Secret bytes, Secret references.
import { describe, expect, it } from 'vitest';
import { secretRefs, toRoute, toSecret } from '../../src/sources/kubernetes-convert.ts';

const meta = {
  name: 'r',
  namespace: 'ns',
  uid: '0b7f1c1e-8f7a-4c39-9d42-0d7c1f1b2a3c',
  generation: 4,
  resourceVersion: '812',
  creationTimestamp: '2025-03-04T05:06:07Z',
  labels: { a: 'b' },
  managedFields: [{ manager: 'kubectl' }],
};

describe('conversion', () => {
  it('keeps the metadata the compiler uses and names the origin', () => {
    const route = toRoute({
      apiVersion: 'lambda-ingress.io/v1alpha1',
      kind: 'LambdaRoute',
      metadata: meta,
      spec: { x: 1 },
      status: {},
    });
    expect(route).toEqual({
      apiVersion: 'lambda-ingress.io/v1alpha1',
      kind: 'LambdaRoute',
      metadata: {
        name: 'r',
        namespace: 'ns',
        uid: meta.uid,
        generation: 4,
        resourceVersion: '812',
        creationTimestamp: '2025-03-04T05:06:07Z',
      },
      spec: { x: 1 },
      origin: 'LambdaRoute ns/r',
    });
  });

  it('decodes Secret data from base64 to bytes', () => {
    const secret = toSecret({
      metadata: { ...meta, name: 's' },
      data: {
        apiKey: Buffer.from('k-1\n').toString('base64'),
        bin: Buffer.from([0, 255]).toString('base64'),
      },
      type: 'Opaque',
    });
    expect(secret.origin).toBe('Secret ns/s');
    expect(secret.type).toBe('Opaque');
    expect(secret.data['apiKey']!.toString()).toBe('k-1\n');
    expect([...secret.data['bin']!]).toEqual([0, 255]);
    expect(toSecret({ metadata: { name: 'e', namespace: 'ns' } }).data).toEqual({});
  });

  it('keeps the values in a buffer of their own, not a slice of the shared pool', () => {
    const secret = toSecret({
      metadata: { ...meta, name: 's' },
      data: { a: Buffer.from('alpha').toString('base64'), b: Buffer.from('beta').toString('base64') },
    });
    const { a, b } = secret.data;
    expect([a!.toString(), b!.toString()]).toEqual(['alpha', 'beta']);
    // One ArrayBuffer for the Secret, just big enough for its values (a pooled slice sits in an 8 KB one).
    expect(a!.buffer).toBe(b!.buffer);
    expect(a!.buffer.byteLength).toBe(9);
    // Whitespace or padding the size estimate counted does not end up in the value.
    const padded = toSecret({ metadata: { ...meta, name: 'p' }, data: { k: 'YQ==\n' } });
    expect(padded.data['k']!.toString()).toBe('a');
  });

  it('keeps only the data keys asked for', () => {
    const raw = { metadata: { ...meta, name: 's' }, data: { apiKey: 'YQ==', other: 'Yg==' } };
    expect(Object.keys(toSecret(raw, (key) => key === 'apiKey').data)).toEqual(['apiKey']);
  });
});

describe('secretRefs', () => {
  const IAM_KEYS = ['accessKeyId', 'secretAccessKey', 'sessionToken'];
  const route = (auth: unknown) => toRoute({ metadata: { name: 'r', namespace: 'ns' }, spec: { auth } });
  it('collects references in the route namespace only', () => {
    expect(
      secretRefs(
        route({ apiKey: { secretRef: { name: 'k', key: 'apiKey' } }, iam: { secretRef: { name: 'aws' } } }),
      ),
    ).toEqual([
      { secret: 'ns/k', dataKeys: ['apiKey'] },
      { secret: 'ns/aws', dataKeys: IAM_KEYS },
    ]);
    expect(
      secretRefs(
        route({
          apiKey: { secretRef: { name: 'k', namespace: 'ns', key: 'a' } },
          iam: { secretRef: { name: 'k' } },
        }),
      ),
    ).toEqual([{ secret: 'ns/k', dataKeys: ['a', ...IAM_KEYS] }]);
    expect(secretRefs(route({ apiKey: { secretRef: { name: 'k', namespace: 'other', key: 'a' } } }))).toEqual(
      [],
    );
    expect(secretRefs(route({ iam: { region: 'us-east-1' } }))).toEqual([]);
    const withCertificate = toRoute({
      metadata: { name: 'r', namespace: 'ns' },
      spec: { auth: { iam: { secretRef: { name: 'aws' } } }, certificateRef: { name: 'api-tls' } },
    });
    expect(secretRefs(withCertificate)).toEqual([
      { secret: 'ns/aws', dataKeys: IAM_KEYS },
      { secret: 'ns/api-tls', dataKeys: ['tls.crt', 'tls.key'] },
    ]);
    // An apiKey reference without a key (refused by compile) still names its Secret.
    expect(secretRefs(route({ apiKey: { secretRef: { name: 'k' } } }))).toEqual([
      { secret: 'ns/k', dataKeys: [] },
    ]);
    expect(secretRefs(route(undefined))).toEqual([]);
    expect(secretRefs(toRoute({ metadata: { name: 'r', namespace: 'ns' }, spec: null }))).toEqual([]);
  });
});
