// Certificate selection over real TLS handshakes: exact host, then the longest
// wildcard (any depth, never the bare domain), then the default; no match and
// no default refuses the handshake; TLS 1.2 is the minimum.

import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpsServer, isTls } from '../../src/tls/listener.ts';
import { type CertificateSet, CertificateStore } from '../../src/tls/store.ts';
import { type KeyPair, TestCa } from '../support/certificates.ts';
import { binding, handshake } from '../support/tls-client.ts';

let ca: TestCa;
let pairs: Record<'exact' | 'wildcard' | 'deeper' | 'fallback', KeyPair>;
let store: CertificateStore;
let server: Server;
let port: number;

const REFUSED = /handshake failure|alert number 40/i;

function set(withDefault: boolean): CertificateSet {
  return {
    hosts: new Map([
      ['api.example.com', binding('default/api', pairs.exact)],
      ['*.example.com', binding('default/wildcard', pairs.wildcard)],
      ['*.b.example.com', binding('default/deeper', pairs.deeper)],
    ]),
    ...(withDefault && { default: binding('ingress/fallback', pairs.fallback) }),
  };
}

beforeAll(async () => {
  ca = await TestCa.create();
  const [exact, wildcard, deeper, fallback] = await Promise.all([
    ca.issue({ cn: 'api.example.com', viaIntermediate: true }),
    ca.issue({ cn: '*.example.com' }),
    ca.issue({ cn: '*.b.example.com' }),
    ca.issue({ cn: 'fallback.test' }),
  ]);
  pairs = { exact: exact!, wildcard: wildcard!, deeper: deeper!, fallback: fallback! };
  store = new CertificateStore();
  server = createHttpsServer(store, (req, res) => res.end(isTls(req) ? 'over tls' : 'plain'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await ca?.close();
});

describe('with a default certificate', () => {
  beforeAll(() => store.update(set(true)));

  it.each([
    ['api.example.com', 'api.example.com'],
    ['API.Example.COM.', 'api.example.com'],
    ['x.example.com', '*.example.com'],
    ['x.y.example.com', '*.example.com'],
    ['x.b.example.com', '*.b.example.com'],
    ['x.y.b.example.com', '*.b.example.com'],
    ['example.com', 'fallback.test'],
    ['badexample.com', 'fallback.test'],
    ['b.example.com.evil.test', 'fallback.test'],
    ['other.test', 'fallback.test'],
  ])('SNI %s gets %s', async (servername, cn) => {
    expect((await handshake(port, servername)).cn).toBe(cn);
  });

  it('gives a client that sends no SNI (one that connects by IP address) the default', async () => {
    expect((await handshake(port, undefined)).cn).toBe('fallback.test');
  });

  it('serves the chain, so that a client trusting only the root verifies it', async () => {
    const verified = await handshake(port, 'api.example.com', { rejectUnauthorized: true, ca: ca.cert });
    expect(verified.cn).toBe('api.example.com');
  });
});

describe('without a default certificate', () => {
  beforeAll(() => store.update(set(false)));

  it('refuses the handshake for a name nothing matches, and for no SNI', async () => {
    await expect(handshake(port, 'other.test')).rejects.toThrow(REFUSED);
    await expect(handshake(port, 'example.com')).rejects.toThrow(REFUSED);
    await expect(handshake(port, undefined)).rejects.toThrow(REFUSED);
  });

  it('still serves the names that match', async () => {
    expect((await handshake(port, 'api.example.com')).cn).toBe('api.example.com');
    expect((await handshake(port, 'x.example.com')).cn).toBe('*.example.com');
  });
});

describe('protocol versions', () => {
  beforeAll(() => store.update(set(true)));

  it('accepts TLS 1.2 and 1.3', async () => {
    expect((await handshake(port, 'api.example.com', { maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    expect((await handshake(port, 'api.example.com')).protocol).toBe('TLSv1.3');
  });

  it('refuses TLS 1.1 and 1.0 from a client willing to speak them', async () => {
    for (const version of ['TLSv1.1', 'TLSv1'] as const) {
      const options = { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' };
      await expect(handshake(port, 'api.example.com', options), version).rejects.toThrow(/protocol version/);
    }
  });
});

it('answers HTTP over the handshake it chose, and the request knows it came over TLS', async () => {
  store.update(set(true));
  const body = await new Promise<string>((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername: 'x.example.com', rejectUnauthorized: false },
      () => socket.end('GET / HTTP/1.1\r\nHost: x.example.com\r\nConnection: close\r\n\r\n'),
    );
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  expect(body).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nover tls$/);
});
