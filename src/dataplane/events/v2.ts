// Payload format 2.0: the event an API Gateway HTTP API (or a Lambda function
// URL, same schema) sends, and how it reads the function's result.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
// https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
import {
  domainName,
  domainPrefix,
  encodeBody,
  firstHeader,
  groupHeaders,
  isApiTextType,
  parseQuery,
  percentDecode,
  requestTime,
  resourceFor,
  routeMethod,
} from './request.ts';
import {
  bodyOf,
  InvalidResult,
  isObject,
  parseJson,
  readResult,
  singleHeaders,
  statusCodeOf,
} from './response.ts';
import type { EventRequest, PayloadCodec, ResponseResult } from './types.ts';

export const httpApiV2: PayloadCodec = {
  toEvent(request: EventRequest): Record<string, unknown> {
    const { route, context } = request;
    // Header names lower-cased, repeats joined with "," (no space); Cookie
    // headers become the cookies array instead, split at ";".
    const headers: [string, string][] = [];
    const cookies: string[] = [];
    for (const [name, values] of groupHeaders(request.headers, true)) {
      if (name !== 'cookie') {
        headers.push([name, values.join(',')]);
        continue;
      }
      for (const value of values) {
        for (const cookie of value.split(';')) {
          const trimmed = cookie.trim();
          if (trimmed !== '') cookies.push(trimmed);
        }
      }
    }
    const query = parseQuery(request.rawQuery, true);
    const resource = resourceFor(route, request.rawPath);
    const method = routeMethod(route, request.method);
    // A Prefix route on "/" for any method is the whole API: HTTP API's $default
    // route, which is also what function URLs report. Other routes get the
    // route key HTTP API would have for the equivalent route.
    const routeKey = resource.catchAll && method === 'ANY' ? '$default' : `${method} ${resource.resource}`;
    const domain = domainName(request.headers);

    const event: Record<string, unknown> = {
      version: '2.0',
      routeKey,
      rawPath: request.rawPath,
      rawQueryString: request.rawQuery,
    };
    if (cookies.length > 0) event['cookies'] = cookies;
    event['headers'] = Object.fromEntries(headers);
    if (query.length > 0) {
      event['queryStringParameters'] = Object.fromEntries(
        query.map(([key, values]) => [key, values.join(',')]),
      );
    }
    event['requestContext'] = {
      accountId: context.accountId,
      apiId: context.apiId,
      domainName: domain,
      domainPrefix: domainPrefix(domain),
      http: {
        method: request.method,
        path: percentDecode(request.rawPath, false),
        protocol: request.protocol,
        sourceIp: request.sourceIp,
        userAgent: firstHeader(request.headers, 'user-agent') ?? '',
      },
      requestId: request.requestId,
      routeKey,
      stage: context.stage,
      time: requestTime(request.time),
      timeEpoch: request.time.getTime(),
    };
    if (routeKey !== '$default' && resource.proxy !== undefined) {
      event['pathParameters'] = { proxy: percentDecode(resource.proxy, false) };
    }
    if (request.body.length > 0) {
      const { body, isBase64Encoded } = encodeBody(
        request.body,
        firstHeader(request.headers, 'content-type'),
        isApiTextType,
      );
      event['body'] = body;
      event['isBase64Encoded'] = isBase64Encoded;
    } else {
      event['isBase64Encoded'] = false;
    }
    return event;
  },

  toResponse(payload: Buffer): ResponseResult {
    return readResult(() => {
      const result = parseJson(payload);
      // Valid JSON without a statusCode is the body itself, byte for byte: a
      // function returning "Hello" answers 200 application/json `"Hello"`.
      if (!isObject(result) || result['statusCode'] === undefined || result['statusCode'] === null) {
        return { statusCode: 200, headers: [['content-type', 'application/json']], body: payload };
      }
      const statusCode = statusCodeOf(result['statusCode']);
      const headers = singleHeaders(result['headers']);
      const cookies = result['cookies'];
      if (cookies !== undefined && cookies !== null) {
        if (!Array.isArray(cookies)) throw new InvalidResult('cookies must be an array of strings');
        for (const cookie of cookies) {
          if (typeof cookie !== 'string') throw new InvalidResult('cookies must be an array of strings');
          headers.push(...singleHeaders({ 'set-cookie': cookie }, 'cookies'));
        }
      }
      const body = bodyOf(result['body'], result['isBase64Encoded']);
      return { statusCode, headers, body };
    });
  },
};
