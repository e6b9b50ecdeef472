// The container credentials endpoint SDKs read through
// AWS_CONTAINER_CREDENTIALS_FULL_URI (ECS task roles, EKS Pod Identity):
// a GET authorized by a static token, answering temporary credentials as JSON.
import {
  headerValue,
  isoSeconds,
  jsonReply,
  type ReceivedRequest,
  type ServiceContext,
  type ServiceReply,
} from './http.ts';

export interface ContainerCredentialsOptions {
  /** Path served, e.g. `/v1/credentials`. */
  path: string;
  /** Expected `Authorization` header value (AWS_CONTAINER_AUTHORIZATION_TOKEN); unchecked if unset. */
  authorizationToken?: string;
  /** Lifetime of the credentials handed out; default 900 s. */
  lifetimeSeconds?: number;
}

export function isContainerCredentialsRequest(
  request: ReceivedRequest,
  options: ContainerCredentialsOptions,
): boolean {
  return request.method === 'GET' && request.path === options.path;
}

export function handleContainerCredentials(
  request: ReceivedRequest,
  options: ContainerCredentialsOptions,
  context: ServiceContext,
): ServiceReply {
  const authorization = headerValue(request.headers, 'authorization');
  if (options.authorizationToken !== undefined && authorization !== options.authorizationToken) {
    return authorization === undefined
      ? jsonReply(401, { code: 'Unauthorized', message: 'Authorization header is missing' })
      : jsonReply(403, { code: 'AccessDenied', message: 'Authorization token is invalid' });
  }
  const issued = context.credentials.issue(options.lifetimeSeconds ?? 900, 'container-credentials');
  return jsonReply(200, {
    AccessKeyId: issued.accessKeyId,
    SecretAccessKey: issued.secretAccessKey,
    Token: issued.sessionToken,
    Expiration: isoSeconds(issued.expiration),
  });
}
