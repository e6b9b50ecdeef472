// Parses multi-document YAML (what `kubectl apply -f` takes) into LambdaRoute
// and Secret objects. Pure: the file source and the golden tests share it.
// Every problem names its origin ("file.yaml#2" is the third document).
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND, type LambdaRouteObject, type SecretObject } from '../api/types.ts';
import { objectKey, type Snapshot, type SourceError } from '../compile/snapshot.ts';

/** A document problem; `object` ("Secret default/aws") when the broken document still says what it is. */
export interface ManifestError extends SourceError {
  object?: string;
}

export interface ParsedManifests {
  routes: LambdaRouteObject[];
  secrets: SecretObject[];
  errors: ManifestError[];
  /** True when the YAML itself is broken: nothing in the file can be trusted. */
  syntaxError: boolean;
}

const DEFAULT_NAMESPACE = 'default';

export function parseManifests(text: string, file: string): ParsedManifests {
  const parsed: ParsedManifests = { routes: [], secrets: [], errors: [], syntaxError: false };
  parseAllDocuments(text).forEach((doc, index) => {
    const origin = `${file}#${index}`;
    if (doc.errors.length > 0) {
      parsed.syntaxError = true;
      parsed.errors.push({ origin, message: `invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}` });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document, e.g. after a trailing ---
    const object = readObject(value, origin);
    if ('message' in object) parsed.errors.push(object);
    else if ('spec' in object) parsed.routes.push(object);
    else parsed.secrets.push(object);
  });
  return parsed;
}

function readObject(value: unknown, origin: string): LambdaRouteObject | SecretObject | ManifestError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { origin, message: 'expected a Kubernetes object (a YAML mapping)' };
  }
  const object = value as Record<string, unknown>;
  const metadata = readMetadata(object['metadata']);
  if (typeof metadata === 'string') return { origin, message: metadata };
  if (object['apiVersion'] === API_VERSION && object['kind'] === KIND) {
    return { apiVersion: API_VERSION, kind: KIND, metadata, spec: object['spec'], origin };
  }
  if (object['apiVersion'] === 'v1' && object['kind'] === 'Secret') {
    const data = readSecretData(object);
    const key = `Secret ${metadata.namespace}/${metadata.name}`;
    return typeof data === 'string'
      ? { origin, message: `${key}: ${data}`, object: key }
      : { metadata, data, origin };
  }
  return {
    origin,
    message: `unsupported object ${String(object['apiVersion'])}/${String(object['kind'])}: expected ${API_VERSION}/${KIND} or v1/Secret`,
  };
}

function readMetadata(metadata: unknown): LambdaRouteObject['metadata'] | string {
  if (typeof metadata !== 'object' || metadata === null) return 'metadata is required';
  const { name, namespace, creationTimestamp, generation } = metadata as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') return 'metadata.name is required';
  if (namespace !== undefined && typeof namespace !== 'string') return 'metadata.namespace must be a string';
  return {
    name,
    namespace: namespace || DEFAULT_NAMESPACE,
    ...(typeof generation === 'number' && { generation }),
    // YAML may turn an unquoted timestamp into a Date.
    ...(creationTimestamp !== undefined && {
      creationTimestamp:
        creationTimestamp instanceof Date ? creationTimestamp.toISOString() : String(creationTimestamp),
    }),
  };
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Secret data as Kubernetes stores it: `data` is base64, `stringData` overrides it key by key. */
function readSecretData(secret: Record<string, unknown>): Record<string, Buffer> | string {
  const data: Record<string, Buffer> = {};
  for (const [field, decode] of [
    ['data', (v: string) => Buffer.from(v, 'base64')],
    ['stringData', (v: string) => Buffer.from(v, 'utf8')],
  ] as const) {
    const values = secret[field];
    if (values === undefined || values === null) continue;
    if (typeof values !== 'object' || Array.isArray(values)) return `${field} must be a mapping`;
    for (const [key, value] of Object.entries(values)) {
      if (typeof value !== 'string') return `${field}.${key} must be a string`;
      const clean = field === 'data' ? value.replace(/\s+/g, '') : value;
      if (field === 'data' && (!base64.test(clean) || clean.length % 4 !== 0)) {
        return `data.${key} is not valid base64 (use stringData for plain text)`;
      }
      data[key] = decode(clean);
    }
  }
  return data;
}

/** A snapshot of one parsed file (the file source merges many; tests and benchmarks use one). */
export function snapshotOf(parsed: ParsedManifests): Snapshot {
  return {
    routes: parsed.routes,
    secrets: new Map(parsed.secrets.map((s) => [objectKey(s.metadata), s])),
    errors: parsed.errors.map(({ origin, message }) => ({ origin, message })),
  };
}
