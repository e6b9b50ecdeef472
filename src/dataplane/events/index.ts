// The codec of each payload format a LambdaRoute's target.function.payloadFormat names: it
// turns a request into the event the function gets, and its result into a response.
import type { PayloadFormat } from '../../api/types.ts';
import { albCodec } from './alb.ts';
import type { PayloadCodec } from './types.ts';
import { restApiV1 } from './v1.ts';
import { httpApiV2 } from './v2.ts';

export type { AlbOptions } from './alb.ts';
export type {
  EventContext,
  EventRequest,
  EventResponse,
  EventRoute,
  PayloadCodec,
  ResponseResult,
} from './types.ts';
export { albCodec, httpApiV2, restApiV1 };

/**
 * "2.0": HTTP API / function URL. "1.0": REST API proxy integration. "alb":
 * ALB with multi-value headers on, so that repeated headers, repeated query
 * parameters and several Set-Cookie values all get through (the single-value
 * variant keeps only the last of each); albCodec({ multiValueHeaders: false })
 * gives that variant.
 */
export const payloadCodecs: Record<PayloadFormat, PayloadCodec> = {
  '2.0': httpApiV2,
  '1.0': restApiV1,
  alb: albCodec({ multiValueHeaders: true }),
};
