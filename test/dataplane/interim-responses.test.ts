// Interim (1xx) responses an upstream sends before its final one: the client
// gets the final response, 103 Early Hints is passed on to HTTP/1.1 clients
// as hints, and the access log has the final status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { rawExchange, send } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';
import { finalStatus, type RawUpstream, startRawUpstream } from '../support/raw-upstream.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** The interim responses each path gets before its 200. */
const INTERIM: Record<string, string[]> = {
  '/hints': ['103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nLink: </app.js>; rel=preload'],
  '/processing': ['102 Processing'],
  '/several': ['102 Processing', '103 Early Hints\r\nLink: </a.css>; rel=preload', '102 Processing'],
  '/continue': ['100 Continue'],
  '/bad-link': ['103 Early Hints\r\nLink: not a link'],
};

let upstream: RawUpstream;
let gw: TestGateway;

beforeAll(async () => {
  upstream = await startRawUpstream((socket, request) => {
    const path = request.line.split(' ')[1] ?? '';
    const fn = path.includes('/functions/');
    const interim = fn ? INTERIM['/processing']! : (INTERIM[path] ?? []);
    for (const head of interim) socket.write(`HTTP/1.1 ${head}\r\n\r\n`);
    const body = fn ? JSON.stringify({ statusCode: 200, body: 'from the function' }) : 'final';
    setTimeout(() => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`), 20);
  });
  gw = await startTestGateway({
    'keys.yaml': credentialsSecret('keys', KEYS),
    'routes.yaml': documents(
      lambdaRoute(
        'url',
        `match: {path: /, pathType: Prefix}\ntarget: {url: "${upstream.url}", forwardSubpath: true}`,
      ),
      lambdaRoute(
        'signed',
        `match: {path: /signed, pathType: Prefix}
target: {url: "${upstream.url}", forwardSubpath: true}
auth: {iam: {secretRef: {name: keys}, region: us-east-1, service: execute-api}}`,
      ),
      lambdaRoute(
        'fn',
        `match: {path: /fn}
target: {function: {name: fn, endpoint: "${upstream.url}"}}
auth: {iam: {secretRef: {name: keys}}}`,
      ),
    ),
  });
});
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
});

/** Every byte of the answer to GET `path`, 1xx included. */
const getRaw = (path: string, version = '1.1') => rawExchange(gw.url, `GET ${path} HTTP/${version}`);

const lastAccessLine = () => gw.accessLog().at(-1);

describe('interim responses from the upstream', () => {
  it('passes 103 Early Hints on with its Link headers, then the final response', async () => {
    const answer = await getRaw('/hints');
    expect(answer).toMatch(
      /^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style, <\/app\.js>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n/,
    );
    expect(answer.endsWith('\r\n\r\nfinal')).toBe(true);
    expect(lastAccessLine()).toMatchObject({ route: 'url', status: 200 });
  });

  it.each([
    ['102 Processing', '/processing'],
    ['102, 103 and 102', '/several'],
    ['a 103 whose Link Node will not send', '/bad-link'],
  ])('%s: the client gets the final response', async (_name, path) => {
    const answer = await getRaw(path);
    expect(finalStatus(answer)).toBe(200);
    expect(answer).not.toMatch(/HTTP\/1\.1 102/);
    expect(answer.endsWith('\r\n\r\nfinal')).toBe(true);
    expect(lastAccessLine()).toMatchObject({ status: 200 });
    expect(lastAccessLine()!['upstreamError']).toBeUndefined();
  });

  it('sends no 1xx to an HTTP/1.0 client', async () => {
    const answer = await getRaw('/hints', '1.0');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('skips 1xx on signed routes and from the Invoke API too', async () => {
    const signed = await send(gw.url, { path: '/signed/processing' });
    expect(signed.status).toBe(200);
    expect(signed.text).toBe('final');
    const fn = await send(gw.url, { path: '/fn' });
    expect(fn.status, fn.text).toBe(200);
    expect(fn.text).toBe('from the function');
  });

  it('answers an unsolicited 100 Continue, which undici refuses, with 502 bad_upstream_response', async () => {
    const response = await send(gw.url, { path: '/continue' });
    expect(response.status).toBe(502);
    expect(response.json()).toMatchObject({ error: 'bad_upstream_response', route: 'default/url' });
    expect(lastAccessLine()).toMatchObject({ status: 502, upstreamError: 'bad_response' });
  });
});
