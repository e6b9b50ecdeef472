// TLS test clients: one handshake that reports the certificate it was given,
// and the Secret data and store bindings the certificates go in.
import { type ConnectionOptions, connect } from 'node:tls';
import { readCertificate, type TlsCertificate } from '../../src/tls/certificate.ts';
import type { CertificateBinding } from '../../src/tls/store.ts';
import type { KeyPair } from './certificates.ts';

export interface Handshake {
  /** The server certificate's subject CN. */
  cn: string;
  fingerprint: string;
  protocol: string | null;
}

/** Connects to 127.0.0.1:`port` with `servername` (none when undefined) and closes at once. */
export function handshake(
  port: number,
  servername: string | undefined,
  options: ConnectionOptions = {},
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername && { servername }), ...options },
      () => {
        const peer = socket.getPeerCertificate();
        resolve({
          cn: String(peer.subject?.CN),
          fingerprint: peer.fingerprint256,
          protocol: socket.getProtocol(),
        });
        socket.end();
      },
    );
    socket.on('error', reject);
  });
}

/** A Secret's data as the sources hand it over. */
export const tlsData = (pair: KeyPair): Record<string, Buffer> => ({
  'tls.crt': Buffer.from(pair.cert),
  'tls.key': Buffer.from(pair.key),
});

/** A store binding for `pair` read as Secret `secret` ("namespace/name"); undefined reads a missing Secret. */
export const binding = (secret: string, pair: KeyPair | undefined, route?: string): CertificateBinding => ({
  secret,
  ...(route && { route }),
  certificate: readCertificate(secret, pair && tlsData(pair)),
});

/** `pair` read as Secret `secret`; throws when it does not read. */
export function certificateOf(pair: KeyPair, secret = 'default/test-tls'): TlsCertificate {
  const read = readCertificate(secret, tlsData(pair));
  if (!read.ok) throw new Error(read.failures[0].message);
  return read.value;
}
