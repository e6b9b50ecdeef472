// Failures in one shape: what compile puts in conditions, what the status
// writer writes, what metrics count, what the data plane's 503 bodies and the
// logs say. A function that can fail returns a Result; its reasons are a
// closed union, so a reason compared or counted anywhere is one the compiler
// knows.

/** Why a route is not accepted, has unresolved references or cannot serve, by the condition that says it first. */
export const REASONS = {
  Accepted: ['Invalid', 'Conflicted'],
  ResolvedRefs: [
    'SecretNotFound',
    'KeyNotFound',
    'InvalidSecret',
    'RefNotPermitted',
    'InvalidCertificate',
    'CertificateConflict',
  ],
  /** Found while serving rather than by compile: Ready=False until it clears. */
  Ready: ['CredentialsUnavailable', 'FunctionNotFound'],
} as const;

/** Accepted=False. */
export type NotAcceptedReason = (typeof REASONS.Accepted)[number];
/** ResolvedRefs=False: a Secret reference that cannot be used. */
export type RefReason = (typeof REASONS.ResolvedRefs)[number];
/** Ready=False for a route that compile accepted and resolved. */
export type ServingReason = (typeof REASONS.Ready)[number];
/** Any reason a condition is False for (the README's Status table). */
export type Reason = NotAcceptedReason | RefReason | ServingReason;

export interface Failure<R extends string = Reason> {
  reason: R;
  /** What is wrong, for users; without the field path. */
  message: string;
  /** The field it is about, from the object root ("spec.auth.iam.secretRef"), where there is one. */
  path?: string;
}

/** The value of a function that can fail, or its failures (at least one). */
export type Result<T, R extends string = Reason> =
  | { ok: true; value: T }
  | { ok: false; failures: readonly [Failure<R>, ...Failure<R>[]] };

export const succeed = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

export function fail<R extends string>(
  reason: R,
  message: string,
  path?: string,
): { ok: false; failures: [Failure<R>] } {
  return { ok: false, failures: [{ reason, message, ...(path !== undefined && { path }) }] };
}

/** "spec.match.path: must match …": the path first, where there is one. */
export const failureText = (failure: Failure<string>): string =>
  failure.path === undefined ? failure.message : `${failure.path}: ${failure.message}`;

/** Several failures in one message, as conditions and logs give them. */
export const failuresText = (failures: readonly Failure<string>[]): string =>
  failures.map(failureText).join('; ');
