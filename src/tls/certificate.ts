// Reading the certificate of a `kubernetes.io/tls` Secret: `tls.crt` (PEM, the
// server's certificate first, then any intermediates) and `tls.key` (one PEM
// private key, unencrypted). Pure: bytes in, a usable certificate or a typed
// failure out. Messages never quote either key's content, only what is wrong
// with it; the private key stays Sensitive.
//
// Validity dates are not a reason to refuse: an expired (or not yet valid)
// certificate is served, as ingress-nginx does, and flagged by
// validityProblem(). Refusing would not give clients a valid certificate, only
// the default one or a refused handshake, and the expiry gauge is where such
// certificates are caught before they expire.
import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import { type Failure, fail, type Result, succeed } from '../api/failure.ts';
import { Sensitive } from '../api/sensitive.ts';
import { type SecretObject, TLS_SECRET_KEYS } from '../api/types.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
export const CERTIFICATE_KEY = TLS_SECRET_KEYS.certificate;
export const PRIVATE_KEY_KEY = TLS_SECRET_KEYS.privateKey;

/** What a certificate is, safe for /debug/routes, logs and status: never the key. */
export interface CertificateDescription {
  /** The Secret it was read from, "namespace/name". */
  secret: string;
  subject: string;
  issuer: string;
  /** subjectAltName entries as OpenSSL prints them ("DNS:api.example.com", "IP Address:10.0.0.1"). */
  subjectAltNames: string[];
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the server certificate (DER), colon-separated hex. */
  fingerprint: string;
  /** Certificates in tls.crt: the server's plus its intermediates. */
  chainLength: number;
}

/** A certificate and key that fit together, ready to build a TLS context from. */
export class TlsCertificate {
  /** SHA-256 of tls.crt and tls.key as stored: names this version of the Secret's content. */
  readonly digest: string;
  readonly description: CertificateDescription;
  /** The server certificate, for host checks. */
  readonly leaf: X509Certificate;
  /** The certificates of tls.crt as PEM, server certificate first. */
  readonly chain: string;
  readonly key: Sensitive;

  constructor(fields: Pick<TlsCertificate, 'digest' | 'description' | 'leaf' | 'chain' | 'key'>) {
    this.digest = fields.digest;
    this.description = fields.description;
    this.leaf = fields.leaf;
    this.chain = fields.chain;
    this.key = fields.key;
  }

  get notAfter(): Date {
    return this.leaf.validToDate;
  }

  toJSON(): CertificateDescription {
    return this.description;
  }

  [inspect.custom](): CertificateDescription {
    return this.description;
  }
}

export type CertificateProblem =
  | 'SecretNotFound'
  | 'NotTlsSecret'
  | 'KeyNotFound'
  | 'Undecodable'
  | 'NotPem'
  | 'BadCertificate'
  | 'BadKey'
  | 'EncryptedKey'
  | 'KeyMismatch';

/** A certificate, or what is wrong with it: the message names the Secret and key, never quotes their content. */
export type CertificateRead = Result<TlsCertificate, CertificateProblem>;

/** A PEM block: `-----BEGIN LABEL-----`, headers and base64, `-----END LABEL-----`. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const KEY_LABEL = /PRIVATE KEY$/;

interface PemBlock {
  label: string;
  /** The whole block, BEGIN to END line. */
  text: string;
  /** Headers and base64 between the BEGIN and END lines. */
  body: string;
}

function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, text: `${m[0]}\n`, body: m[2]! }));
}

/**
 * Reads a Secret's `tls.crt` and `tls.key`. `secret` is "namespace/name", for
 * messages; `data` is undefined when the Secret does not exist.
 */
export function readCertificate(
  secret: string,
  data: Readonly<Record<string, Buffer>> | undefined,
): CertificateRead {
  const refuse = (problem: CertificateProblem, what: string) => fail(problem, `Secret ${secret}: ${what}`);
  if (!data) return fail('SecretNotFound', `Secret ${secret} not found`);
  const crt = data[CERTIFICATE_KEY];
  const keyBytes = data[PRIVATE_KEY_KEY];
  if (!crt || crt.length === 0) return refuse('KeyNotFound', `has no ${CERTIFICATE_KEY}`);
  if (!keyBytes || keyBytes.length === 0) return refuse('KeyNotFound', `has no ${PRIVATE_KEY_KEY}`);

  const chain = readChain(crt.toString('latin1'));
  if (typeof chain === 'string') return refuse(chain === NOT_PEM ? 'NotPem' : 'BadCertificate', chain);
  const key = readKey(keyBytes.toString('latin1'));
  if ('reason' in key) return refuse(key.reason, key.message);
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key.object)) {
    return refuse(
      'KeyMismatch',
      `${PRIVATE_KEY_KEY} does not fit the certificate in ${CERTIFICATE_KEY} (the server's certificate must come first)`,
    );
  }
  const certificate = new TlsCertificate({
    digest: createHash('sha256').update(crt).update('\0').update(keyBytes).digest('hex'),
    description: {
      secret,
      subject: leaf.subject.replaceAll('\n', ', '),
      issuer: leaf.issuer.replaceAll('\n', ', '),
      subjectAltNames: leaf.subjectAltName ? leaf.subjectAltName.split(', ') : [],
      notBefore: leaf.validFromDate.toISOString(),
      notAfter: leaf.validToDate.toISOString(),
      fingerprint: leaf.fingerprint256,
      chainLength: chain.length,
    },
    leaf,
    chain: chain.map((c) => c.toString()).join(''),
    key: new Sensitive(key.pem),
  });
  return succeed(certificate);
}

/**
 * Reads Secret `key` ("namespace/name") as a certificate: a `kubernetes.io/tls`
 * Secret, whose tls.crt and tls.key could be decoded (standalone files may hold
 * data that is not base64), then readCertificate.
 */
export function readTlsSecret(key: string, secret: SecretObject | undefined): CertificateRead {
  if (secret && (secret.type ?? 'Opaque') !== TLS_SECRET_TYPE) {
    return fail(
      'NotTlsSecret',
      `Secret ${key} is of type ${secret.type ?? 'Opaque'}, not ${TLS_SECRET_TYPE} (kubectl create secret tls makes one)`,
    );
  }
  for (const name of [CERTIFICATE_KEY, PRIVATE_KEY_KEY]) {
    const why = secret?.invalidKeys?.[name];
    if (why !== undefined) return fail('Undecodable', `Secret ${key}: ${why}`);
  }
  return readCertificate(key, secret?.data);
}

const NOT_PEM = `${CERTIFICATE_KEY} is not PEM (expected -----BEGIN CERTIFICATE----- blocks)`;

/** The certificates of tls.crt, or what is wrong with it. */
function readChain(text: string): X509Certificate[] | string {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) return NOT_PEM;
  const chain: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    const which = blocks.length === 1 ? CERTIFICATE_KEY : `certificate ${i + 1} of ${CERTIFICATE_KEY}`;
    if (KEY_LABEL.test(block.label))
      return `${CERTIFICATE_KEY} holds a private key; it must hold only certificates`;
    if (block.label !== 'CERTIFICATE')
      return `${CERTIFICATE_KEY} holds a ${block.label} block; it must hold only CERTIFICATE blocks`;
    try {
      chain.push(new X509Certificate(block.text));
    } catch {
      return `${which} cannot be parsed as an X.509 certificate`;
    }
  }
  return chain;
}

/** The one private key of tls.key, or what is wrong with it. */
function readKey(text: string): { pem: string; object: KeyObject } | Failure<CertificateProblem> {
  const keys = pemBlocks(text).filter((b) => KEY_LABEL.test(b.label));
  if (keys.length === 0) {
    return {
      reason: 'NotPem',
      message: /-----BEGIN CERTIFICATE-----/.test(text)
        ? `${PRIVATE_KEY_KEY} holds a certificate, not a private key`
        : `${PRIVATE_KEY_KEY} is not a PEM private key`,
    };
  }
  if (keys.length > 1) {
    return {
      reason: 'BadKey',
      message: `${PRIVATE_KEY_KEY} holds ${keys.length} private keys; it must hold one`,
    };
  }
  const block = keys[0]!;
  // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional key with a "Proc-Type: 4,ENCRYPTED" header.
  if (block.label.startsWith('ENCRYPTED') || /^Proc-Type:.*ENCRYPTED/m.test(block.body)) {
    return {
      reason: 'EncryptedKey',
      message: `${PRIVATE_KEY_KEY} is encrypted; store it without a passphrase (openssl pkey -in key.pem -out tls.key)`,
    };
  }
  try {
    return { pem: block.text, object: createPrivateKey(block.text) };
  } catch {
    // node:crypto's message is not quoted: it is OpenSSL's, and says nothing a user can act on.
    return { reason: 'BadKey', message: `${PRIVATE_KEY_KEY} cannot be parsed as a private key` };
  }
}

/** Why a certificate is outside its validity period at `now`, if it is. */
export function validityProblem(description: CertificateDescription, now: number): string | undefined {
  if (now > Date.parse(description.notAfter)) return `expired at ${description.notAfter}`;
  if (now < Date.parse(description.notBefore)) return `not valid before ${description.notBefore}`;
  return undefined;
}

/**
 * Whether the certificate names `host`, as TLS clients check it: an exact
 * host against its names and one-label wildcards, a wildcard host
 * ("*.example.com") only against that same wildcard name.
 */
export function namesHost(certificate: TlsCertificate, host: string): boolean {
  if (!host.startsWith('*.')) return certificate.leaf.checkHost(host) !== undefined;
  const name = `dns:${host}`;
  return certificate.description.subjectAltNames.some((san) => san.toLowerCase() === name);
}
