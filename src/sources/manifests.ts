// Parses multi-document YAML (what `kubectl apply -f` takes) into LambdaRoute
// and Secret objects. Pure: the file source and the golden tests share it.
// Every problem names its origin ("file.yaml#2" is the third document).
// Hostile input is bounded: aliases are capped (an alias bomb expands 9^4
// nodes from ten lines) and duplicate keys are found in linear time (the yaml
// package's own check compares every pair of keys in a mapping).
import { type Document, isScalar, parseAllDocuments, visit } from 'yaml';
import { objectKey, type Snapshot, type SourceError } from '../api/snapshot.ts';
import { API_VERSION, KIND, type LambdaRouteObject, type SecretObject } from '../api/types.ts';

/** A document problem; `object` ("Secret default/aws") when the broken document still says what it is. */
export interface ManifestError extends SourceError {
  object?: string;
}

export interface ParsedManifests {
  routes: LambdaRouteObject[];
  secrets: SecretObject[];
  errors: ManifestError[];
  /**
   * True when the file cannot be trusted as a whole: its YAML is broken, or a
   * document is not a Kubernetes object with a name (as a file that is still
   * being written looks).
   */
  unreadable: boolean;
}

const DEFAULT_NAMESPACE = 'default';

/** Aliases one document may expand (the yaml package's default, stated because it is what stops an alias bomb). */
export const MAX_ALIAS_COUNT = 100;

export function parseManifests(text: string, file: string): ParsedManifests {
  const parsed: ParsedManifests = { routes: [], secrets: [], errors: [], unreadable: false };
  const unreadable = (origin: string, message: string) => {
    parsed.unreadable = true;
    parsed.errors.push({ origin, message });
  };
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { uniqueKeys: false });
  } catch (error) {
    unreadable(file, `invalid YAML: ${firstLine(error)}`);
    return parsed;
  }
  for (const [index, doc] of docs.entries()) {
    const origin = `${file}#${index}`;
    let value: unknown;
    try {
      const problem = doc.errors[0]?.message ?? duplicateKey(doc);
      if (problem) {
        unreadable(origin, `invalid YAML: ${problem.split('\n')[0]}`);
        continue;
      }
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      // "Excessive alias count": more aliases than MAX_ALIAS_COUNT.
      unreadable(origin, `invalid YAML: ${firstLine(error)}`);
      continue;
    }
    if (value === null || value === undefined) continue; // an empty document, e.g. after a trailing ---
    const object = readObject(value, origin);
    if (typeof object === 'string') unreadable(origin, object);
    else if ('message' in object) parsed.errors.push(object);
    else if ('spec' in object) parsed.routes.push(object);
    else {
      parsed.secrets.push(object);
      const problems = Object.values(object.invalidKeys ?? {});
      const key = `Secret ${objectKey(object.metadata)}`;
      if (problems.length > 0)
        parsed.errors.push({ origin, message: `${key}: ${problems.join('; ')}`, object: key });
    }
  }
  return parsed;
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0];

/** The first key repeated within one mapping, as the yaml package would report it. */
function duplicateKey(doc: Document.Parsed): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        const value = isScalar(key) ? key.value : key;
        if (seen.has(value)) {
          found = `Map keys must be unique (${String(value)})`;
          return visit.BREAK;
        }
        seen.add(value);
      }
      return undefined;
    },
  });
  return found;
}

/** The object a document describes; a string when it is not a named Kubernetes object at all. */
function readObject(
  value: unknown,
  origin: string,
): LambdaRouteObject | SecretObject | ManifestError | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'expected a Kubernetes object (a YAML mapping)';
  }
  const object = value as Record<string, unknown>;
  const metadata = readMetadata(object['metadata']);
  if (typeof metadata === 'string') return metadata;
  if (object['apiVersion'] === API_VERSION && object['kind'] === KIND) {
    return { apiVersion: API_VERSION, kind: KIND, metadata, spec: object['spec'], origin };
  }
  if (object['apiVersion'] === 'v1' && object['kind'] === 'Secret') {
    const read = readSecretData(object);
    const key = `Secret ${metadata.namespace}/${metadata.name}`;
    return typeof read === 'string'
      ? { origin, message: `${key}: ${read}`, object: key }
      : { metadata, ...read, origin };
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

/**
 * Secret data as Kubernetes stores it: `data` is base64, `stringData`
 * overrides it key by key. A value that cannot be read is left out and named
 * in `invalidKeys` (key: why), so that routes using it can say so.
 */
function readSecretData(
  secret: Record<string, unknown>,
): Pick<SecretObject, 'data' | 'invalidKeys'> | string {
  const data = new Map<string, Buffer>();
  const invalidKeys = new Map<string, string>();
  for (const [field, decode] of [
    ['data', (v: string) => Buffer.from(v, 'base64')],
    ['stringData', (v: string) => Buffer.from(v, 'utf8')],
  ] as const) {
    const values = secret[field];
    if (values === undefined || values === null) continue;
    if (typeof values !== 'object' || Array.isArray(values)) return `${field} must be a mapping`;
    for (const [key, value] of Object.entries(values)) {
      const clean = typeof value === 'string' && field === 'data' ? value.replace(/\s+/g, '') : value;
      let problem: string | undefined;
      if (typeof clean !== 'string') problem = `${field}.${key} must be a string`;
      else if (field === 'data' && (!base64.test(clean) || clean.length % 4 !== 0)) {
        problem = `data.${key} is not valid base64 (use stringData for plain text)`;
      }
      if (problem) {
        invalidKeys.set(key, problem);
        data.delete(key);
      } else {
        data.set(key, decode(clean as string));
        invalidKeys.delete(key);
      }
    }
  }
  return {
    data: Object.fromEntries(data),
    ...(invalidKeys.size > 0 && { invalidKeys: Object.fromEntries(invalidKeys) }),
  };
}

/** A snapshot of one parsed file, read as at start-up (the file source merges many; tests use one). */
export function snapshotOf(parsed: ParsedManifests): Snapshot {
  return {
    routes: parsed.routes.map((route, readOrder) =>
      route.metadata.creationTimestamp ? route : { ...route, readOrder },
    ),
    secrets: new Map(parsed.secrets.map((s) => [objectKey(s.metadata), s])),
    errors: parsed.errors.map(({ origin, message }) => ({ origin, message })),
  };
}
