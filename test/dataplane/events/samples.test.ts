// The payload formats against AWS's own sample events (aws-lambda-go's
// events/testdata, read in place from ../shared/testdata/lambda-events).
//
// For every request sample we rebuild the HTTP request that produced it, map it
// with toEvent and compare with the sample on every field, except the ones
// listed per sample with the reason lambda-ingress cannot (or the sample does
// not) know them. Excluded fields are still checked for their shape where that
// means something. For every response sample, toResponse must give the status,
// headers (each Set-Cookie on its own) and body AWS would send.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  albCodec,
  type EventRequest,
  type PayloadCodec,
  payloadCodecs,
} from '../../../src/dataplane/events/index.ts';
import { sharedTestdata } from '../../support/testdata.ts';
import { type Json, okResponse, prefix, toEvent } from './support.ts';

const dir = sharedTestdata('lambda-events');

const REQUEST_SAMPLES = [
  'apigw-request.json',
  'apigw-v2-request-iam.json',
  'apigw-v2-request-jwt-authorizer.json',
  'apigw-v2-request-no-authorizer.json',
  'lambda-urls-request.json',
  'alb-lambda-target-request-headers-only.json',
  'alb-lambda-target-request-multivalue-headers.json',
];
const RESPONSE_SAMPLES = [
  'apigw-response.json',
  'lambda-urls-response.json',
  'alb-lambda-target-response.json',
];

const load = (name: string): Json => JSON.parse(readFileSync(join(dir!, name), 'utf8'));

/** Removes a dotted path ("requestContext.identity.user") from a JSON value; no-op when absent. */
function drop(value: Json, path: string): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  let node = value;
  for (const key of keys) {
    node = node?.[key];
    if (node === undefined || node === null) return;
  }
  delete node[last];
}

const pathValue = (value: Json, path: string): Json =>
  path.split('.').reduce((node, key) => node?.[key], value);

interface RequestCase {
  format: PayloadCodec;
  /** The HTTP request that produced the sample. */
  request(sample: Json): EventRequest;
  /** Fields compared on neither side, each with why. */
  excluded: Record<string, string>;
  /** Fields the event has although the sample lacks them, each with why. */
  extra?: Record<string, string>;
  /** Brings the sample in line with what AWS documents, where the sample deviates. */
  normalise?(sample: Json): void;
  /** Checks of excluded and extra fields. */
  check?(event: Json, sample: Json): void;
}

/** The body bytes of an event body. */
const bodyBytes = (sample: Json) =>
  typeof sample.body === 'string'
    ? Buffer.from(sample.body, sample.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);

/**
 * A 2.0 sample's request. 2.0 joins repeated headers with ",", so a joined value
 * is sent as separate headers again (the only one in these samples is
 * lambda-urls' header2, which the docs' 1.0 rendering of the same request shows
 * as two headers). `more` are headers the sample's abbreviated headers leave
 * out although the request had them. Cookies travel as one Cookie header.
 */
function v2Request(sample: Json, more: [string, string][] = []): EventRequest {
  const ctx = sample.requestContext;
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries<string>(sample.headers)) {
    for (const part of value.split(',')) headers.push([name, part]);
  }
  headers.push(...more);
  if (sample.cookies) headers.push(['Cookie', sample.cookies.join('; ')]);
  return {
    method: ctx.http.method,
    rawPath: sample.rawPath,
    rawQuery: sample.rawQueryString,
    headers,
    body: bodyBytes(sample),
    sourceIp: ctx.http.sourceIp,
    protocol: ctx.http.protocol,
    requestId: ctx.requestId,
    time: new Date(ctx.timeEpoch),
    // routeKey "$default": the catch-all route.
    route: prefix('/'),
    context: {
      accountId: ctx.accountId,
      apiId: ctx.apiId,
      stage: ctx.stage ?? '$default',
      region: 'us-east-1',
    },
  };
}

/** The wire headers behind multiValueHeaders: original case, every value. */
const multiValuePairs = (headers: Record<string, string[]>): [string, string][] =>
  Object.entries(headers).flatMap(([name, values]) => values.map((value): [string, string] => [name, value]));

const queryString = (params: Record<string, string[]>, encode: (s: string) => string) =>
  Object.entries(params)
    .flatMap(([key, values]) => values.map((value) => `${encode(key)}=${encode(value)}`))
    .join('&');

/** An ALB sample's request; the API id is the target group name of its ARN, account and region come from it too. */
function albRequest(sample: Json, multi: boolean): EventRequest {
  const [, , , region, accountId, resource] = sample.requestContext.elb.targetGroupArn.split(':');
  const headers = multi
    ? multiValuePairs(sample.multiValueHeaders)
    : Object.entries<string>(sample.headers).map(([name, value]): [string, string] => [name, value]);
  const query = multi
    ? sample.multiValueQueryStringParameters
    : Object.fromEntries(Object.entries<string>(sample.queryStringParameters).map(([k, v]) => [k, [v]]));
  return {
    method: sample.httpMethod,
    rawPath: sample.path,
    rawQuery: queryString(query, (s) => s),
    headers,
    body: bodyBytes(sample),
    sourceIp: headers.find(([name]) => name === 'x-forwarded-for')![1],
    protocol: 'HTTP/1.1',
    requestId: 'not-in-alb-events',
    time: new Date(),
    route: prefix('/'),
    context: { accountId, apiId: resource.split('/')[1], stage: '$default', region },
  };
}

const V2_TIME =
  "the sample's time (12/Mar, and no space before +0000) contradicts its own timeEpoch (4 Mar 2020); ours is formatted from timeEpoch, exactly as in the no-authorizer sample where the two agree";
const ABBREVIATED =
  "missing from the sample's abbreviated headers although the request had it (requestContext shows domainName, http.userAgent, and a text body)";

const v2Authorized = (authorizer: string): RequestCase => ({
  format: payloadCodecs['2.0'],
  request: (sample) =>
    v2Request(sample, [
      ['Host', sample.requestContext.domainName],
      ['User-Agent', sample.requestContext.http.userAgent],
      ['Content-Type', 'application/json'],
    ]),
  excluded: {
    'requestContext.authorizer': `${authorizer} authorizer output: lambda-ingress runs no authorizer`,
    'requestContext.authentication': 'mutual TLS client certificate: lambda-ingress does not ask for one',
    stageVariables: 'a LambdaRoute has no stage variables',
    pathParameters:
      "the sample gives its $default route {proxy: hello/world}, which is not even in its rawPath /my/path; HTTP API's $default route has no path parameters, nor has ours",
    'requestContext.time': V2_TIME,
    'headers.host': ABBREVIATED,
    'headers.user-agent': ABBREVIATED,
    'headers.content-type': ABBREVIATED,
  },
  // The docs say every 2.0 header name is lower case, as in the other samples; these two spell "Header1".
  normalise: (sample) => {
    sample.headers = Object.fromEntries(Object.entries(sample.headers).map(([k, v]) => [k.toLowerCase(), v]));
  },
  check: (event) => {
    expect(event.requestContext.time).toBe('04/Mar/2020:19:03:58 +0000');
    expect(event).not.toHaveProperty('pathParameters');
  },
});

const IDENTITY_UNKNOWN = [
  'accessKey',
  'accountId',
  'apiKey',
  'apiKeyId',
  'caller',
  'clientCert',
  'cognitoAuthenticationProvider',
  'cognitoAuthenticationType',
  'cognitoIdentityId',
  'cognitoIdentityPoolId',
  'user',
  'userArn',
];

const ALB_ARN =
  "the target group id is assigned by AWS; ours is a stable hash, with partition, region, account and name as in the sample's ARN";

const albCase = (format: PayloadCodec, multi: boolean): RequestCase => ({
  format,
  request: (sample) => albRequest(sample, multi),
  excluded: { 'requestContext.elb.targetGroupArn': ALB_ARN },
  check: (event, sample) => {
    const arn: string = sample.requestContext.elb.targetGroupArn;
    const name = arn.slice(0, arn.lastIndexOf('/') + 1);
    expect(event.requestContext.elb.targetGroupArn).toMatch(
      new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[0-9a-f]{16}$`),
    );
  },
});

const REQUEST_CASES: Record<string, RequestCase> = {
  'apigw-request.json': {
    format: payloadCodecs['1.0'],
    request: (sample) => ({
      method: sample.httpMethod,
      rawPath: sample.path,
      rawQuery: queryString(sample.multiValueQueryStringParameters, encodeURIComponent),
      headers: multiValuePairs(sample.multiValueHeaders),
      body: bodyBytes(sample),
      sourceIp: sample.requestContext.identity.sourceIp,
      protocol: sample.requestContext.protocol,
      requestId: sample.requestContext.requestId,
      time: new Date(sample.requestContext.requestTimeEpoch),
      // resource "/{proxy+}": a Prefix route on "/".
      route: prefix('/'),
      context: {
        accountId: sample.requestContext.accountId,
        apiId: sample.requestContext.apiId,
        stage: sample.requestContext.stage,
        region: 'us-east-1',
      },
    }),
    excluded: {
      stageVariables: 'a LambdaRoute has no stage variables',
      'requestContext.authorizer': 'Lambda authorizer output: lambda-ingress runs no authorizer',
      ...Object.fromEntries(
        IDENTITY_UNKNOWN.map((key) => [
          `requestContext.identity.${key}`,
          'caller identity from IAM, Cognito, API keys or mutual TLS: unknown to lambda-ingress, sent as null',
        ]),
      ),
      'requestContext.resourceId':
        "API Gateway's internal id of the resource; ours is a stable stand-in of the same shape",
      'requestContext.extendedRequestId': "API Gateway's second request id; ours repeats requestId",
      'requestContext.domainName':
        "the sample's domainName (us-east-2) contradicts its own Host header (us-east-1); ours is the Host header",
      'requestContext.domainPrefix':
        "the sample's domainPrefix (y0ne18dixk) is neither its Host's first label nor its apiId (gy415nuibc); ours is the Host's first label",
    },
    extra: {
      isBase64Encoded:
        'the REST docs print this very event with isBase64Encoded: false; the sample, trimmed from it, lacks the field',
      'requestContext.identity.principalOrgId':
        'REST APIs send it (null without IAM); this older sample lacks it',
    },
    check: (event, sample) => {
      for (const key of [...IDENTITY_UNKNOWN, 'principalOrgId'])
        expect(event.requestContext.identity[key]).toBeNull();
      expect(Object.keys(event.requestContext.identity)).toEqual(
        expect.arrayContaining(Object.keys(sample.requestContext.identity)),
      );
      expect(event.requestContext.resourceId).toMatch(/^[a-z0-9]{6}$/);
      expect(event.requestContext.extendedRequestId).toBe(sample.requestContext.requestId);
      expect(event.requestContext.domainName).toBe(sample.headers.Host);
      expect(event.requestContext.domainPrefix).toBe(sample.requestContext.apiId);
      expect(event.isBase64Encoded).toBe(false);
    },
  },
  'apigw-v2-request-iam.json': v2Authorized('IAM'),
  'apigw-v2-request-jwt-authorizer.json': v2Authorized('JWT'),
  'apigw-v2-request-no-authorizer.json': {
    format: payloadCodecs['2.0'],
    request: (sample) => v2Request(sample),
    excluded: {
      'requestContext.authentication': 'mutual TLS client certificate: lambda-ingress does not ask for one',
    },
  },
  'lambda-urls-request.json': {
    format: payloadCodecs['2.0'],
    request: (sample) =>
      v2Request(sample, [
        ['Host', sample.requestContext.domainName],
        ['User-Agent', sample.requestContext.http.userAgent],
        ['Content-Type', 'text/plain'],
      ]),
    excluded: {
      'requestContext.authorizer': "the function URL's IAM caller: lambda-ingress runs no authorizer",
      'requestContext.time': V2_TIME,
      'headers.host': ABBREVIATED,
      'headers.user-agent': ABBREVIATED,
      'headers.content-type': ABBREVIATED,
    },
    extra: {
      routeKey: 'the function URL docs define it as the placeholder "$default"; this sample leaves it out',
      'requestContext.routeKey': 'as routeKey',
      'requestContext.stage':
        'the function URL docs define it as the placeholder "$default"; this sample leaves it out',
    },
    check: (event) => {
      expect(event.routeKey).toBe('$default');
      expect(event.requestContext).toMatchObject({ routeKey: '$default', stage: '$default' });
      expect(event.requestContext.time).toBe('04/Mar/2020:19:03:58 +0000');
    },
  },
  'alb-lambda-target-request-headers-only.json': albCase(albCodec({ multiValueHeaders: false }), false),
  'alb-lambda-target-request-multivalue-headers.json': albCase(payloadCodecs.alb, true),
};

describe.skipIf(!dir)('AWS sample events', () => {
  it('finds exactly the expected sample files', () => {
    const files = readdirSync(dir!).filter((name) => name.endsWith('.json'));
    expect(files.sort()).toEqual([...REQUEST_SAMPLES, ...RESPONSE_SAMPLES].sort());
    expect(files).toHaveLength(10);
    expect(Object.keys(REQUEST_CASES).sort()).toEqual([...REQUEST_SAMPLES].sort());
  });

  describe.each(REQUEST_SAMPLES)('request %s', (file) => {
    const spec = REQUEST_CASES[file]!;

    it('maps the request to the sample event', () => {
      const sample = load(file);
      const event = toEvent(spec.format, spec.request(load(file)));
      spec.check?.(event, sample);
      for (const path of Object.keys(spec.extra ?? {})) {
        expect(pathValue(event, path), path).not.toBeUndefined();
        expect(pathValue(sample, path), path).toBeUndefined();
        drop(event, path);
      }
      spec.normalise?.(sample);
      for (const path of Object.keys(spec.excluded)) {
        drop(sample, path);
        drop(event, path);
      }
      expect(event).toStrictEqual(sample);
    });

    it('names a reason for every field it leaves out', () => {
      for (const [path, reason] of Object.entries({ ...spec.excluded, ...spec.extra })) {
        expect(reason.length, path).toBeGreaterThan(5);
      }
    });
  });

  it('apigw-response.json: headers and multiValueHeaders merged, each header once', () => {
    const sample = load('apigw-response.json');
    const response = okResponse(payloadCodecs['1.0'], sample);
    expect(response.statusCode).toBe(200);
    expect(response.headers).toEqual(multiValuePairs(sample.multiValueHeaders));
    expect(response.headers).toHaveLength(Object.keys(sample.headers).length);
    expect(response.body.toString()).toBe('Hello World');
  });

  it('lambda-urls-response.json: status, headers, one Set-Cookie per cookie, body', () => {
    const response = okResponse(payloadCodecs['2.0'], load('lambda-urls-response.json'));
    expect(response).toEqual({
      statusCode: 201,
      headers: [
        ['Content-Type', 'application/json'],
        ['My-Custom-Header', 'Custom Value'],
        ['set-cookie', 'Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT'],
        ['set-cookie', 'Cookie_2=Value2; Max-Age=78000'],
      ],
      body: Buffer.from('{ "message": "Hello, world!" }'),
    });
  });

  it('alb-lambda-target-response.json, multi-value headers: multiValueHeaders win, both cookies', () => {
    const response = okResponse(payloadCodecs.alb, load('alb-lambda-target-response.json'));
    expect(response).toEqual({
      statusCode: 200,
      statusMessage: 'OK',
      headers: [
        ['Set-cookie', 'cookie-name=cookie-value;Domain=myweb.com;Secure;HttpOnly'],
        ['Set-cookie', 'cookie-name=cookie-value;Expires=May 8, 2019'],
        ['Content-Type', 'application/json'],
      ],
      body: Buffer.from('Hello from Lambda'),
    });
  });

  it('alb-lambda-target-response.json, single-value headers: headers win', () => {
    const response = okResponse(
      albCodec({ multiValueHeaders: false }),
      load('alb-lambda-target-response.json'),
    );
    expect(response).toEqual({
      statusCode: 200,
      statusMessage: 'OK',
      headers: [
        ['Set-cookie', 'cookies'],
        ['Content-Type', 'application/json'],
      ],
      body: Buffer.from('Hello from Lambda'),
    });
  });
});
