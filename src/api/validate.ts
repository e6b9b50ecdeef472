// Validates a LambdaRoute spec with the one schema: ajv for structure and
// defaults, then the schema's CEL rules (x-kubernetes-validations) with cel-js,
// so standalone mode rejects exactly what the API server would.
import { type ParseResult, parse } from '@marcbachmann/cel-js';
import { Ajv, type ErrorObject } from 'ajv';
import { closest } from '../util/closest.ts';
import { perObject } from '../util/per-object.ts';
import type { Failure, Result } from './failure.ts';
import { specSchema } from './schema.ts';
import type { LambdaRouteSpec } from './types.ts';

/** One field that is wrong; `path` is dotted from the object root, e.g. "spec.match.path". */
export type FieldError = Failure<'Invalid'> & { path: string };

/** `partial` is the input with whatever defaults could be applied, for reading the valid parts. */
export type ValidationResult =
  | Extract<Result<LambdaRouteSpec>, { ok: true }>
  | { ok: false; failures: readonly [FieldError, ...FieldError[]]; partial: unknown };

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
// Kubernetes annotations in the schema: list semantics are checked below, CEL rules by celErrors(), the rest
// are for the API server (int-or-string nodes carry no type: their CEL rules check the value).
ajv.addKeyword({ keyword: 'x-kubernetes-validations' });
ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys' });
ajv.addKeyword({ keyword: 'x-kubernetes-int-or-string' });
ajv.addKeyword({
  keyword: 'x-kubernetes-list-type',
  type: 'array',
  schemaType: 'string',
  error: { message: 'must not contain duplicate items' },
  validate: (listType: string, data: unknown[]) => listType !== 'set' || new Set(data).size === data.length,
});
const validateStructure = ajv.compile(specSchema);

/** Validates and defaults a copy of `spec` (the input is not modified); every error names its field path below "spec". */
export function validateSpec(spec: unknown): ValidationResult {
  return typeof spec === 'object' && spec !== null ? validateObject(spec) : validateUncached(spec);
}

/**
 * Results by spec object. Sources hand over a new object for every change and
 * the same object while a route is unchanged, so recompiling 10,000 routes
 * after one edit validates one. Results are shared: treat them as read-only.
 */
const validateObject = perObject((spec: object) => validateUncached(spec));

function validateUncached(spec: unknown): ValidationResult {
  const copy = structuredClone(spec);
  const structureOk = validateStructure(copy);
  const errors = structureOk ? [] : (validateStructure.errors ?? []).map(toFieldError);
  errors.push(...celErrors(specSchema, copy, 'spec'));
  const [first, ...rest] = errors;
  return first === undefined
    ? { ok: true, value: sharingUnchanged(copy, spec) as LambdaRouteSpec }
    : { ok: false, failures: [first, ...rest], partial: copy };
}

/**
 * The defaulted copy with every part that defaults left as it was replaced by
 * the input's own (objects, arrays and their strings): 10,000 routes need not
 * be held twice, once as sent and once as validated. Both are read-only.
 */
function sharingUnchanged(copy: unknown, original: unknown): unknown {
  if (typeof copy !== 'object' || copy === null || typeof original !== 'object' || original === null) {
    return copy === original ? original : copy;
  }
  if (Array.isArray(copy) !== Array.isArray(original)) return copy;
  let same = Object.keys(copy).length === Object.keys(original).length;
  const target = copy as Record<string, unknown>;
  for (const [key, value] of Object.entries(target)) {
    const shared = sharingUnchanged(value, (original as Record<string, unknown>)[key]);
    target[key] = shared;
    same &&= Object.hasOwn(original, key) && shared === (original as Record<string, unknown>)[key];
  }
  return same ? original : copy;
}

/**
 * A check of one field of the spec alone, against its part of the schema and
 * its CEL rules: for reading the valid parts of a spec that is invalid elsewhere.
 * `field` is a property path below spec, such as ['match', 'path'].
 */
export function fieldValidator(field: readonly string[]): (value: unknown) => boolean {
  let schema = specSchema as SchemaNode;
  for (const name of field) schema = schema.properties![name]!;
  const validate = ajv.compile(schema);
  return (value) => validate(structuredClone(value)) && celErrors(schema, value, 'spec').length === 0;
}

function toFieldError(error: ErrorObject): FieldError {
  const path = error.instancePath.split('/').slice(1).map(decodePointer);
  let message = error.message ?? 'is invalid';
  if (error.keyword === 'additionalProperties') {
    const name = String(error.params['additionalProperty']);
    path.push(name);
    const known = closest(name, Object.keys(error.parentSchema?.['properties'] ?? {}));
    message = known ? `unknown field (did you mean ${known}?)` : 'unknown field';
  } else if (error.keyword === 'required') {
    path.push(String(error.params['missingProperty']));
    message = 'is required';
  } else if (error.keyword === 'enum') {
    message = `must be one of ${(error.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  } else if (error.keyword === 'pattern' && error.parentSchema?.['description']) {
    message = `${message}: ${error.parentSchema['description']}`;
  }
  return {
    reason: 'Invalid',
    path: ['spec', ...path].join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]'),
    message,
  };
}

function decodePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

interface CelRule {
  rule: string;
  message: string;
  /** Evaluated for the message when the rule fails; `message` when it cannot be (as the API server does). */
  messageExpression?: string;
  fieldPath?: string;
}

interface SchemaNode {
  readonly [keyword: string]: unknown;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly items?: SchemaNode;
  readonly 'x-kubernetes-validations'?: readonly CelRule[];
}

/** Evaluates CEL rules depth-first over the defaulted object (on every value present), like the API server does. */
function celErrors(schema: SchemaNode, data: unknown, path: string): FieldError[] {
  if (data === undefined) return [];
  const errors: FieldError[] = [];
  const rules = schema['x-kubernetes-validations'] ?? [];
  const self = rules.length > 0 ? escapeForCel(data) : undefined;
  for (const { rule, message, messageExpression, fieldPath } of rules) {
    let passed: unknown;
    try {
      passed = program(rule)({ self });
    } catch {
      // A type error here means the structure is already invalid, and ajv has said where.
      continue;
    }
    if (passed !== true) {
      errors.push({
        reason: 'Invalid',
        path: path + (fieldPath ?? ''),
        message: evaluatedMessage(messageExpression, self) ?? message,
      });
    }
  }
  if (typeof data !== 'object' || data === null) return errors;
  if (Array.isArray(data) && schema.items) {
    for (const [i, item] of data.entries()) errors.push(...celErrors(schema.items, item, `${path}[${i}]`));
  } else {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      errors.push(...celErrors(child, (data as Record<string, unknown>)[key], `${path}.${key}`));
    }
  }
  return errors;
}

function evaluatedMessage(expression: string | undefined, self: unknown): string | undefined {
  if (expression === undefined) return undefined;
  try {
    const message = program(expression)({ self });
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

const programs = new Map<string, ParseResult>();

/** Rules are parsed once; the schema has a handful. */
function program(rule: string): ParseResult {
  let parsed = programs.get(rule);
  if (!parsed) {
    parsed = parse(rule);
    programs.set(rule, parsed);
  }
  return parsed;
}

// The API server exposes properties named like CEL keywords as __keyword__
// (e.g. target.function is self.__function__ in a rule); do the same here.
const celReserved = new Set(
  'true false null in as break const continue else for function if import let loop package namespace return var void while'.split(
    ' ',
  ),
);

function escapeForCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(escapeForCel);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [celReserved.has(k) ? `__${k}__` : k, escapeForCel(v)]),
  );
}
