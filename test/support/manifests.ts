// Builders for the manifests tests hand to lambda-ingress (a file source, or
// kubectl apply): the boilerplate is written once, the test writes what it is
// about. Every object gets an explicit namespace, `default` unless told.

/** Keys of an AWS credentials Secret, as the route's `auth.iam.secretRef` reads them. */
export interface CredentialKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** `text` without blank lines around it, each line indented by `by`, ending in a newline. */
function indent(text: string, by = '  '): string {
  const body = text.replace(/^(\s*\n)+/, '').trimEnd();
  return `${body.replace(/^(?=.)/gm, by)}\n`;
}

const metadata = (name: string, namespace: string) => `metadata: {name: ${name}, namespace: ${namespace}}`;

/**
 * A LambdaRoute. `spec` is its spec in YAML written from column 0 (no leading
 * indentation, blank lines around it are dropped); it is indented under `spec:`.
 *
 *     lambdaRoute('hello', `match: {path: /hello}\ntarget: {url: "${url}"}`)
 */
export function lambdaRoute(name: string, spec: string, namespace = 'default'): string {
  return `apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
${metadata(name, namespace)}
spec:
${indent(spec)}`;
}

/** A v1 Secret with these `stringData` values (each written as a quoted string). */
export function secret(name: string, stringData: Record<string, string>, namespace = 'default'): string {
  const values = Object.entries(stringData).map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
  return `apiVersion: v1
kind: Secret
${metadata(name, namespace)}
stringData:
${indent(values.join('\n'))}`;
}

/** A `kubernetes.io/tls` Secret holding `pair`, as `kubectl create secret tls` makes it. */
export function tlsSecret(name: string, pair: { cert: string; key: string }, namespace = 'default'): string {
  return `apiVersion: v1
kind: Secret
${metadata(name, namespace)}
type: kubernetes.io/tls
stringData:
${indent(`tls.crt: ${JSON.stringify(pair.cert)}\ntls.key: ${JSON.stringify(pair.key)}`)}`;
}

/** A Secret holding AWS keys: accessKeyId, secretAccessKey and, when given, sessionToken. */
export function credentialsSecret(name: string, keys: CredentialKeys, namespace = 'default'): string {
  const { accessKeyId, secretAccessKey, sessionToken } = keys;
  return secret(name, { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) }, namespace);
}

/** One multi-document YAML stream: the documents joined by `---`, each ending in a newline. */
export function documents(...docs: string[]): string {
  return docs.map((doc) => (doc.endsWith('\n') ? doc : `${doc}\n`)).join('---\n');
}
