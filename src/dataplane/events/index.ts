// The payload formats a LambdaRoute's target.function.payloadFormat names.
import { albFormat } from './alb.ts';
import type { PayloadFormat } from './types.ts';
import { restApiV1 } from './v1.ts';
import { httpApiV2 } from './v2.ts';

export type { AlbOptions } from './alb.ts';
export type {
  EventContext,
  EventRequest,
  EventResponse,
  EventRoute,
  PayloadFormat,
  ResponseResult,
} from './types.ts';
export { albFormat, httpApiV2, restApiV1 };

/**
 * "2.0": HTTP API / function URL. "1.0": REST API proxy integration. "alb":
 * ALB with multi-value headers on, so that repeated headers, repeated query
 * parameters and several Set-Cookie values all get through (the single-value
 * variant keeps only the last of each); albFormat({ multiValueHeaders: false })
 * gives that variant.
 */
export const payloadFormats: Record<'2.0' | '1.0' | 'alb', PayloadFormat> = {
  '2.0': httpApiV2,
  '1.0': restApiV1,
  alb: albFormat({ multiValueHeaders: true }),
};
