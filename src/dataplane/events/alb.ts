// Payload format "alb": the event an Application Load Balancer sends to a
// Lambda target group, and how it reads the function's result.
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
import { createHash } from 'node:crypto';
import { encodeBody, firstHeader, groupHeaders, isAlbTextType, parseQuery } from './request.ts';
import {
  bodyOf,
  InvalidResult,
  mergeHeaders,
  multiHeaders,
  parseResultObject,
  readResult,
  singleHeaders,
} from './response.ts';
import type { EventContext, EventRequest, EventResponse, PayloadCodec, ResponseResult } from './types.ts';

export interface AlbOptions {
  /**
   * The target group attribute lambda.multi_value_headers.enabled. On:
   * multiValueHeaders / multiValueQueryStringParameters with every value. Off:
   * headers / queryStringParameters with the last value of each.
   */
  multiValueHeaders: boolean;
}

export function albCodec(options: AlbOptions): PayloadCodec {
  const multi = options.multiValueHeaders;
  return {
    toEvent(request: EventRequest): Record<string, unknown> {
      // Header names lower-cased; query keys and values exactly as sent, not decoded.
      const headers = groupHeaders(request.headers, true);
      const query = parseQuery(request.rawQuery, false);
      const last = (entries: [string, string[]][]) =>
        Object.fromEntries(entries.map(([k, v]) => [k, v.at(-1)]));
      const encoded =
        request.body.length > 0
          ? encodeBody(request.body, firstHeader(request.headers, 'content-type'), isAlbTextType)
          : { body: '', isBase64Encoded: false };
      return {
        requestContext: { elb: { targetGroupArn: targetGroupArn(request.context) } },
        httpMethod: request.method,
        path: request.rawPath,
        ...(multi
          ? {
              multiValueQueryStringParameters: Object.fromEntries(query),
              multiValueHeaders: Object.fromEntries(headers),
            }
          : { queryStringParameters: last(query), headers: last(headers) }),
        body: encoded.body,
        isBase64Encoded: encoded.isBase64Encoded,
      };
    },

    toResponse(payload: Buffer): ResponseResult {
      return readResult(() => {
        const { result, statusCode } = parseResultObject(payload);
        const statusMessage = reasonPhrase(result['statusDescription'], statusCode);
        // The field of the target group's mode wins; the other one's headers are
        // kept where it names a header the winner does not.
        const headers = mergeHeaders(
          singleHeaders(result['headers']),
          multiHeaders(result['multiValueHeaders']),
          multi ? 'multi' : 'single',
        );
        const body = bodyOf(result['body'], result['isBase64Encoded']);
        const response: EventResponse = { statusCode, headers, body };
        if (statusMessage !== undefined) response.statusMessage = statusMessage;
        return response;
      });
    },
  };
}

/**
 * statusDescription is "<code> <reason phrase>". The reason phrase is used when
 * the code matches statusCode and the phrase is valid HTTP; otherwise the
 * standard phrase for statusCode stands.
 */
function reasonPhrase(description: unknown, statusCode: number): string | undefined {
  if (description === undefined || description === null) return undefined;
  if (typeof description !== 'string') throw new InvalidResult('statusDescription must be a string');
  const match = /^(\d{3}) ([\t\x20-\x7e\x80-\xff]+)$/.exec(description);
  return match && Number(match[1]) === statusCode ? match[2] : undefined;
}

/**
 * A target group ARN for the route: name from the API id (letters, digits and
 * hyphens, at most 32), id a stable 16 hex digits like ALB's own.
 */
function targetGroupArn({ accountId, apiId, region }: EventContext): string {
  const name =
    apiId
      .replace(/[^A-Za-z0-9-]+/g, '-')
      .slice(0, 32)
      .replace(/^-+|-+$/g, '') || 'lambda-ingress';
  const id = createHash('sha256').update(`${accountId}:${region}:${apiId}`).digest('hex').slice(0, 16);
  return `arn:${partition(region)}:elasticloadbalancing:${region}:${accountId}:targetgroup/${name}/${id}`;
}

function partition(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}
