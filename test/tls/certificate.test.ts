// Reading kubernetes.io/tls Secrets: a usable certificate or a failure that
// names what is wrong, and never a byte of the private key in messages,
// descriptions, JSON or util.inspect.
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Failure } from '../../src/api/failure.ts';
import {
  type CertificateProblem,
  namesHost,
  readCertificate,
  TlsCertificate,
  validityProblem,
} from '../../src/tls/certificate.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { tlsData } from '../support/tls-client.ts';

let ca: TestCa;
let chained: KeyPair;
let other: KeyPair;
let wildcard: KeyPair;

beforeAll(async () => {
  ca = await TestCa.create();
  [chained, other, wildcard] = await Promise.all([
    ca.issue({ cn: 'api.example.com', dns: ['api.example.com', 'www.example.com'], viaIntermediate: true }),
    ca.issue({ cn: 'other.example.com' }),
    ca.issue({ cn: '*.example.com' }),
  ]);
});
afterAll(() => ca?.close());

/** The base64 lines of every PEM block in `pem`: none of them may ever be printed. */
const pemBodies = (pem: string): string[] =>
  [...pem.matchAll(/-----BEGIN [A-Z ]+-----\r?\n([\s\S]*?)-----END/g)].flatMap((m) =>
    m[1]!.split('\n').filter((line) => line.length > 20 && !line.includes(':')),
  );

function expectNoKeyMaterial(text: string, key: string): void {
  expect(text).not.toContain('PRIVATE KEY');
  for (const line of pemBodies(key)) expect(text).not.toContain(line);
}

const read = (data: Record<string, Buffer | string> | undefined) =>
  readCertificate(
    'default/api-tls',
    data && Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])),
  );

/** The certificate `data` reads as; the test fails when it does not read. */
function certificate(data: Record<string, Buffer | string>): TlsCertificate {
  const result = read(data);
  if (!result.ok) expect.fail(result.failures[0].message);
  expect(result.value).toBeInstanceOf(TlsCertificate);
  return result.value;
}

function failure(data: Record<string, Buffer | string> | undefined): Failure<CertificateProblem> {
  const result = read(data);
  if (result.ok) expect.fail('read as a certificate');
  expect(result.failures).toHaveLength(1);
  return result.failures[0];
}

describe('a usable certificate', () => {
  it('is described by subject, SANs, issuer, validity, fingerprint and chain length', () => {
    const { description } = certificate(tlsData(chained));
    const der = Buffer.from(leafBase64(chained.cert), 'base64');
    const fingerprint = createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
    expect(description).toEqual({
      secret: 'default/api-tls',
      subject: 'CN=api.example.com',
      issuer: 'CN=lambda-ingress test intermediate',
      subjectAltNames: ['DNS:api.example.com', 'DNS:www.example.com'],
      notBefore: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      notAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      fingerprint,
      chainLength: 2,
    });
  });

  it('serializes and inspects as its description only', () => {
    const served = certificate(tlsData(chained));
    for (const text of [JSON.stringify(served), inspect(served, { depth: 10 }), `${inspect({ served })}`]) {
      expectNoKeyMaterial(text, chained.key);
      expect(text).toContain(served.description.fingerprint);
    }
  });

  it('names a version of the content: the same bytes give the same digest, new bytes another', () => {
    const a = certificate(tlsData(chained));
    const b = certificate(tlsData(chained));
    const c = certificate(tlsData(other));
    expect(a.digest).toBe(b.digest);
    expect(a.digest).not.toBe(c.digest);
  });

  it('accepts a traditional EC key, CRLF line ends and text around the blocks', async () => {
    const key = await ca.traditional(chained.key);
    expect(key).toContain('-----BEGIN EC PRIVATE KEY-----');
    const cert = `Bag Attributes\n    friendlyName: api\n${chained.cert}`.replaceAll('\n', '\r\n');
    expect(certificate({ 'tls.crt': cert, 'tls.key': key }).description.subject).toBe('CN=api.example.com');
  });
});

describe('a certificate that cannot be served', () => {
  it('is SecretNotFound when the Secret does not exist', () => {
    expect(failure(undefined)).toEqual({
      reason: 'SecretNotFound',
      message: 'Secret default/api-tls not found',
    });
  });

  it('is KeyNotFound without tls.crt or tls.key, or with an empty one', () => {
    expect(failure({ 'tls.key': chained.key })).toEqual({
      reason: 'KeyNotFound',
      message: 'Secret default/api-tls: has no tls.crt',
    });
    expect(failure({ 'tls.crt': chained.cert }).message).toBe('Secret default/api-tls: has no tls.key');
    expect(failure({ 'tls.crt': chained.cert, 'tls.key': '' }).reason).toBe('KeyNotFound');
  });

  it('is NotPem when tls.crt or tls.key is not PEM', () => {
    const der = Buffer.from(leafBase64(chained.cert), 'base64');
    expect(failure({ 'tls.crt': der, 'tls.key': chained.key })).toMatchObject({
      reason: 'NotPem',
      message: expect.stringContaining('tls.crt is not PEM'),
    });
    expect(failure({ 'tls.crt': chained.cert, 'tls.key': 'not a key' })).toMatchObject({
      reason: 'NotPem',
      message: 'Secret default/api-tls: tls.key is not a PEM private key',
    });
    expect(failure({ 'tls.crt': chained.cert, 'tls.key': chained.cert }).message).toContain(
      'tls.key holds a certificate, not a private key',
    );
  });

  it('is BadCertificate when tls.crt holds a key or a block that does not parse, without quoting it', () => {
    const swapped = failure({ 'tls.crt': chained.key, 'tls.key': chained.key });
    expect(swapped).toMatchObject({
      reason: 'BadCertificate',
      message: expect.stringContaining('holds a private key'),
    });
    expectNoKeyMaterial(swapped.message, chained.key);
    const broken = chained.cert.replace(/^(-----BEGIN CERTIFICATE-----\n)MII/, '$1AAA');
    expect(failure({ 'tls.crt': broken, 'tls.key': chained.key }).message).toBe(
      'Secret default/api-tls: certificate 1 of tls.crt cannot be parsed as an X.509 certificate',
    );
  });

  it('is BadKey when tls.key does not parse, or holds two keys, without quoting it', () => {
    const broken = chained.key.replace(/^(-----BEGIN PRIVATE KEY-----\n)MI/, '$1AA');
    const result = failure({ 'tls.crt': chained.cert, 'tls.key': broken });
    expect(result).toEqual({
      reason: 'BadKey',
      message: 'Secret default/api-tls: tls.key cannot be parsed as a private key',
    });
    expect(failure({ 'tls.crt': chained.cert, 'tls.key': chained.key + other.key }).message).toContain(
      'tls.key holds 2 private keys; it must hold one',
    );
  });

  it('is KeyMismatch when the key does not fit the certificate, or the chain is out of order', () => {
    const mismatch = failure({ 'tls.crt': chained.cert, 'tls.key': other.key });
    expect(mismatch.reason).toBe('KeyMismatch');
    expect(mismatch.message).toBe(
      "Secret default/api-tls: tls.key does not fit the certificate in tls.crt (the server's certificate must come first)",
    );
    expectNoKeyMaterial(mismatch.message, other.key);
    const [leaf, intermediate] = chained.cert.split(/(?<=-----END CERTIFICATE-----\n)/);
    expect(failure({ 'tls.crt': intermediate! + leaf!, 'tls.key': chained.key }).reason).toBe('KeyMismatch');
  });

  it('is EncryptedKey for a PKCS#8 encrypted key and a traditional one with a passphrase', async () => {
    for (const form of ['pkcs8', 'traditional'] as const) {
      const key = await ca.encrypt(chained.key, form);
      const result = failure({ 'tls.crt': chained.cert, 'tls.key': key });
      expect(result.reason, form).toBe('EncryptedKey');
      expect(result.message).toContain('tls.key is encrypted; store it without a passphrase');
      expectNoKeyMaterial(result.message, key);
    }
  });
});

describe('validity and names', () => {
  it('flags a certificate outside its validity period, without refusing it', () => {
    const { description } = certificate(tlsData(chained));
    const notBefore = Date.parse(description.notBefore);
    const notAfter = Date.parse(description.notAfter);
    expect(validityProblem(description, notBefore + 1000)).toBeUndefined();
    expect(validityProblem(description, notAfter + 1000)).toBe(`expired at ${description.notAfter}`);
    expect(validityProblem(description, notBefore - 1000)).toBe(`not valid before ${description.notBefore}`);
  });

  it('says whether a certificate names a host as clients check it', () => {
    const exact = certificate(tlsData(chained));
    const wild = certificate(tlsData(wildcard));
    expect(namesHost(exact, 'www.example.com')).toBe(true);
    expect(namesHost(exact, 'x.example.com')).toBe(false);
    expect(namesHost(exact, '*.example.com')).toBe(false);
    expect(namesHost(wild, 'x.example.com')).toBe(true);
    expect(namesHost(wild, 'x.y.example.com')).toBe(false);
    expect(namesHost(wild, '*.example.com')).toBe(true);
  });
});

/** The base64 of the first certificate of a PEM chain. */
function leafBase64(pem: string): string {
  return pem.split('-----')[2]!.replaceAll('\n', '');
}
