// The HTTPS listener: a node:https server whose certificate is chosen by SNI
// from a CertificateStore on every handshake, so that a store update changes
// what the next handshake gets with no restart; connections already open keep
// the certificate they were made with.
import type { IncomingMessage, RequestListener, ServerOptions, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { type CertificateStore, MIN_TLS_VERSION } from './store.ts';

/**
 * An HTTPS server serving `store`'s certificates. `options` are the node:http
 * server options the plain listener uses (requireHostHeader, timeouts, …).
 * The caller listens, closes, and handles `tlsClientError` (a refused
 * handshake: no certificate for the name, TLS below 1.2).
 */
export function createHttpsServer(
  store: CertificateStore,
  handler?: RequestListener<typeof IncomingMessage, typeof ServerResponse>,
  options: ServerOptions = {},
): Server {
  const server = createServer({
    ...options,
    minVersion: MIN_TLS_VERSION,
    // With no match and no default, the handshake fails for want of a certificate (alert 40).
    SNICallback: (servername, done) => done(null, store.select(servername)),
  });
  if (handler) server.on('request', handler);
  // A client that sends no SNI (one that connects by IP address) gets the server's own context:
  // keep it on the default certificate.
  const useDefault = () => {
    const certificate = store.defaultCertificate;
    // node:tls keeps the options it is given as properties of the server; the key is handed over in a
    // copy that is wiped once the context is built, so the server object never holds it.
    const key = certificate && Buffer.from(certificate.key.reveal());
    server.setSecureContext({
      minVersion: MIN_TLS_VERSION,
      ...(certificate && { cert: certificate.chain, key }),
    });
    key?.fill(0);
  };
  useDefault();
  const unsubscribe = store.onDefaultChange(useDefault);
  server.on('close', unsubscribe);
  return server;
}

/** Whether a request came over TLS: its scheme for X-Forwarded-Proto and the events is then https. */
export function isTls(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}
