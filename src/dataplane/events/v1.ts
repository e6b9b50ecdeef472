// Payload format 1.0: the event an API Gateway REST API sends to a Lambda proxy
// integration, and how it reads the function's result.
// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
import { createHash } from 'node:crypto';
import {
  domainName,
  domainPrefix,
  encodeBody,
  firstHeader,
  groupHeaders,
  isApiTextType,
  parseQuery,
  requestTime,
  resourceFor,
} from './request.ts';
import {
  bodyOf,
  mergeHeaders,
  multiHeaders,
  parseResultObject,
  readResult,
  singleHeaders,
} from './response.ts';
import type { EventRequest, PayloadCodec, ResponseResult } from './types.ts';

export const restApiV1: PayloadCodec = {
  toEvent(request: EventRequest): Record<string, unknown> {
    const { route, context } = request;
    // Names as the client spelt them; the single-value maps keep the last value.
    const headers = groupHeaders(request.headers, false);
    const query = parseQuery(request.rawQuery, true);
    const resource = resourceFor(route, request.rawPath);
    const domain = domainName(request.headers);
    const encoded =
      request.body.length > 0
        ? encodeBody(request.body, firstHeader(request.headers, 'content-type'), isApiTextType)
        : { body: null, isBase64Encoded: false };
    return {
      resource: resource.resource,
      path: request.rawPath,
      httpMethod: request.method,
      headers:
        headers.length > 0
          ? Object.fromEntries(headers.map(([name, values]) => [name, values.at(-1)]))
          : null,
      multiValueHeaders: headers.length > 0 ? Object.fromEntries(headers) : null,
      queryStringParameters:
        query.length > 0 ? Object.fromEntries(query.map(([key, values]) => [key, values.at(-1)])) : null,
      multiValueQueryStringParameters: query.length > 0 ? Object.fromEntries(query) : null,
      pathParameters: resource.proxy === undefined ? null : { proxy: resource.proxy },
      stageVariables: null,
      requestContext: {
        accountId: context.accountId,
        apiId: context.apiId,
        domainName: domain,
        domainPrefix: domainPrefix(domain),
        extendedRequestId: request.requestId,
        httpMethod: request.method,
        identity: {
          accessKey: null,
          accountId: null,
          apiKey: null,
          apiKeyId: null,
          caller: null,
          clientCert: null,
          cognitoAuthenticationProvider: null,
          cognitoAuthenticationType: null,
          cognitoIdentityId: null,
          cognitoIdentityPoolId: null,
          principalOrgId: null,
          sourceIp: request.sourceIp,
          user: null,
          userAgent: firstHeader(request.headers, 'user-agent') ?? null,
          userArn: null,
        },
        path: request.rawPath,
        protocol: request.protocol,
        requestId: request.requestId,
        requestTime: requestTime(request.time),
        requestTimeEpoch: request.time.getTime(),
        resourceId: resourceId(context.apiId, resource.resource),
        resourcePath: resource.resource,
        stage: context.stage,
      },
      body: encoded.body,
      isBase64Encoded: encoded.isBase64Encoded,
    };
  },

  toResponse(payload: Buffer): ResponseResult {
    return readResult(() => {
      const { result, statusCode } = parseResultObject(payload);
      const headers = mergeHeaders(
        singleHeaders(result['headers']),
        multiHeaders(result['multiValueHeaders']),
        'multi',
      );
      const body = bodyOf(result['body'], result['isBase64Encoded']);
      return { statusCode, headers, body };
    });
  },
};

/** A stable stand-in for the API Gateway resource id: six lower-case letters and digits, like "roq9wj". */
function resourceId(apiId: string, resource: string): string {
  const digest = createHash('sha256').update(`${apiId} ${resource}`).digest();
  let id = '';
  for (let i = 0; i < 6; i++) id += '0123456789abcdefghijklmnopqrstuvwxyz'[digest[i]! % 36];
  return id;
}
