// Failures in one shape: what compile puts in conditions, what the status
// writer writes, what metrics count, what the data plane's 503 bodies and the
// logs say. A function that can fail returns a Result; its reasons are a
// closed union, so a reason compared or counted anywhere is one the compiler
// knows.

/** Why a route is not accepted, has unresolved references or cannot serve (the README's Status table). */
export type Reason =
  | 'Invalid'
  | 'Conflicted'
  | 'SecretNotFound'
  | 'KeyNotFound'
  | 'InvalidSecret'
  | 'RefNotPermitted'
  | 'CredentialsUnavailable'
  | 'FunctionNotFound';

/** Accepted=False. */
export type NotAcceptedReason = Extract<Reason, 'Invalid' | 'Conflicted'>;
/** ResolvedRefs=False: a Secret reference that cannot be used. */
export type RefReason = Extract<
  Reason,
  'SecretNotFound' | 'KeyNotFound' | 'InvalidSecret' | 'RefNotPermitted'
>;
/** Found while serving rather than by compile: Ready=False until it clears. */
export type ServingReason = Extract<Reason, 'CredentialsUnavailable' | 'FunctionNotFound'>;

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
