// HTTP endpoints in front of a function: API Gateway `execute-api` stages and
// Lambda function URLs. Each is mounted at a path prefix, checks the caller the
// way AWS does for its auth type, and only then runs the test's handler (or,
// for a RESPONSE_STREAM function URL, the function: see function-url-stream.ts).
import {
  headerValue,
  jsonReply,
  type ReceivedRequest,
  type ServiceContext,
  type ServiceReply,
} from './http.ts';
import type { VerifyFailure, VerifyResult } from './sigv4.ts';

/** The request as received (path including the endpoint's mount path, raw query without `?`). */
export interface EndpointRequest extends Omit<ReceivedRequest, 'bodySize'> {
  /** Who signed the request, for `iam` endpoints with verification on. */
  signature: { accessKeyId: string } | undefined;
}

export interface EndpointResponse {
  status: number;
  headers?: Record<string, string | string[]> | undefined;
  body?: string | Buffer | undefined;
}

export type EndpointHandler = (request: EndpointRequest) => EndpointResponse | Promise<EndpointResponse>;

interface EndpointBase {
  /** Mount path, matched as a prefix on segment boundaries (`/default/app` matches `/default/app/x`); `/` matches all. */
  path: string;
  handler: EndpointHandler;
}

/** A function URL in RESPONSE_STREAM invoke mode, in front of one of the emulator's functions ($LATEST). */
export interface StreamingFunctionUrl {
  kind: 'function-url';
  path: string;
  auth: 'iam' | 'none';
  invokeMode: 'RESPONSE_STREAM';
  functionName: string;
}

export type HandlerEndpoint =
  | (EndpointBase & { kind: 'execute-api'; auth: 'iam' | 'none' })
  | (EndpointBase & { kind: 'execute-api'; auth: 'apiKey'; apiKey: string })
  | (EndpointBase & { kind: 'function-url'; auth: 'iam' | 'none' });

export type EndpointOptions = HandlerEndpoint | StreamingFunctionUrl;

/** The body of every function URL auth failure, as AWS words it today. */
export const FUNCTION_URL_FORBIDDEN_MESSAGE =
  'Forbidden. For troubleshooting Function URL authorization issues, see: ' +
  'https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html';

/** The endpoint with the longest mount path that contains `path`. */
export function matchEndpoint(
  endpoints: readonly EndpointOptions[],
  path: string,
): EndpointOptions | undefined {
  let best: EndpointOptions | undefined;
  for (const endpoint of endpoints) {
    const mount = endpoint.path.replace(/\/+$/, '');
    const matches = mount === '' || path === mount || path.startsWith(`${mount}/`);
    if (matches && (best === undefined || mount.length > best.path.replace(/\/+$/, '').length))
      best = endpoint;
  }
  return best;
}

/** Checks the caller the way AWS does for the endpoint's auth type: the rejection, or who signed. */
export function authorize(
  endpoint: EndpointOptions,
  request: ReceivedRequest,
  context: ServiceContext,
):
  | { rejection: ServiceReply }
  | { signature: EndpointRequest['signature']; verification: VerifyResult | undefined } {
  const requestId = { 'x-amzn-RequestId': request.requestId };
  if (endpoint.auth === 'iam') {
    const service = endpoint.kind === 'execute-api' ? 'execute-api' : 'lambda';
    const verification = context.checkSignature(request, service, 'json');
    if (verification?.ok === false) {
      return { rejection: { ...rejectSignature(endpoint.kind, verification, requestId), verification } };
    }
    return { signature: verification && { accessKeyId: verification.accessKeyId }, verification };
  }
  if (endpoint.auth === 'apiKey' && headerValue(request.headers, 'x-api-key') !== endpoint.apiKey) {
    return {
      rejection: jsonReply(
        403,
        { message: 'Forbidden' },
        { ...requestId, 'x-amzn-ErrorType': 'ForbiddenException' },
      ),
    };
  }
  return { signature: undefined, verification: undefined };
}

export async function handleEndpoint(
  endpoint: HandlerEndpoint,
  request: ReceivedRequest,
  context: ServiceContext,
): Promise<ServiceReply> {
  const requestId = { 'x-amzn-RequestId': request.requestId };
  const auth = authorize(endpoint, request, context);
  if ('rejection' in auth) return auth.rejection;
  const { signature, verification } = auth;

  try {
    const response = await endpoint.handler({
      requestId: request.requestId,
      method: request.method,
      path: request.path,
      query: request.query,
      headers: request.headers,
      body: request.body,
      signature,
    });
    const headers = { ...response.headers };
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'x-amzn-requestid')) {
      Object.assign(headers, requestId);
    }
    return { status: response.status, headers, body: response.body ?? '', verification };
  } catch (error) {
    // What API Gateway and function URLs answer when the integration fails.
    return { ...jsonReply(502, { message: 'Internal server error' }, requestId), error, verification };
  }
}

function rejectSignature(
  kind: EndpointOptions['kind'],
  failure: VerifyFailure,
  requestId: Record<string, string>,
): ServiceReply {
  if (kind === 'function-url') {
    return jsonReply(
      403,
      { Message: FUNCTION_URL_FORBIDDEN_MESSAGE },
      { ...requestId, 'x-amzn-ErrorType': 'AccessDeniedException' },
    );
  }
  // API Gateway shows what it computed, which is what makes its mismatches debuggable.
  const message =
    failure.canonicalRequest === undefined
      ? failure.message
      : `${failure.message}\n\nThe Canonical String for this request should have been\n'${failure.canonicalRequest}'\n\n` +
        `The String-to-Sign should have been\n'${failure.stringToSign}'\n`;
  return jsonReply(failure.status, { message }, { ...requestId, 'x-amzn-ErrorType': failure.code });
}
