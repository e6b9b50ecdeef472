// Parses multi-document YAML (what `kubectl apply -f` takes) into LambdaRoute
// and Secret objects. Pure: the file source and the golden tests share it.
// Every problem names its origin ("file.yaml#2" is the third document).
// Hostile input is bounded: aliases are capped (an alias bomb expands 9^4
// nodes from ten lines) and duplicate keys are found in linear time (the yaml
// package's own check compares every pair of keys in a mapping).
import { type Document, isScalar, parseAllDocuments, visit } from 'yaml';
import { fail, type Result, succeed } from '../api/failure.ts';
import { objectKey, type Snapshot, type SourceError } from '../api/snapshot.ts';
import {
  API_VERSION,
  KIND,
  type LambdaRouteObject,
  type ObjectMeta,
  type SecretObject,
} from '../api/types.ts';

/** A document problem; `secret` ("default/aws") when the document is a Secret that says its name. */
export interface ManifestError extends SourceError {
  secret?: string;
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
const MAX_ALIAS_COUNT = 100;

export function parseManifests(text: string, file: string): ParsedManifests {
  const parsed: ParsedManifests = { routes: [], secrets: [], errors: [], unreadable: false };
  const unreadable = (origin: string, message: string) => markUnreadable(parsed, origin, message);
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
    readDocument(value, origin, parsed);
  }
  return parsed;
}

/** A problem that makes the whole file untrustworthy (see ParsedManifests.unreadable). */
function markUnreadable(parsed: ParsedManifests, origin: string, message: string): void {
  parsed.unreadable = true;
  parsed.errors.push({ origin, message });
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

/**
 * Adds the object a document describes to `parsed`, or its problem: a
 * document that is not a named Kubernetes object at all makes the file
 * unreadable; another kind of object, or a Secret whose data cannot be read,
 * is an error about that document alone.
 */
function readDocument(value: unknown, origin: string, parsed: ParsedManifests): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    markUnreadable(parsed, origin, 'expected a Kubernetes object (a YAML mapping)');
    return;
  }
  const object = value as Record<string, unknown>;
  const metadata = readMetadata(object['metadata']);
  if (!metadata.ok) {
    markUnreadable(parsed, origin, metadata.failures[0].message);
    return;
  }
  if (object['apiVersion'] === API_VERSION && object['kind'] === KIND) {
    parsed.routes.push({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: metadata.value,
      spec: object['spec'],
      origin,
    });
    return;
  }
  if (object['apiVersion'] === 'v1' && object['kind'] === 'Secret') {
    const secret = objectKey(metadata.value);
    const read = readSecretData(object);
    if (!read.ok) {
      parsed.errors.push({ origin, message: `Secret ${secret}: ${read.failures[0].message}`, secret });
      return;
    }
    const type = object['type'];
    parsed.secrets.push({
      metadata: metadata.value,
      ...(typeof type === 'string' && { type }),
      ...read.value,
      origin,
    });
    const problems = Object.values(read.value.invalidKeys ?? {});
    if (problems.length > 0) {
      parsed.errors.push({ origin, message: `Secret ${secret}: ${problems.join('; ')}`, secret });
    }
    return;
  }
  parsed.errors.push({
    origin,
    message: `unsupported object ${String(object['apiVersion'])}/${String(object['kind'])}: expected ${API_VERSION}/${KIND} or v1/Secret`,
  });
}

function readMetadata(metadata: unknown): Result<ObjectMeta, 'Invalid'> {
  if (typeof metadata !== 'object' || metadata === null) return fail('Invalid', 'metadata is required');
  const { name, namespace, creationTimestamp, generation } = metadata as Record<string, unknown>;
  if (typeof name !== 'string' || name === '') return fail('Invalid', 'metadata.name is required');
  if (namespace !== undefined && typeof namespace !== 'string') {
    return fail('Invalid', 'metadata.namespace must be a string');
  }
  return succeed({
    name,
    namespace: namespace || DEFAULT_NAMESPACE,
    ...(typeof generation === 'number' && { generation }),
    // YAML may turn an unquoted timestamp into a Date.
    ...(creationTimestamp !== undefined && {
      creationTimestamp:
        creationTimestamp instanceof Date ? creationTimestamp.toISOString() : String(creationTimestamp),
    }),
  });
}

const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Secret data as Kubernetes stores it: `data` is base64, `stringData`
 * overrides it key by key. A value that cannot be read is left out and named
 * in `invalidKeys` (key: why), so that routes using it can say so.
 */
function readSecretData(
  secret: Record<string, unknown>,
): Result<Pick<SecretObject, 'data' | 'invalidKeys'>, 'InvalidSecret'> {
  const data = new Map<string, Buffer>();
  const invalidKeys = new Map<string, string>();
  for (const [field, decode] of [
    ['data', (v: string) => Buffer.from(v, 'base64')],
    ['stringData', (v: string) => Buffer.from(v, 'utf8')],
  ] as const) {
    const values = secret[field];
    if (values === undefined || values === null) continue;
    if (typeof values !== 'object' || Array.isArray(values))
      return fail('InvalidSecret', `${field} must be a mapping`);
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
  return succeed({
    data: Object.fromEntries(data),
    ...(invalidKeys.size > 0 && { invalidKeys: Object.fromEntries(invalidKeys) }),
  });
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
