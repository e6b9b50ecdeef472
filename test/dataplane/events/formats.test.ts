// Edge cases of the three payload formats, request and response side.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  albCodec,
  type EventRoute,
  type PayloadCodec,
  payloadCodecs,
} from '../../../src/dataplane/events/index.ts';
import { eventRequest, exact, okResponse, prefix, respond, toEvent } from './support.ts';

const v2 = payloadCodecs['2.0'];
const v1 = payloadCodecs['1.0'];
const alb = payloadCodecs.alb;
const albSingle = albCodec({ multiValueHeaders: false });
const FORMATS: [string, PayloadCodec][] = [
  ['2.0', v2],
  ['1.0', v1],
  ['alb (multi-value)', alb],
  ['alb (single-value)', albSingle],
];

const withBody = (body: Buffer, contentType?: string) =>
  eventRequest({
    method: 'POST',
    body,
    headers: [
      ['Host', 'api.example.com'],
      ...(contentType ? [['Content-Type', contentType] as [string, string]] : []),
    ],
  });

describe('2.0 events', () => {
  it('lower-cases header names and joins repeated headers with ","', () => {
    const event = toEvent(
      v2,
      eventRequest({
        headers: [
          ['Host', 'api.example.com'],
          ['X-Dup', '1'],
          ['x-dup', '2'],
          ['X-DUP', '3'],
          ['Accept', 'text/html, application/json'],
        ],
      }),
    );
    expect(event.headers).toEqual({
      host: 'api.example.com',
      'x-dup': '1,2,3',
      accept: 'text/html, application/json',
    });
  });

  it('moves every Cookie header to cookies, split at ";", and drops it from headers', () => {
    const event = toEvent(
      v2,
      eventRequest({
        headers: [
          ['Host', 'h'],
          ['Cookie', 'session=abc; theme=dark'],
          ['cookie', 'lang=en;x=1; '],
        ],
      }),
    );
    expect(event.cookies).toEqual(['session=abc', 'theme=dark', 'lang=en', 'x=1']);
    expect(event.headers).toEqual({ host: 'h' });
    expect(toEvent(v2, eventRequest())).not.toHaveProperty('cookies');
  });

  it('decodes query parameters, joins repeated keys with "," and keeps rawQueryString as received', () => {
    const rawQuery = 'tag=a&tag=b&q=%E2%9C%93&plus=a+b&enc=a%2Bb&empty=&flag&&x%20y=1&bad=%zz';
    const event = toEvent(v2, eventRequest({ rawQuery }));
    expect(event.rawQueryString).toBe(rawQuery);
    expect(event.queryStringParameters).toEqual({
      tag: 'a,b',
      q: '✓',
      plus: 'a b',
      enc: 'a+b',
      empty: '',
      flag: '',
      'x y': '1',
      bad: '%zz',
    });
    expect(toEvent(v2, eventRequest())).not.toHaveProperty('queryStringParameters');
    expect(toEvent(v2, eventRequest()).rawQueryString).toBe('');
  });

  it('keeps rawPath as received and decodes requestContext.http.path and the proxy parameter', () => {
    const event = toEvent(v2, eventRequest({ rawPath: '/v2/caf%C3%A9/a%20b/%zz%C3', route: prefix('/v2') }));
    expect(event.rawPath).toBe('/v2/caf%C3%A9/a%20b/%zz%C3');
    expect(event.requestContext.http.path).toBe('/v2/café/a b/%zz\uFFFD');
    expect(event.pathParameters).toEqual({ proxy: 'café/a b/%zz\uFFFD' });
  });

  it.each<[string, EventRoute, string, string, string, string | undefined]>([
    ['an Exact route', exact('/hello'), 'GET', '/hello', 'ANY /hello', undefined],
    [
      'an Exact route with methods',
      exact('/hello', ['GET', 'POST']),
      'POST',
      '/hello',
      'POST /hello',
      undefined,
    ],
    ['a Prefix route at its own path', prefix('/api'), 'GET', '/api', 'ANY /api', undefined],
    ['a Prefix route at its own path with "/"', prefix('/api'), 'GET', '/api/', 'ANY /api', undefined],
    ['a Prefix route below its path', prefix('/api'), 'DELETE', '/api/x/y', 'ANY /api/{proxy+}', 'x/y'],
    ['a Prefix route written with "/"', prefix('/api/'), 'GET', '/api/x', 'ANY /api/{proxy+}', 'x'],
    ['the catch-all route', prefix('/'), 'GET', '/x/y', '$default', undefined],
    ['the catch-all route at "/"', prefix('/'), 'GET', '/', '$default', undefined],
    ['a catch-all route with methods', prefix('/', ['GET']), 'GET', '/x', 'GET /{proxy+}', 'x'],
    ['a catch-all route with methods at "/"', prefix('/', ['GET']), 'GET', '/', 'GET /', undefined],
  ])('routeKey and pathParameters for %s', (_, route, method, rawPath, routeKey, proxy) => {
    const event = toEvent(v2, eventRequest({ method, rawPath, route }));
    expect(event.routeKey).toBe(routeKey);
    expect(event.requestContext.routeKey).toBe(routeKey);
    if (proxy === undefined) expect(event).not.toHaveProperty('pathParameters');
    else expect(event.pathParameters).toEqual({ proxy });
  });

  it('fills requestContext from the request and the context', () => {
    const event = toEvent(
      v2,
      eventRequest({
        method: 'PATCH',
        protocol: 'HTTP/2.0',
        time: new Date(Date.UTC(2021, 8, 7, 22, 50, 22, 677)),
        context: { accountId: 'anonymous', apiId: 'abc123', stage: '$default', region: 'eu-west-1' },
      }),
    );
    expect(event.requestContext).toEqual({
      accountId: 'anonymous',
      apiId: 'abc123',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'PATCH',
        path: '/',
        protocol: 'HTTP/2.0',
        sourceIp: '203.0.113.7',
        userAgent: 'curl/8.7.1',
      },
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      routeKey: '$default',
      stage: '$default',
      time: '07/Sep/2021:22:50:22 +0000',
      timeEpoch: 1631055022677,
    });
  });

  it('takes domainName from the Host header without its port', () => {
    const domain = (host: string | undefined) =>
      toEvent(v2, eventRequest({ headers: host === undefined ? [] : [['Host', host]] })).requestContext;
    expect(domain('[::1]:9080')).toMatchObject({ domainName: '[::1]', domainPrefix: '[::1]' });
    expect(domain('localhost')).toMatchObject({ domainName: 'localhost', domainPrefix: 'localhost' });
    expect(domain(undefined)).toMatchObject({ domainName: '', domainPrefix: '' });
  });

  it('leaves the body out when there is none', () => {
    const event = toEvent(v2, eventRequest());
    expect(event).not.toHaveProperty('body');
    expect(event.isBase64Encoded).toBe(false);
  });
});

describe('keys from the client', () => {
  it.each(FORMATS)('%s: "__proto__" and "constructor" are plain keys', (_, format) => {
    const event = toEvent(
      format,
      eventRequest({ rawQuery: '__proto__=x&constructor=y', headers: [['__proto__', 'h']] }),
    );
    const query = event.queryStringParameters ?? event.multiValueQueryStringParameters;
    const headers = event.headers ?? event.multiValueHeaders;
    expect(Object.keys(query)).toEqual(['__proto__', 'constructor']);
    expect(Object.keys(headers)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});

describe('request bodies', () => {
  const text = Buffer.from('{"a":"λ"}');
  it.each([
    'text/plain',
    'text/html; charset=utf-8',
    'application/json',
    'Application/JSON; charset=UTF-8',
    'application/vnd.api+json',
    'application/xml',
    'image/svg+xml',
    'application/javascript',
    'application/x-www-form-urlencoded',
    'application/graphql',
  ])('API Gateway formats send %s as text', (type) => {
    for (const format of [v2, v1])
      expect(toEvent(format, withBody(text, type))).toMatchObject({
        body: '{"a":"λ"}',
        isBase64Encoded: false,
      });
  });

  it.each([
    'application/octet-stream',
    'image/png',
    'multipart/form-data; boundary=x',
    'application/pdf',
    undefined,
  ])('every format sends %s as base64', (type) => {
    for (const [, format] of FORMATS) {
      expect(toEvent(format, withBody(text, type))).toMatchObject({
        body: text.toString('base64'),
        isBase64Encoded: true,
      });
    }
  });

  it('ALB sends only text/*, application/json, application/javascript and application/xml as text', () => {
    const encodedAs = (type: string) => toEvent(alb, withBody(text, type)).isBase64Encoded;
    for (const type of ['text/csv', 'application/json', 'application/javascript', 'application/xml']) {
      expect(encodedAs(type), type).toBe(false);
    }
    for (const type of ['application/x-www-form-urlencoded', 'application/vnd.api+json', 'image/svg+xml']) {
      expect(encodedAs(type), type).toBe(true);
    }
  });

  it('sends a "text" body that is not UTF-8 as base64, so no byte is lost', () => {
    const latin1 = Buffer.from('caf\xe9', 'latin1');
    for (const [, format] of FORMATS) {
      expect(toEvent(format, withBody(latin1, 'text/plain; charset=iso-8859-1'))).toMatchObject({
        body: latin1.toString('base64'),
        isBase64Encoded: true,
      });
    }
  });

  it('represents an empty body as each format does', () => {
    expect(toEvent(v2, eventRequest())).not.toHaveProperty('body');
    expect(toEvent(v1, eventRequest())).toMatchObject({ body: null, isBase64Encoded: false });
    expect(toEvent(alb, eventRequest())).toMatchObject({ body: '', isBase64Encoded: false });
    expect(toEvent(albSingle, eventRequest())).toMatchObject({ body: '', isBase64Encoded: false });
  });

  it.each(FORMATS)('%s: a binary body round-trips byte for byte through base64', (_, format) => {
    const bytes = Buffer.concat([randomBytes(4096), Buffer.from([0xff, 0xfe, 0x00, 0xc3])]);
    const event = toEvent(format, withBody(bytes, 'application/octet-stream'));
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body, 'base64').equals(bytes)).toBe(true);
    const echoed = okResponse(format, { statusCode: 200, body: event.body, isBase64Encoded: true });
    expect(echoed.body.equals(bytes)).toBe(true);
  });
});

describe('1.0 events', () => {
  it('keeps header names as sent, the last value in headers and every value in multiValueHeaders', () => {
    const event = toEvent(
      v1,
      eventRequest({
        headers: [
          ['Host', 'h'],
          ['X-Dup', '1'],
          ['x-dup', '2'],
          ['Cookie', 'a=1; b=2'],
          ['Cookie', 'c=3'],
        ],
      }),
    );
    expect(event.headers).toEqual({ Host: 'h', 'X-Dup': '2', Cookie: 'c=3' });
    expect(event.multiValueHeaders).toEqual({
      Host: ['h'],
      'X-Dup': ['1', '2'],
      Cookie: ['a=1; b=2', 'c=3'],
    });
    expect(event).not.toHaveProperty('cookies');
    expect(event).not.toHaveProperty('version');
  });

  it('decodes query parameters, the last value in queryStringParameters, every value in the multi-value map', () => {
    const event = toEvent(v1, eventRequest({ rawQuery: 'tag=a&tag=b&q=%E2%9C%93&plus=a+b&enc=a%2Bb' }));
    expect(event.queryStringParameters).toEqual({ tag: 'b', q: '✓', plus: 'a b', enc: 'a+b' });
    expect(event.multiValueQueryStringParameters).toEqual({
      tag: ['a', 'b'],
      q: ['✓'],
      plus: ['a b'],
      enc: ['a+b'],
    });
    const none = toEvent(v1, eventRequest());
    expect(none.queryStringParameters).toBeNull();
    expect(none.multiValueQueryStringParameters).toBeNull();
  });

  it('keeps path and the proxy parameter percent-encoded, as REST APIs do', () => {
    const event = toEvent(v1, eventRequest({ rawPath: '/v1/caf%C3%A9/items', route: prefix('/v1') }));
    expect(event).toMatchObject({
      resource: '/v1/{proxy+}',
      path: '/v1/caf%C3%A9/items',
      pathParameters: { proxy: 'caf%C3%A9/items' },
      stageVariables: null,
      requestContext: { path: '/v1/caf%C3%A9/items', resourcePath: '/v1/{proxy+}' },
    });
    const plain = toEvent(v1, eventRequest({ rawPath: '/hello', route: exact('/hello') }));
    expect(plain).toMatchObject({
      resource: '/hello',
      pathParameters: null,
      requestContext: { resourcePath: '/hello' },
    });
  });

  it('fills requestContext, with null for every identity field lambda-ingress cannot know', () => {
    const event = toEvent(
      v1,
      eventRequest({
        headers: [['Host', 'api.example.com']],
        time: new Date(Date.UTC(2020, 4, 15, 6, 1, 9, 693)),
      }),
    );
    expect(event.requestContext).toMatchObject({
      accountId: '123456789012',
      apiId: 'lambda-ingress',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      httpMethod: 'GET',
      protocol: 'HTTP/1.1',
      requestTime: '15/May/2020:06:01:09 +0000',
      requestTimeEpoch: 1589522469693,
      stage: '$default',
    });
    const { sourceIp, userAgent, ...unknown } = event.requestContext.identity;
    expect({ sourceIp, userAgent }).toEqual({ sourceIp: '203.0.113.7', userAgent: null });
    expect(Object.values(unknown).every((value) => value === null)).toBe(true);
    expect(event.requestContext.resourceId).toBe(toEvent(v1, eventRequest()).requestContext.resourceId);
  });
});

describe('alb events', () => {
  const request = eventRequest({
    rawPath: '/alb/caf%C3%A9',
    rawQuery: 'tag=a&tag=b&q=%E2%9C%93&plus=a+b&x%20y=1',
    headers: [
      ['Host', 'lb.example.com'],
      ['X-Dup', '1'],
      ['x-dup', '2'],
      ['Cookie', 'a=1'],
      ['Cookie', 'b=2'],
    ],
  });

  it('multi-value: lower-cased header names, every value, query exactly as sent', () => {
    const event = toEvent(alb, request);
    expect(event).toEqual({
      requestContext: {
        elb: {
          targetGroupArn: expect.stringMatching(
            /^arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup\/lambda-ingress\/[0-9a-f]{16}$/,
          ),
        },
      },
      httpMethod: 'GET',
      path: '/alb/caf%C3%A9',
      multiValueQueryStringParameters: { tag: ['a', 'b'], q: ['%E2%9C%93'], plus: ['a+b'], 'x%20y': ['1'] },
      multiValueHeaders: { host: ['lb.example.com'], 'x-dup': ['1', '2'], cookie: ['a=1', 'b=2'] },
      body: '',
      isBase64Encoded: false,
    });
  });

  it('single-value: the last value of each header and query parameter, query exactly as sent', () => {
    const event = toEvent(albSingle, request);
    expect(event.queryStringParameters).toEqual({ tag: 'b', q: '%E2%9C%93', plus: 'a+b', 'x%20y': '1' });
    expect(event.headers).toEqual({ host: 'lb.example.com', 'x-dup': '2', cookie: 'b=2' });
    expect(event).not.toHaveProperty('multiValueHeaders');
  });

  it('sends empty query maps without a query string', () => {
    expect(toEvent(alb, eventRequest()).multiValueQueryStringParameters).toEqual({});
    expect(toEvent(albSingle, eventRequest()).queryStringParameters).toEqual({});
  });

  it('builds the target group ARN in the region partition', () => {
    const arn = (region: string) =>
      toEvent(
        alb,
        eventRequest({
          context: { accountId: '123456789012', apiId: 'team/api', stage: '$default', region },
        }),
      ).requestContext.elb.targetGroupArn;
    expect(arn('cn-north-1')).toMatch(
      /^arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup\/team-api\//,
    );
    expect(arn('us-gov-west-1')).toMatch(/^arn:aws-us-gov:/);
    expect(arn('eu-west-1')).toBe(arn('eu-west-1'));
  });
});

describe('2.0 results', () => {
  it.each([
    '{"message":"Hello, world!"}',
    '{\n  "message": "Hello, world!"\n}',
    '"Hello, world!"',
    '42',
    'null',
    'true',
    '[1,2]',
    '{"statusCode":null,"body":"x"}',
  ])('valid JSON without statusCode (%s) is a 200 application/json with that JSON as the body', (payload) => {
    const response = okResponse(v2, payload);
    expect(response).toEqual({
      statusCode: 200,
      headers: [['content-type', 'application/json']],
      body: Buffer.from(payload),
    });
  });

  it('maps statusCode, headers, cookies and a base64 body', () => {
    const response = okResponse(v2, {
      statusCode: 201,
      headers: { 'Content-Type': 'image/png', 'X-Count': 3, 'X-Flag': true, 'X-Null': null },
      cookies: ['a=1; Path=/', 'b=2; HttpOnly'],
      multiValueHeaders: { 'X-Ignored': ['2.0 has no multiValueHeaders'] },
      body: Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString('base64'),
      isBase64Encoded: true,
    });
    expect(response).toEqual({
      statusCode: 201,
      headers: [
        ['Content-Type', 'image/png'],
        ['X-Count', '3'],
        ['X-Flag', 'true'],
        ['set-cookie', 'a=1; Path=/'],
        ['set-cookie', 'b=2; HttpOnly'],
      ],
      body: Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    });
  });

  it('accepts a three-digit string statusCode and an absent body', () => {
    expect(okResponse(v2, { statusCode: '204' })).toEqual({
      statusCode: 204,
      headers: [],
      body: Buffer.alloc(0),
    });
  });
});

describe('1.0 results', () => {
  it('merges headers and multiValueHeaders; where a name is in both, only the multiValueHeaders values count', () => {
    const response = okResponse(v1, {
      statusCode: 200,
      headers: { 'X-A': '1', 'Content-Type': 'text/plain' },
      multiValueHeaders: { 'x-a': ['2', '3'], 'Set-Cookie': ['a=1', 'b=2'] },
      body: 'hi',
    });
    expect(response.headers).toEqual([
      ['Content-Type', 'text/plain'],
      ['x-a', '2'],
      ['x-a', '3'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
    expect(response.body.toString()).toBe('hi');
  });

  it('infers nothing: a result without statusCode is invalid, and cookies are not part of the format', () => {
    expect(respond(v1, { hello: 'world' })).toEqual({
      ok: false,
      failures: [{ reason: 'InvalidResult', message: 'statusCode is missing' }],
    });
    expect(respond(v1, '"Hello"').ok).toBe(false);
    expect(okResponse(v1, { statusCode: 200, cookies: ['a=1'] }).headers).toEqual([]);
  });
});

describe('alb results', () => {
  it.each<[unknown, number, string | undefined]>([
    ['404 Not Found', 404, 'Not Found'],
    ['200 Everything Is Fine', 200, 'Everything Is Fine'],
    ['200 OK', 404, undefined],
    ['OK', 200, undefined],
    [undefined, 200, undefined],
    [null, 200, undefined],
  ])(
    'statusDescription %j with statusCode %i gives the reason phrase %j',
    (statusDescription, statusCode, message) => {
      const response = okResponse(alb, { statusCode, statusDescription, body: 'x' });
      expect(response.statusCode).toBe(statusCode);
      expect(response.statusMessage).toBe(message);
    },
  );

  it("keeps headers that only the other mode's field names", () => {
    const result = {
      statusCode: 200,
      headers: { 'X-Single': 'a' },
      multiValueHeaders: { 'X-Multi': ['b', 'c'] },
    };
    const expected = [
      ['X-Single', 'a'],
      ['X-Multi', 'b'],
      ['X-Multi', 'c'],
    ];
    expect(okResponse(alb, result).headers).toEqual(expected);
    expect(okResponse(albSingle, result).headers).toEqual(expected);
  });
});

describe('response bodies', () => {
  it.each(FORMATS)('%s: decodes base64 with line breaks or without padding', (_, format) => {
    const bytes = randomBytes(100);
    const mime = bytes.toString('base64').replace(/.{76}/g, '$&\r\n');
    expect(
      okResponse(format, { statusCode: 200, body: mime, isBase64Encoded: true }).body.equals(bytes),
    ).toBe(true);
    const unpadded = Buffer.from('ab').toString('base64').replace(/=+$/, '');
    expect(
      okResponse(format, { statusCode: 200, body: unpadded, isBase64Encoded: true }).body.toString(),
    ).toBe('ab');
  });

  it.each(FORMATS)('%s: a text body is sent as UTF-8', (_, format) => {
    expect(okResponse(format, { statusCode: 200, body: 'café ✓' }).body.equals(Buffer.from('café ✓'))).toBe(
      true,
    );
  });
});

describe('invalid results', () => {
  // SECRET marks function output that must never appear in a reason.
  const common: [string, string | object][] = [
    ['not JSON', 'SECRET stack trace'],
    ['a fractional statusCode', { statusCode: 200.5 }],
    ['a statusCode below 200', { statusCode: 101 }],
    ['a statusCode above 599', { statusCode: 600 }],
    ['a statusCode that is not a number', { statusCode: 'SECRET' }],
    ['a boolean statusCode', { statusCode: true }],
    ['headers that are an array', { statusCode: 200, headers: ['SECRET'] }],
    ['headers that are a string', { statusCode: 200, headers: 'SECRET' }],
    ['a header value that is an object', { statusCode: 200, headers: { SECRET: { a: 1 } } }],
    ['a header value with a line break', { statusCode: 200, headers: { 'X-A': 'SECRET\r\nX-Injected: 1' } }],
    ['a header value outside Latin-1', { statusCode: 200, headers: { 'X-A': 'SECRET ✓' } }],
    ['a header name with a space', { statusCode: 200, headers: { 'SECRET NAME': 'x' } }],
    ['an empty header name', { statusCode: 200, headers: { '': 'SECRET' } }],
    ['a numeric body', { statusCode: 200, body: 42 }],
    ['an object body', { statusCode: 200, body: { SECRET: 1 } }],
    ['isBase64Encoded as a string', { statusCode: 200, body: 'eA==', isBase64Encoded: 'true' }],
    ['a body that is not base64', { statusCode: 200, body: 'SECRET!!', isBase64Encoded: true }],
    ['base64 with padding inside', { statusCode: 200, body: 'eA==eA==', isBase64Encoded: true }],
    ['base64 of impossible length', { statusCode: 200, body: 'eAbcd', isBase64Encoded: true }],
  ];
  const multi: [string, string | object][] = [
    ['a result that is not an object', '"SECRET"'],
    ['a result without statusCode', { body: 'SECRET' }],
    [
      'multiValueHeaders values that are not arrays',
      { statusCode: 200, multiValueHeaders: { 'X-A': 'SECRET' } },
    ],
    [
      'a multiValueHeaders item that is an object',
      { statusCode: 200, multiValueHeaders: { 'X-A': [{ SECRET: 1 }] } },
    ],
    ['multiValueHeaders that are an array', { statusCode: 200, multiValueHeaders: ['SECRET'] }],
  ];
  const cases: [string, PayloadCodec, string, string | object][] = [
    ...FORMATS.flatMap(([name, format]) =>
      common.map(([what, result]): [string, PayloadCodec, string, string | object] => [
        name,
        format,
        what,
        result,
      ]),
    ),
    ...FORMATS.slice(1).flatMap(([name, format]) =>
      multi.map(([what, result]): [string, PayloadCodec, string, string | object] => [
        name,
        format,
        what,
        result,
      ]),
    ),
    ['2.0', v2, 'cookies that are not an array', { statusCode: 200, cookies: 'SECRET=1' }],
    ['2.0', v2, 'a cookie that is not a string', { statusCode: 200, cookies: [{ SECRET: 1 }] }],
    ['2.0', v2, 'a cookie with a line break', { statusCode: 200, cookies: ['a=1\r\nSECRET: 1'] }],
    [
      'alb (multi-value)',
      alb,
      'a statusDescription that is not a string',
      { statusCode: 200, statusDescription: 200 },
    ],
  ];

  it.each(cases)('%s: %s is refused with a short reason that does not quote it', (_, format, __, result) => {
    const mapped = respond(format, result);
    expect(mapped.ok).toBe(false);
    if (mapped.ok) return;
    expect(mapped.failures[0].message).not.toMatch(/SECRET|X-A|✓/);
    expect(mapped.failures[0].message.length).toBeLessThan(80);
  });
});
