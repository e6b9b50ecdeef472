// forwardSubpath never lets a client climb above the target URL's path, through
// a real upstream as lenient as they come: it decodes the path once (as
// Python's http.server and nginx do), takes "\" for "/", cuts segments at ";"
// and the path at a decoded "?", "#" or NUL, then resolves dot segments. It
// serves /secret.txt, which must stay out of reach.
import { createServer, type Server } from 'node:http';
import { posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLoopback } from '../../hack/lib/ports.ts';
import { type Emulator, startEmulator } from '../../src/emulator/server.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { sendRaw } from '../support/http.ts';
import { credentialsSecret, documents, lambdaRoute } from '../support/manifests.ts';

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** The path a lenient file server would open for this request target. */
function lenientFile(target: string): string {
  const bytes = target
    .split('?', 1)[0]!
    .replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  let path = Buffer.from(bytes, 'latin1').toString('utf8').replaceAll('\\', '/');
  path = path.split(/[?#\0]/, 1)[0]!;
  path = path
    .split('/')
    .map((segment) => segment.split(';', 1)[0])
    .join('/');
  return posix.normalize(path);
}

const ATTACKS = [
  '..%2fsecret.txt',
  '..%2Fsecret.txt',
  '%2e%2e%2fsecret.txt',
  '%2E%2E%2Fsecret.txt',
  '.%2e/secret.txt',
  'x%2f..%2f..%2fsecret.txt',
  '..%5csecret.txt',
  '..\\secret.txt',
  '..;/secret.txt',
  '..;jsessionid=1/secret.txt',
  '%2e%2e%3b/secret.txt',
  '..%00/secret.txt',
  '..%3f/secret.txt',
  '..%23/secret.txt',
  '..%20/secret.txt',
  '../secret.txt',
  '../../secret.txt',
  '%2e%2e/%2e%2e/secret.txt',
  '%252e%252e%252fsecret.txt',
];

describe('forwardSubpath through a lenient upstream', () => {
  let upstream: Server;
  let emulator: Emulator;
  let gw: TestGateway;
  const opened: string[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const file = lenientFile(req.url ?? '/');
      opened.push(file);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(file === '/secret.txt' ? { secret: 'SECRET123' } : { file }));
    });
    const url = `http://127.0.0.1:${await listenLoopback(upstream)}`;
    emulator = await startEmulator({
      credentials: [KEYS],
      functions: { paths: { handler: (event) => ({ statusCode: 200, body: JSON.stringify(event) }) } },
    });
    const fn = (name: string, format: string) =>
      lambdaRoute(
        name,
        `match: {path: /${name}, pathType: Prefix}
target: {function: {name: paths, endpoint: "${emulator.url}", payloadFormat: "${format}"}}
auth: {iam: {secretRef: {name: keys}}}`,
      );
    gw = await startTestGateway({
      'keys.yaml': credentialsSecret('keys', KEYS),
      'routes.yaml': documents(
        lambdaRoute(
          'static',
          `match: {path: /static, pathType: Prefix}
target: {url: "${url}/public", forwardSubpath: true}`,
        ),
        lambdaRoute(
          'root',
          `match: {path: /, pathType: Prefix}\ntarget: {url: "${url}/", forwardSubpath: true}`,
        ),
        lambdaRoute(
          'fixed',
          `match: {path: /fixed, pathType: Prefix}\ntarget: {url: "${url}/public/index.html"}`,
        ),
        fn('v2', '2.0'),
        fn('v1', '1.0'),
        fn('alb', 'alb'),
      ),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await emulator?.close();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const get = (target: string) => sendRaw(gw.url, `GET ${target} HTTP/1.1\r\nHost: test\r\n\r\n`);

  it.each(ATTACKS)(
    'never serves /secret.txt for /static/%s: refused with 400 or kept under /public',
    async (attack) => {
      opened.length = 0;
      const response = await get(`/static/${attack}`);
      expect(response.body).not.toContain('SECRET123');
      if (response.status === 400) {
        expect(response.json()).toMatchObject({ error: 'bad_request', route: 'default/static' });
        expect(response.headers['x-request-id']).toBeTruthy();
        expect(opened).toEqual([]);
      } else {
        expect(response.status).toBe(200);
        expect(response.json().file).toMatch(/^\/public\//);
      }
    },
  );

  it('refuses exactly the encoded and parameter forms, and resolves plain dot segments itself', async () => {
    expect((await get('/static/..%2fsecret.txt')).status).toBe(400);
    expect((await get('/static/..%5csecret.txt')).status).toBe(400);
    expect((await get('/static/..;/secret.txt')).status).toBe(400);
    expect((await get('/static/../../secret.txt')).json()).toEqual({ file: '/public/secret.txt' });
    // One decoding leaves "%2e%2e%2f" a name; an upstream that decodes twice is not covered.
    expect((await get('/static/%252e%252e%252fsecret.txt')).json()).toEqual({
      file: '/public/%2e%2e%2fsecret.txt',
    });
    // Encoded slashes without dot segments are names, as sent.
    expect((await get('/static/files/a%2Fb.txt')).json()).toEqual({ file: '/public/files/a/b.txt' });
  });

  it('keeps a Prefix route on / under the root, and a route without forwardSubpath on its own path', async () => {
    expect((await get('/..%2f..%2fsecret.txt')).status).toBe(400);
    expect((await get('/..%2f..%2fsecret.txt')).json()).toMatchObject({ route: 'default/root' });
    for (const attack of ATTACKS) {
      expect((await get(`/fixed/${attack}`)).json()).toEqual({ file: '/public/index.html' });
    }
  });

  it.each([
    ['v2', (e: Record<string, string>) => e['rawPath']],
    ['v1', (e: Record<string, string>) => e['path']],
    ['alb', (e: Record<string, string>) => e['path']],
  ])(
    'hands a function (%s) the path exactly as received, for it to read as it likes',
    async (name, pathOf) => {
      const response = await get(`/${name}/..%2fsecret.txt`);
      expect(response.status).toBe(200);
      expect(pathOf(response.json())).toBe(`/${name}/..%2fsecret.txt`);
    },
  );
});
