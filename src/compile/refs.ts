// Resolves a route's Secret references. Every failure has a reason the user
// can act on: SecretNotFound, KeyNotFound, InvalidSecret, RefNotPermitted.
import { fail, type RefReason, type Result, succeed } from '../api/failure.ts';
import { Sensitive } from '../api/sensitive.ts';
import { IAM_SECRET_KEYS, type LambdaRouteSpec, type SecretObject } from '../api/types.ts';
import type { StaticCredentials } from '../model/route.ts';
import { perObject } from '../util/per-object.ts';

type RefResult<T> = Result<T, RefReason>;

export interface ResolvedAuth {
  apiKey?: Sensitive;
  staticCredentials?: StaticCredentials;
}

export interface SecretLookup {
  get(namespace: string, name: string): SecretObject | undefined;
  /** Namespaces holding a Secret of this name: said when the route's own namespace has none. */
  namespacesOf(name: string): readonly string[];
}

export function resolveRefs(
  namespace: string,
  auth: LambdaRouteSpec['auth'],
  lookup: SecretLookup,
): RefResult<ResolvedAuth> {
  const resolved: ResolvedAuth = {};
  const apiKeyRef = auth?.apiKey?.secretRef;
  if (apiKeyRef) {
    const secret = findSecret(namespace, apiKeyRef, 'spec.auth.apiKey.secretRef', lookup);
    if (!secret.ok) return secret;
    const value = readKey(secret.value, apiKeyRef.key, 'spec.auth.apiKey.secretRef', true);
    if (!value.ok) return value;
    resolved.apiKey = value.value!;
  }
  const iamRef = auth?.iam?.secretRef;
  if (iamRef) {
    const secret = findSecret(namespace, iamRef, 'spec.auth.iam.secretRef', lookup);
    if (!secret.ok) return secret;
    const credentials = staticCredentials(secret.value);
    if (!credentials.ok) return credentials;
    resolved.staticCredentials = credentials.value;
  }
  return succeed(resolved);
}

/**
 * The keys of an IAM Secret, read once per Secret object: every route using
 * the Secret shares them, and they stay the same objects across compiles
 * while the Secret is unchanged, so signers and their caches are kept too.
 */
const staticCredentials = perObject((secret: SecretObject): RefResult<StaticCredentials> => {
  const accessKeyId = readKey(secret, IAM_SECRET_KEYS.accessKeyId, 'spec.auth.iam.secretRef', true);
  if (!accessKeyId.ok) return accessKeyId;
  const secretAccessKey = readKey(secret, IAM_SECRET_KEYS.secretAccessKey, 'spec.auth.iam.secretRef', true);
  if (!secretAccessKey.ok) return secretAccessKey;
  const sessionToken = readKey(secret, IAM_SECRET_KEYS.sessionToken, 'spec.auth.iam.secretRef', false);
  if (!sessionToken.ok) return sessionToken;
  return succeed({
    kind: 'static',
    accessKeyId: accessKeyId.value!,
    secretAccessKey: secretAccessKey.value!,
    ...(sessionToken.value && { sessionToken: sessionToken.value }),
  });
});

function findSecret(
  namespace: string,
  ref: { name: string; namespace?: string },
  field: string,
  lookup: SecretLookup,
): RefResult<SecretObject> {
  if (ref.namespace !== undefined && ref.namespace !== namespace) {
    return fail(
      'RefNotPermitted',
      `refers to namespace ${ref.namespace}; Secrets must be in the route's namespace ${namespace}`,
      field,
    );
  }
  const secret = lookup.get(namespace, ref.name);
  if (secret) return succeed(secret);
  const elsewhere = lookup.namespacesOf(ref.name);
  const hint =
    elsewhere.length === 0
      ? ''
      : ` (a Secret ${ref.name} exists in namespace ${elsewhere.join(', ')}; Secrets must be in the route's namespace)`;
  return fail('SecretNotFound', `Secret ${namespace}/${ref.name} not found${hint}`, field);
}

/**
 * The trimmed value of `key`; KeyNotFound when a required key is absent, an
 * undefined value when an optional one is.
 */
function readKey(
  secret: SecretObject,
  key: string,
  field: string,
  required: boolean,
): RefResult<Sensitive | undefined> {
  const { namespace, name } = secret.metadata;
  const where = `key ${key} of Secret ${namespace}/${name}`;
  const unreadable = secret.invalidKeys?.[key];
  if (unreadable !== undefined) return fail('InvalidSecret', `${where} cannot be read: ${unreadable}`, field);
  const bytes = secret.data[key];
  if (bytes === undefined) {
    return required
      ? fail('KeyNotFound', `Secret ${namespace}/${name} has no key ${key}`, field)
      : succeed(undefined);
  }
  // A trailing newline from `echo … | base64` is the common mistake; trim it rather than fail.
  const value = bytes.toString('utf8').trim();
  if (value === '') return fail('InvalidSecret', `${where} is empty`, field);
  if (/\s/.test(value)) return fail('InvalidSecret', `${where} contains whitespace`, field);
  return succeed(new Sensitive(value));
}
