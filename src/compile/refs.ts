// Resolves a route's Secret references. Every failure has a reason the user
// can act on: SecretNotFound, KeyNotFound, InvalidSecret, RefNotPermitted.
import { Sensitive } from '../api/sensitive.ts';
import type { LambdaRouteSpec, SecretObject } from '../api/types.ts';
import type { StaticCredentials } from '../model/route.ts';
import { perObject } from '../util/per-object.ts';

export interface RefError {
  reason: 'SecretNotFound' | 'KeyNotFound' | 'InvalidSecret' | 'RefNotPermitted';
  message: string;
}

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
): ResolvedAuth | RefError {
  const resolved: ResolvedAuth = {};
  const apiKeyRef = auth?.apiKey?.secretRef;
  if (apiKeyRef) {
    const secret = findSecret(namespace, apiKeyRef, 'spec.auth.apiKey.secretRef', lookup);
    if ('reason' in secret) return secret;
    const value = readKey(secret, apiKeyRef.key, 'spec.auth.apiKey.secretRef', true);
    if (!(value instanceof Sensitive)) return value!;
    resolved.apiKey = value;
  }
  const iamRef = auth?.iam?.secretRef;
  if (iamRef) {
    const secret = findSecret(namespace, iamRef, 'spec.auth.iam.secretRef', lookup);
    if ('reason' in secret) return secret;
    const credentials = staticCredentials(secret);
    if ('reason' in credentials) return credentials;
    resolved.staticCredentials = credentials;
  }
  return resolved;
}

/**
 * The keys of an IAM Secret, read once per Secret object: every route using
 * the Secret shares them, and they stay the same objects across compiles
 * while the Secret is unchanged, so signers and their caches are kept too.
 */
const staticCredentials = perObject((secret: SecretObject): StaticCredentials | RefError => {
  const accessKeyId = readKey(secret, 'accessKeyId', 'spec.auth.iam.secretRef', true);
  const secretAccessKey = readKey(secret, 'secretAccessKey', 'spec.auth.iam.secretRef', true);
  const sessionToken = readKey(secret, 'sessionToken', 'spec.auth.iam.secretRef', false);
  const error = [accessKeyId, secretAccessKey, sessionToken].find((v) => v && !(v instanceof Sensitive));
  return (
    (error as RefError | undefined) ?? {
      kind: 'static',
      accessKeyId: accessKeyId as Sensitive,
      secretAccessKey: secretAccessKey as Sensitive,
      ...(sessionToken && { sessionToken: sessionToken as Sensitive }),
    }
  );
});

function findSecret(
  namespace: string,
  ref: { name: string; namespace?: string },
  field: string,
  lookup: SecretLookup,
): SecretObject | RefError {
  if (ref.namespace !== undefined && ref.namespace !== namespace) {
    return {
      reason: 'RefNotPermitted',
      message: `${field}: refers to namespace ${ref.namespace}; Secrets must be in the route's namespace ${namespace}`,
    };
  }
  const secret = lookup.get(namespace, ref.name);
  if (secret) return secret;
  const elsewhere = lookup.namespacesOf(ref.name);
  const hint =
    elsewhere.length === 0
      ? ''
      : ` (a Secret ${ref.name} exists in namespace ${elsewhere.join(', ')}; Secrets must be in the route's namespace)`;
  return { reason: 'SecretNotFound', message: `${field}: Secret ${namespace}/${ref.name} not found${hint}` };
}

/** The trimmed value of `key`; KeyNotFound when a required key is absent, undefined when an optional one is. */
function readKey(
  secret: SecretObject,
  key: string,
  field: string,
  required: boolean,
): Sensitive | RefError | undefined {
  const { namespace, name } = secret.metadata;
  const where = `${field}: key ${key} of Secret ${namespace}/${name}`;
  const unreadable = secret.invalidKeys?.[key];
  if (unreadable !== undefined)
    return { reason: 'InvalidSecret', message: `${where} cannot be read: ${unreadable}` };
  const bytes = secret.data[key];
  if (bytes === undefined) {
    return required
      ? { reason: 'KeyNotFound', message: `${field}: Secret ${namespace}/${name} has no key ${key}` }
      : undefined;
  }
  // A trailing newline from `echo … | base64` is the common mistake; trim it rather than fail.
  const value = bytes.toString('utf8').trim();
  if (value === '') return { reason: 'InvalidSecret', message: `${where} is empty` };
  if (/\s/.test(value)) return { reason: 'InvalidSecret', message: `${where} contains whitespace` };
  return new Sensitive(value);
}
