// The Host header over a raw socket: what lambda-ingress routes by must be one
// valid host[:port] (RFC 9112 §3.2, RFC 3986 §3.2.2); anything else is our
// JSON 400 and reaches no upstream, and a wildcard host never matches a name
// with an empty label.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoUpstream, startEchoUpstream } from '../support/echo-upstream.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { sendRaw } from '../support/http.ts';
import { documents, lambdaRoute } from '../support/manifests.ts';

let upstream: EchoUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startEchoUpstream();
  const url = upstream.url;
  const route = (name: string, hosts: string) =>
    lambdaRoute(name, `${hosts}\nmatch: {path: /, pathType: Prefix}\ntarget: {url: "${url}/${name}"}`);
  gw = await startTestGateway({
    'routes.yaml': documents(
      route('wild', 'hosts: ["*.wild.example.com"]'),
      route('exact', 'hosts: [api.example.com]'),
      route('any', ''),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

const get = (headers: string, version = '1.1') => sendRaw(gw.url, `GET /x HTTP/${version}\r\n${headers}\r\n`);

describe('Host syntax', () => {
  it.each([
    '.wild.example.com',
    'a..wild.example.com',
    'a.wild.example.com..',
    '.',
    'a b.wild.example.com',
    'caf\xc3\xa9.wild.example.com',
    'a%2ewild.example.com',
    'user@a.wild.example.com',
    'a.wild.example.com:99999',
    'a.wild.example.com:80x',
    'a.wild.example.com,b.wild.example.com',
    '[::1',
    '[zz::1]',
    '[fe80::1%25eth0]',
    '*.wild.example.com',
  ])('refuses Host: %s with 400 before routing', async (host) => {
    upstream.received.length = 0;
    const response = await get(`Host: ${host}\r\n`);
    expect(response.status).toBe(400);
    expect(response.json()).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/Host/) });
    expect(response.json().route).toBeUndefined();
    expect(upstream.received).toEqual([]);
  });

  it.each([
    ['a.wild.example.com', 'wild'],
    ['A.Wild.Example.COM.', 'wild'],
    ['a.b.wild.example.com:8080', 'wild'],
    ['wild.example.com', 'any'],
    ['api.example.com', 'exact'],
    ['api.example.com:', 'exact'],
    ['[::1]:9080', 'any'],
    ['127.0.0.1', 'any'],
    ['under_score.example.com', 'any'],
    ['', 'any'],
  ])('routes Host: %s to %s', async (host, route) => {
    const response = await get(`Host: ${host}\r\n`);
    expect(response.status).toBe(200);
    expect(response.json().url).toBe(`/${route}`);
  });
});
