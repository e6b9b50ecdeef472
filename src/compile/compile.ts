// compile(snapshot) -> { table, diagnostics }: pure, no I/O. Validates each
// LambdaRoute, settles conflicts (oldest wins), resolves Secret references and
// compiles targets. Diagnostics are data: the status writer, /debug/routes and
// the data plane's 503 answers all read them.
import { specSchema } from '../api/schema.ts';
import { objectKey, type Snapshot } from '../api/snapshot.ts';
import type { Condition, LambdaRouteObject, LambdaRouteSpec } from '../api/types.ts';
import { type FieldError, validateSpec } from '../api/validate.ts';
import type { CompileResult, RouteDiagnostic } from '../model/compile-result.ts';
import type { CompiledRoute, IamAuth, ReadyRoute, RouteMatch } from '../model/route.ts';
import { RouteTable } from '../model/table.ts';
import { type Conflict, settleConflicts } from './conflicts.ts';
import { resolveRefs, type SecretLookup } from './refs.ts';
import { compileConnection, compileFunctionTarget, compileUrlTarget, urlSigningDefaults } from './targets.ts';

/** A route after validation: its spec, or its errors plus whatever part of the match could be read. */
interface Candidate {
  object: LambdaRouteObject;
  key: string;
  spec?: LambdaRouteSpec;
  errors?: FieldError[];
  match?: RouteMatch;
}

export function compile(snapshot: Snapshot, version: number): CompileResult {
  const candidates = snapshot.routes.map(validate);
  const conflicts = settleConflicts(
    candidates.filter((c): c is Candidate & { match: RouteMatch } => !!c.match),
  );
  const secrets = secretLookup(snapshot.secrets);
  const routes: CompiledRoute[] = [];
  const diagnostics: RouteDiagnostic[] = [];
  for (const candidate of candidates) {
    const { route, conditions } = build(candidate, conflicts.get(candidate.key), secrets);
    if (route) routes.push(route);
    const { metadata, origin } = candidate.object;
    diagnostics.push({
      key: candidate.key,
      namespace: metadata.namespace,
      name: metadata.name,
      ...(metadata.generation !== undefined && { generation: metadata.generation }),
      ...(origin !== undefined && { origin }),
      conditions: conditions.map((c) => ({
        ...c,
        ...(metadata.generation !== undefined && { observedGeneration: metadata.generation }),
      })),
    });
  }
  const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return {
    table: new RouteTable(version, routes.sort(byKey)),
    diagnostics: diagnostics.sort(byKey),
    errors: snapshot.errors,
  };
}

/** Secrets by namespace and name; the index by name is built only when a reference is missing. */
function secretLookup(secrets: Snapshot['secrets']): SecretLookup {
  let byName: Map<string, string[]> | undefined;
  return {
    get: (namespace, name) => secrets.get(`${namespace}/${name}`),
    namespacesOf(name) {
      byName ??= new Map(
        [...Map.groupBy(secrets.values(), (s) => s.metadata.name)].map(([secretName, found]) => [
          secretName,
          found.map((s) => s.metadata.namespace).sort(),
        ]),
      );
      return byName.get(name) ?? [];
    },
  };
}

function validate(object: LambdaRouteObject): Candidate {
  const key = objectKey(object.metadata);
  const result = validateSpec(object.spec);
  if (result.ok) return { object, key, spec: result.spec, match: toMatch(result.spec) };
  const match = readableMatch(result.partial as LambdaRouteSpec, result.errors);
  return { object, key, errors: result.errors, ...(match && { match }) };
}

function toMatch(spec: LambdaRouteSpec): RouteMatch {
  return {
    hosts: spec.hosts ?? [],
    path: spec.match.path,
    pathType: spec.match.pathType ?? 'Exact',
    methods: spec.match.methods ?? [],
  };
}

const PATH_TYPES: readonly string[] = specSchema.properties.match.properties.pathType.enum;
const METHODS: readonly string[] = specSchema.properties.match.properties.methods.items.enum;

/**
 * What an invalid route still claims, so that it answers 503 rather than
 * vanishing: its path when the path and hosts can be read, whatever else in
 * `match` is wrong. Only what is certain is claimed: an unreadable pathType
 * counts as Exact, and only the valid methods count (none: nothing is claimed).
 */
function readableMatch(partial: LambdaRouteSpec, errors: readonly FieldError[]): RouteMatch | undefined {
  if (errors.some((e) => /^spec(\.match|\.match\.path|\.hosts.*)?$/.test(e.field))) return undefined;
  const { path, pathType, methods } = partial.match;
  const listed: unknown = methods ?? [];
  if (!Array.isArray(listed)) return undefined;
  const valid = listed.filter((m) => METHODS.includes(m));
  if (listed.length > 0 && valid.length === 0) return undefined;
  return {
    hosts: partial.hosts ?? [],
    path,
    pathType: PATH_TYPES.includes(pathType) ? pathType : 'Exact',
    methods: [...new Set(valid)],
  };
}

const condition = (type: Condition['type'], ok: boolean, reason: string, message: string): Condition => ({
  type,
  status: ok ? 'True' : 'False',
  reason,
  message,
});

function build(
  candidate: Candidate,
  conflict: Conflict | undefined,
  secrets: SecretLookup,
): { route?: CompiledRoute; conditions: Condition[] } {
  const { key, object, spec, errors, match } = candidate;
  const base = { key, namespace: object.metadata.namespace, name: object.metadata.name };
  const identity = {
    ...base,
    ...(object.metadata.generation !== undefined && { generation: object.metadata.generation }),
    ...(object.origin !== undefined && { origin: object.origin }),
  };
  const notReady = (reason: string, message: string, resolvedRefs: Condition, accepted: Condition) => ({
    ...(match && !conflict && { route: { ...identity, match, ready: false as const, reason, message } }),
    conditions: [accepted, resolvedRefs, condition('Ready', false, reason, message)],
  });
  // A route that is not accepted never has its references looked at: they are neither resolved nor broken.
  const refsUnknown = (reason: 'Invalid' | 'Conflicted'): Condition => ({
    type: 'ResolvedRefs',
    status: 'Unknown',
    reason,
    message: `References are not resolved for a route that is not accepted (${reason})`,
  });

  if (!spec) {
    const message = errors!.map((e) => `${e.field}: ${e.message}`).join('; ');
    return notReady(
      'Invalid',
      message,
      refsUnknown('Invalid'),
      condition('Accepted', false, 'Invalid', message),
    );
  }
  if (conflict) {
    const winner = conflict.loadedFirst
      ? `the route ${conflict.winner} (loaded first)`
      : `the older route ${conflict.winner}`;
    const message = `${conflict.path} is served by ${winner}${conflict.host ? ` for host ${conflict.host}` : ''}`;
    return notReady(
      'Conflicted',
      message,
      refsUnknown('Conflicted'),
      condition('Accepted', false, 'Conflicted', message),
    );
  }

  const resolved = resolveRefs(object.metadata.namespace, spec.auth, secrets);
  const refs =
    'reason' in resolved
      ? condition('ResolvedRefs', false, resolved.reason, resolved.message)
      : condition('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved');

  const target = spec.target.url
    ? compileUrlTarget(spec.target.url, spec.target.forwardSubpath)
    : compileFunctionTarget(spec.target.function!, spec.auth?.iam?.region);
  if ('error' in target)
    return notReady('Invalid', target.error, refs, condition('Accepted', false, 'Invalid', target.error));
  const accepted = condition('Accepted', true, 'Accepted', 'Route is valid');
  if ('reason' in resolved) return notReady(resolved.reason, resolved.message, refs, accepted);

  // Function targets are always signed: the Invoke API accepts nothing else.
  const iamSpec = spec.auth?.iam ?? (target.kind === 'function' ? {} : undefined);
  let iam: IamAuth | undefined;
  if (iamSpec) {
    const defaults =
      target.kind === 'url'
        ? urlSigningDefaults(spec.target.url!)
        : { region: target.region, service: 'lambda' };
    iam = {
      credentials: resolved.staticCredentials ?? { kind: 'chain' },
      region: iamSpec.region ?? defaults.region,
      service: iamSpec.service ?? defaults.service,
      ...(iamSpec.roleArn && {
        assumeRole: { roleArn: iamSpec.roleArn, sessionName: iamSpec.roleSessionName ?? 'lambda-ingress' },
      }),
    };
  }
  const route: ReadyRoute = {
    ...identity,
    match: match!,
    ready: true,
    target,
    connection: compileConnection(spec),
    auth: { ...(resolved.apiKey && { apiKey: resolved.apiKey }), ...(iam && { iam }) },
  };
  return {
    route,
    conditions: [accepted, refs, condition('Ready', true, 'Ready', 'Served by the data plane')],
  };
}
