// API Gateway (execute-api) and function URL endpoints over real sockets:
// good signatures reach the handler, every bad one is refused as AWS would.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type Emulator,
  type EndpointRequest,
  FUNCTION_URL_FORBIDDEN_MESSAGE,
  startEmulator,
} from '../../src/emulator/server.ts';
import { sign } from '../../src/emulator/sigv4.ts';
import { call, json, type Signing } from './client.ts';

const key = { accessKeyId: 'AKIDEMULATORTEST', secretAccessKey: 'secret/EMULATOR+key' };
const temporary = {
  accessKeyId: 'ASIAEMULATORTEMP',
  secretAccessKey: 'temporary-secret',
  sessionToken: 'temporary-token',
};
const expired = {
  ...temporary,
  accessKeyId: 'ASIAEMULATOREXPIRED',
  expiration: new Date(Date.now() - 60_000),
};

describe('execute-api and function URL endpoints', () => {
  let emulator: Emulator;
  const seen: EndpointRequest[] = [];
  const echo = (name: string) => (req: EndpointRequest) => {
    seen.push(req);
    return { status: 200, headers: { 'content-type': 'text/plain', 'x-endpoint': name }, body: `${name} ok` };
  };

  beforeAll(async () => {
    emulator = await startEmulator({
      credentials: [key, temporary, expired],
      endpoints: [
        { kind: 'execute-api', path: '/default/test-apisix', auth: 'iam', handler: echo('apigw') },
        { kind: 'execute-api', path: '/default/test-apisix/deeper', auth: 'none', handler: echo('deeper') },
        { kind: 'execute-api', path: '/keyed', auth: 'apiKey', apiKey: 'k-123', handler: echo('keyed') },
        {
          kind: 'execute-api',
          path: '/broken',
          auth: 'none',
          handler: () => {
            throw new Error('handler bug');
          },
        },
        { kind: 'execute-api', path: '/bad-status', auth: 'none', handler: () => ({ status: 42 }) },
        { kind: 'function-url', path: '/', auth: 'iam', handler: echo('url') },
        { kind: 'function-url', path: '/public', auth: 'none', handler: echo('public') },
      ],
    });
  });
  afterAll(() => emulator.close());

  const apigw = (overrides: Partial<Signing> = {}): Signing => ({
    credentials: key,
    service: 'execute-api',
    ...overrides,
  });
  const lambdaSigning = (overrides: Partial<Signing> = {}): Signing => ({
    credentials: key,
    service: 'lambda',
    ...overrides,
  });

  it('passes a signed request to the handler with its raw path, query, headers and body', async () => {
    seen.length = 0;
    const res = await call(
      emulator,
      {
        method: 'POST',
        path: '/default/test-apisix/items/a%20b',
        query: 'x=1&y=a+b&z=%E1%88%B4',
        headers: [['content-type', 'application/json']],
        body: '{"hello":"world"}',
      },
      apigw(),
    );
    expect(res.status).toBe(200);
    expect(res.body).toBe('apigw ok');
    expect(res.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      path: '/default/test-apisix/items/a%20b',
      query: 'x=1&y=a+b&z=%E1%88%B4',
      signature: { accessKeyId: key.accessKeyId },
      requestId: res.headers['x-amzn-requestid'],
    });
    expect(seen[0]!.body.toString()).toBe('{"hello":"world"}');
    expect(seen[0]!.headers).toContainEqual(['content-type', 'application/json']);
    const recorded = emulator.requests.at(-1)!;
    expect(recorded).toMatchObject({ service: 'execute-api', status: 200, verification: { ok: true } });
  });

  it('accepts requests signed by @smithy/signature-v4 (double-encoded paths, literal plus, UTF-8)', async () => {
    const requests = [
      { path: '/default/test-apisix/a%20b/%E1%88%B4/c%2Fd', query: 'q=a+b&k=%20&empty=' },
      { path: '/default/test-apisix/./x/../y', query: 'b=2&a=1&a=0' },
    ];
    for (const req of requests) {
      expect((await call(emulator, req, apigw({ smithy: true }))).status).toBe(200);
    }
    const url = await call(
      emulator,
      { method: 'POST', path: '/fn/x', body: 'data' },
      lambdaSigning({ smithy: true }),
    );
    expect(url.status).toBe(200);
  });

  it('accepts temporary credentials that carry their session token', async () => {
    const res = await call(emulator, { path: '/default/test-apisix' }, apigw({ credentials: temporary }));
    expect(res.status).toBe(200);
  });

  describe('execute-api rejects, without calling the handler', () => {
    const rejects = async (
      signing: Signing | undefined,
      status: number,
      type: string,
      message: string | RegExp,
      request = { path: '/default/test-apisix/thing' },
    ) => {
      seen.length = 0;
      const res = await call(emulator, request, signing);
      expect(res.status).toBe(status);
      expect(res.headers['x-amzn-errortype']).toBe(type);
      expect(res.headers['x-amzn-requestid']).toBeDefined();
      expect((json(res) as { message: string }).message).toMatch(message);
      expect(seen).toHaveLength(0);
      expect(emulator.requests.at(-1)).toMatchObject({
        service: 'execute-api',
        status,
        verification: { ok: false },
      });
    };

    it('an unsigned request', () =>
      rejects(undefined, 403, 'MissingAuthenticationTokenException', /^Missing Authentication Token$/));

    it('a wrong secret, showing the canonical request', () =>
      rejects(
        apigw({ credentials: { ...key, secretAccessKey: 'wrong' } }),
        403,
        'InvalidSignatureException',
        /^The request signature we calculated does not match the signature you provided\.[\s\S]*The Canonical String for this request should have been\n'GET\n\/default\/test-apisix\/thing\n/,
      ));

    it('the wrong region', () =>
      rejects(
        apigw({ region: 'eu-west-1' }),
        403,
        'InvalidSignatureException',
        /^Credential should be scoped to a valid region\.$/,
      ));

    it('the wrong service', () =>
      rejects(
        lambdaSigning(),
        403,
        'InvalidSignatureException',
        /^Credential should be scoped to correct service: 'execute-api'\.$/,
      ));

    it('a signing time 20 minutes old', () =>
      rejects(
        apigw({ date: new Date(Date.now() - 20 * 60_000) }),
        403,
        'InvalidSignatureException',
        /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/,
      ));

    it('an unknown access key', () =>
      rejects(
        apigw({ credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } }),
        403,
        'UnrecognizedClientException',
        /^The security token included in the request is invalid\.$/,
      ));

    it('temporary credentials without their session token', () =>
      rejects(
        apigw({
          credentials: { accessKeyId: temporary.accessKeyId, secretAccessKey: temporary.secretAccessKey },
        }),
        403,
        'UnrecognizedClientException',
        /^The security token included in the request is invalid\.$/,
      ));

    it('expired temporary credentials', () =>
      rejects(
        apigw({ credentials: expired }),
        403,
        'ExpiredTokenException',
        /^The security token included in the request is expired$/,
      ));

    it('a tampered body', async () => {
      // Signed for one body, sent with another of the same length.
      const headers = sign(
        {
          method: 'POST',
          path: '/default/test-apisix',
          query: '',
          headers: [
            ['host', `127.0.0.1:${emulator.port}`],
            ['content-length', '8'],
          ],
          body: 'original',
        },
        { credentials: key, region: 'us-east-1', service: 'execute-api' },
      );
      seen.length = 0;
      const res = await call(emulator, {
        method: 'POST',
        path: '/default/test-apisix',
        headers,
        body: 'tampered',
      });
      expect(res.status).toBe(403);
      expect(res.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
      expect(seen).toHaveLength(0);
    });
  });

  describe('function URLs', () => {
    it('accept a request signed for service lambda', async () => {
      const res = await call(emulator, { path: '/anything', query: 'a=1' }, lambdaSigning());
      expect(res.status).toBe(200);
      expect(res.body).toBe('url ok');
    });

    it.each([
      ['unsigned', undefined],
      ['signed for execute-api', { credentials: key, service: 'execute-api' }],
      ['signed with a wrong secret', { credentials: { ...key, secretAccessKey: 'nope' }, service: 'lambda' }],
      [
        'signed by an unknown key',
        { credentials: { accessKeyId: 'AKIDNOPE', secretAccessKey: 'x' }, service: 'lambda' },
      ],
    ] as const)('answer 403 Forbidden when %s', async (_, signing) => {
      seen.length = 0;
      const res = await call(emulator, { path: '/anything' }, signing);
      expect(res.status).toBe(403);
      expect(json(res)).toEqual({ Message: FUNCTION_URL_FORBIDDEN_MESSAGE });
      expect(res.headers['x-amzn-errortype']).toBe('AccessDeniedException');
      expect(seen).toHaveLength(0);
    });

    it('with auth none take unsigned requests', async () => {
      const res = await call(emulator, { path: '/public/x' });
      expect(res.status).toBe(200);
      expect(res.body).toBe('public ok');
    });
  });

  it('routes to the longest mount path, on segment boundaries', async () => {
    expect((await call(emulator, { path: '/default/test-apisix/deeper/x' })).body).toBe('deeper ok');
    // `/default/test-apisixZ` is not under `/default/test-apisix`: the catch-all function URL takes it.
    expect((await call(emulator, { path: '/default/test-apisixZ' }, lambdaSigning())).body).toBe('url ok');
  });

  it('checks API keys', async () => {
    expect((await call(emulator, { path: '/keyed', headers: [['x-api-key', 'k-123']] })).status).toBe(200);
    for (const headers of [[], [['x-api-key', 'wrong']]] as [string, string][][]) {
      const res = await call(emulator, { path: '/keyed', headers });
      expect(res.status).toBe(403);
      expect(json(res)).toEqual({ message: 'Forbidden' });
      expect(res.headers['x-amzn-errortype']).toBe('ForbiddenException');
    }
  });

  it('survives handlers that throw or answer nonsense, and keeps serving', async () => {
    const broken = await call(emulator, { path: '/broken' });
    expect(broken.status).toBe(502);
    expect(json(broken)).toEqual({ message: 'Internal server error' });
    expect((emulator.requests.at(-1)!.error as Error).message).toBe('handler bug');
    const badStatus = await call(emulator, { path: '/bad-status' });
    expect(badStatus.status).toBe(500);
    expect(emulator.requests.at(-1)).toMatchObject({ status: 500, error: expect.any(RangeError) });
    expect((await call(emulator, { path: '/public' })).status).toBe(200);
  });

  it("refuses bodies over API Gateway's 10 MB limit", async () => {
    const res = await call(emulator, {
      method: 'POST',
      path: '/public',
      body: Buffer.alloc(10 * 1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
    expect(emulator.requests.at(-1)).toMatchObject({ bodySize: 10 * 1024 * 1024 + 1, status: 413 });
  });

  it('records a request whose client hangs up mid-body, and keeps serving', async () => {
    const before = emulator.requests.length;
    const socket = connect(emulator.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /public HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial');
    await vi.waitUntil(() => emulator.requests.length > before);
    const hungUp = emulator.requests.at(-1)!;
    socket.destroy();
    await vi.waitUntil(() => hungUp.error !== undefined);
    expect(hungUp.status).toBeUndefined();
    expect((await call(emulator, { path: '/public' })).status).toBe(200);
  });

  it('answers 404 when nothing matches', async () => {
    const alone = await startEmulator();
    try {
      const res = await call(alone, { path: '/nowhere' });
      expect(res.status).toBe(404);
      expect(alone.requests).toMatchObject([{ path: '/nowhere', service: undefined, status: 404 }]);
    } finally {
      await alone.close();
    }
  });
});

describe('with signature verification off', () => {
  it('lets unsigned requests through to iam endpoints, recording no verification', async () => {
    const emulator = await startEmulator({
      verifySignatures: false,
      endpoints: [{ kind: 'function-url', path: '/', auth: 'iam', handler: () => ({ status: 204 }) }],
    });
    try {
      expect((await call(emulator, { path: '/x' })).status).toBe(204);
      expect(emulator.requests[0]).toMatchObject({ service: 'function-url', verification: undefined });
    } finally {
      await emulator.close();
    }
  });
});
