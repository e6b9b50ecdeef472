// STS's query API (`POST /`, form-encoded `Action=…`): AssumeRole (SigV4,
// service `sts`) and AssumeRoleWithWebIdentity (unsigned, authenticated by its
// token). Issued credentials become keys the emulator accepts until they expire.
import {
  headerValue,
  isoSeconds,
  type ReceivedRequest,
  type ServiceContext,
  type ServiceReply,
} from './http.ts';

export interface StsOptions {
  /**
   * Lifetime of issued credentials. Overrides DurationSeconds so tests can use
   * lifetimes below AWS's 900 s minimum; default: DurationSeconds, else 3600.
   */
  credentialLifetimeSeconds?: number;
  /** Web identity tokens AssumeRoleWithWebIdentity accepts (a list, or a predicate); none if unset. */
  webIdentityTokens?: readonly string[] | ((token: string) => boolean);
  /** Role ARNs that may be assumed; any if unset. */
  roleArns?: readonly string[];
}

const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

/**
 * The dispatch rule: with STS enabled, a POST to `/` whose body is a form with
 * an `Action` parameter is an STS call. Anything else at `/` (e.g. a function
 * URL mounted there) is not.
 */
export function isStsRequest(request: ReceivedRequest): boolean {
  if (request.method !== 'POST' || request.path !== '/') return false;
  const contentType = headerValue(request.headers, 'content-type') ?? '';
  return (
    contentType.toLowerCase().startsWith('application/x-www-form-urlencoded') &&
    new URLSearchParams(request.body.toString('utf8')).has('Action')
  );
}

export function handleSts(
  request: ReceivedRequest,
  options: StsOptions,
  context: ServiceContext,
): ServiceReply {
  const params = new URLSearchParams(request.body.toString('utf8'));
  const action = params.get('Action')!;
  if (action !== 'AssumeRole' && action !== 'AssumeRoleWithWebIdentity') {
    return errorReply(
      request,
      400,
      'InvalidAction',
      `Could not find operation ${action} for version ${params.get('Version')}`,
    );
  }
  // AssumeRoleWithWebIdentity is the one call that is not signed: the token is the credential.
  const verification = action === 'AssumeRole' ? context.checkSignature(request, 'sts', 'query') : undefined;
  if (verification?.ok === false) {
    return {
      ...errorReply(request, verification.status, verification.code, verification.message),
      verification,
    };
  }
  const caller = verification?.ok ? verification.accessKeyId : undefined;
  return { ...assumeRole(request, action, params, caller, options, context), verification };
}

function assumeRole(
  request: ReceivedRequest,
  action: 'AssumeRole' | 'AssumeRoleWithWebIdentity',
  params: URLSearchParams,
  caller: string | undefined,
  options: StsOptions,
  context: ServiceContext,
): ServiceReply {
  const required = ['RoleArn', 'RoleSessionName', ...(action === 'AssumeRole' ? [] : ['WebIdentityToken'])];
  const missing = required.filter((name) => !params.get(name));
  if (missing.length > 0) {
    const errors = missing.map(
      (name) =>
        `Value null at '${name[0]!.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
    return errorReply(
      request,
      400,
      'ValidationError',
      `${errors.length} validation error detected: ${errors.join('; ')}`,
    );
  }
  const roleArn = params.get('RoleArn')!;
  const sessionName = params.get('RoleSessionName')!;
  const durationParam = params.get('DurationSeconds');
  const duration = durationParam === null ? 3600 : Number(durationParam);
  if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
    const constraint = duration > 43200 ? 'less than or equal to 43200' : 'greater than or equal to 900';
    return errorReply(
      request,
      400,
      'ValidationError',
      `1 validation error detected: Value '${durationParam}' at 'durationSeconds' failed to satisfy constraint: ` +
        `Member must have value ${constraint}`,
    );
  }

  let webIdentity: WebIdentityClaims | undefined;
  if (action === 'AssumeRoleWithWebIdentity') {
    const token = params.get('WebIdentityToken')!;
    const accepted = options.webIdentityTokens;
    if (!(typeof accepted === 'function' ? accepted(token) : (accepted ?? []).includes(token))) {
      return errorReply(
        request,
        400,
        'InvalidIdentityToken',
        'The web identity token that was passed could not be validated by AWS. ' +
          'Get a new identity token from the identity provider and then retry the request.',
      );
    }
    webIdentity = jwtClaims(token);
  }
  if (options.roleArns !== undefined && !options.roleArns.includes(roleArn)) {
    const user = caller === undefined ? `assumed-role/web-identity/${sessionName}` : `user/${caller}`;
    return errorReply(
      request,
      403,
      'AccessDenied',
      `User: arn:aws:iam::${context.accountId}:${user} is not authorized to perform: sts:${action} on resource: ${roleArn}`,
    );
  }

  const issued = context.credentials.issue(options.credentialLifetimeSeconds ?? duration, 'sts');
  const roleName = roleArn.split('/').at(-1) ?? roleArn;
  const result = [
    webIdentity &&
      `<SubjectFromWebIdentityToken>${xml(webIdentity.subject)}</SubjectFromWebIdentityToken>` +
        `<Audience>${xml(webIdentity.audience)}</Audience>`,
    '<AssumedRoleUser>',
    `<Arn>arn:aws:sts::${context.accountId}:assumed-role/${xml(roleName)}/${xml(sessionName)}</Arn>`,
    `<AssumedRoleId>AROAEMULATOREXAMPLE:${xml(sessionName)}</AssumedRoleId>`,
    '</AssumedRoleUser>',
    '<Credentials>',
    `<AccessKeyId>${issued.accessKeyId}</AccessKeyId>`,
    `<SecretAccessKey>${issued.secretAccessKey}</SecretAccessKey>`,
    `<SessionToken>${issued.sessionToken}</SessionToken>`,
    `<Expiration>${isoSeconds(issued.expiration)}</Expiration>`,
    '</Credentials>',
    webIdentity && `<Provider>${xml(webIdentity.provider)}</Provider>`,
  ]
    .filter(Boolean)
    .join('');
  const body =
    `<${action}Response xmlns="${NAMESPACE}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>${request.requestId}</RequestId></ResponseMetadata></${action}Response>`;
  return { status: 200, headers: xmlHeaders(request.requestId), body };
}

function errorReply(request: ReceivedRequest, status: number, code: string, message: string): ServiceReply {
  const body =
    `<ErrorResponse xmlns="${NAMESPACE}"><Error><Type>Sender</Type><Code>${code}</Code>` +
    `<Message>${xml(message)}</Message></Error><RequestId>${request.requestId}</RequestId></ErrorResponse>`;
  return { status, headers: xmlHeaders(request.requestId), body };
}

function xmlHeaders(requestId: string): Record<string, string> {
  return { 'content-type': 'text/xml', 'x-amzn-RequestId': requestId };
}

/** Escapes element text (the only place values go). */
function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface WebIdentityClaims {
  subject: string;
  audience: string;
  provider: string;
}

/** The claims STS echoes back, read from a JWT's payload when the token is one (EKS's is). */
function jwtClaims(token: string): WebIdentityClaims {
  let claims: { sub?: unknown; aud?: unknown; iss?: unknown } = {};
  try {
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    // Not a JWT: answer with neutral values.
  }
  const text = (value: unknown, fallback: string) =>
    typeof value === 'string'
      ? value
      : Array.isArray(value) && typeof value[0] === 'string'
        ? value[0]
        : fallback;
  return {
    subject: text(claims.sub, 'web-identity-subject'),
    audience: text(claims.aud, 'sts.amazonaws.com'),
    provider: text(claims.iss, 'emulator.local').replace(/^https:\/\//, ''),
  };
}
