// --redirect-http: plain HTTP for a host with a certificate of its own gets a
// 308 to the same URL over https; other hosts are served as they are.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTarget } from '../../src/dataplane/request-target.ts';
import { httpsRedirect, sendHttpsRedirect } from '../../src/tls/redirect.ts';
import { CertificateStore } from '../../src/tls/store.ts';
import { TestCa } from '../support/certificates.ts';
import { send } from '../support/http.ts';
import { binding } from '../support/tls-client.ts';

let ca: TestCa;
let store: CertificateStore;
let server: Server;
let url: string;

beforeAll(async () => {
  ca = await TestCa.create();
  const [api, wildcard, fallback, broken] = await Promise.all([
    ca.issue({ cn: 'api.example.com' }),
    ca.issue({ cn: '*.example.org' }),
    ca.issue({ cn: 'fallback.test' }),
    ca.issue({ cn: 'broken.example.com' }),
  ]);
  store = new CertificateStore();
  store.update({
    hosts: new Map([
      ['api.example.com', binding('default/api', api)],
      ['*.example.org', binding('default/org', wildcard)],
      ['broken.example.com', binding('default/broken', { cert: broken!.cert, key: api!.key })],
    ]),
    default: binding('ingress/fallback', fallback),
  });
  // A plain HTTP listener as the data plane would wire it: redirect before routing.
  server = createServer((req, res) => {
    const location = httpsRedirect(readTarget(req), store, 9443);
    if (location) sendHttpsRedirect(res, location, 'req-1');
    else res.end('served over http');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await ca?.close();
});

const get = (host: string, path: string, method = 'GET') =>
  send(url, { method, path, headers: [['Host', host]] });

describe('a host with its own certificate', () => {
  it('is sent to https on the standard port when the client named none, path and query kept', async () => {
    const response = await get('api.example.com', '/a%20b/c?x=1&x=2');
    expect(response.status).toBe(308);
    expect(response.headers.location).toBe('https://api.example.com/a%20b/c?x=1&x=2');
    expect(response.headers['x-request-id']).toBe('req-1');
    expect(response.body.length).toBe(0);
  });

  it('is sent to the TLS port when the client named a port (it talks to the listener directly)', async () => {
    expect((await get('API.example.com:9080', '/x')).headers.location).toBe('https://api.example.com:9443/x');
    expect((await get('a.b.example.org:80', '/')).headers.location).toBe('https://a.b.example.org/');
  });

  it('keeps the method: a POST is redirected with 308, not turned into a GET', async () => {
    const response = await send(url, {
      method: 'POST',
      path: '/submit',
      headers: [['Host', 'api.example.com']],
      body: 'x=1',
    });
    expect(response.status).toBe(308);
  });

  it('names no port when the TLS port is 443', () => {
    const target = { host: 'api.example.com', port: '8080', path: '/x', query: '' };
    expect(httpsRedirect(target, store, 443)).toBe('https://api.example.com/x');
  });

  it('is sent to the absolute-form URL’s origin-form path', async () => {
    const response = await send(url, {
      path: 'http://api.example.com/abs?q=1',
      headers: [['Host', 'api.example.com']],
    });
    expect(response.headers.location).toBe('https://api.example.com/abs?q=1');
  });
});

describe('served as it is', () => {
  it.each([
    ['a host served only by the default certificate', 'other.test', '/'],
    ['a host whose certificate cannot be served', 'broken.example.com', '/'],
    ['the bare domain of a wildcard', 'example.org', '/'],
    ['OPTIONS *', 'api.example.com', '*'],
  ])('%s', async (_case, host, path) => {
    const response = await get(host, path, path === '*' ? 'OPTIONS' : 'GET');
    expect(response.status).toBe(200);
    expect(response.text).toBe('served over http');
  });
});
