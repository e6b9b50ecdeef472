// compile(snapshot) -> { table, certificates, diagnostics }: pure, no I/O.
// Validates each LambdaRoute, settles conflicts (oldest wins), resolves Secret
// references, compiles targets and binds hosts to their certificates. Diagnostics are data: the status writer, /debug/routes and
// the data plane's 503 answers all read them.
import { type Failure, failuresText, failureText, type NotAcceptedReason, succeed } from '../api/failure.ts';
import { specSchema } from '../api/schema.ts';
import { objectKey, type Snapshot } from '../api/snapshot.ts';
import type {
  Condition,
  ConditionType,
  LambdaRouteObject,
  LambdaRouteSpec,
  SecretObject,
} from '../api/types.ts';
import { fieldValidator, validateSpec } from '../api/validate.ts';
import type { CompileResult, RouteDiagnostic } from '../model/compile-result.ts';
import type { CompiledRoute, IamAuth, ReadyRoute, RouteMatch } from '../model/route.ts';
import { RouteTable } from '../model/table.ts';
import { bindCertificates } from './certificates.ts';
import { type Conflict, settleConflicts, winnerName } from './conflicts.ts';
import { resolveRefs, type SecretLookup } from './refs.ts';
import { compileConnection, compileFunctionTarget, compileUrlTarget, urlSigningDefaults } from './targets.ts';

/** A route after validation: its spec, or why it is invalid plus whatever part of the match could be read. */
interface Candidate {
  object: LambdaRouteObject;
  key: string;
  spec?: LambdaRouteSpec;
  invalid?: Failure<'Invalid'>;
  match?: RouteMatch;
}

export interface CompileOptions {
  /** `--default-certificate`, "namespace/name": served to TLS clients whose name no host's certificate covers. */
  defaultCertificate?: string | undefined;
}

export function compile(snapshot: Snapshot, version: number, options: CompileOptions = {}): CompileResult {
  const candidates = snapshot.routes.map(validate);
  const conflicts = settleConflicts(
    candidates.filter((c): c is Candidate & { match: RouteMatch } => !!c.match),
  );
  const secrets = secretLookup(snapshot.secrets);
  const built = candidates.map((candidate) => ({
    candidate,
    outcome: reuseOrBuild(candidate, conflicts.get(candidate.key), secrets),
  }));
  const { certificates, failures } = bindCertificates(
    built.flatMap(({ candidate: { key, object, spec }, outcome }) =>
      spec?.certificateRef && isTrue(outcome.conditions, 'Accepted')
        ? [{ key, object, hosts: spec.hosts ?? [], secretName: spec.certificateRef.name }]
        : [],
    ),
    snapshot.secrets,
    options.defaultCertificate,
  );
  const routes: CompiledRoute[] = [];
  const diagnostics: RouteDiagnostic[] = [];
  for (const { candidate, outcome } of built) {
    if (outcome.route) routes.push(outcome.route);
    diagnostics.push(diagnosticOf(candidate, outcome, failures.get(candidate.key)));
  }
  const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return {
    table: new RouteTable(version, routes.sort(byKey)),
    certificates,
    diagnostics: diagnostics.sort(byKey),
    errors: snapshot.errors,
  };
}

/** What build() made of a route, and from what: reused while its inputs are the same objects and values. */
interface Outcome {
  route?: CompiledRoute;
  conditions: readonly Condition[];
  conflict: Conflict | undefined;
  /** The Secret lookups build() made, with what each found. */
  reads: readonly SecretRead[];
  /** The diagnostic last made of this outcome, and for which certificate failure. */
  diagnostic?: { certificate: string | undefined; value: RouteDiagnostic };
}

type SecretRead = readonly [namespace: string, name: string, found: SecretObject | undefined];

/**
 * By route object (sources hand over the same one while the route is
 * unchanged): its last outcome. Reusing it keeps the CompiledRoute the same
 * object from one table to the next, so the data plane keeps its handler, and
 * a compile after one change does the work of one route.
 */
const outcomes = new WeakMap<LambdaRouteObject, Outcome>();

function reuseOrBuild(candidate: Candidate, conflict: Conflict | undefined, secrets: SecretLookup): Outcome {
  const last = outcomes.get(candidate.object);
  if (
    last &&
    sameConflict(last.conflict, conflict) &&
    last.reads.every(([namespace, name, found]) => secrets.get(namespace, name) === found)
  ) {
    return last;
  }
  const reads: SecretRead[] = [];
  // A route told where else a missing Secret exists depends on every Secret: never reused.
  let reusable = true;
  const recorded: SecretLookup = {
    get(namespace, name) {
      const found = secrets.get(namespace, name);
      reads.push([namespace, name, found]);
      return found;
    },
    namespacesOf(name) {
      reusable = false;
      return secrets.namespacesOf(name);
    },
  };
  const outcome: Outcome = { ...build(candidate, conflict, recorded), conflict, reads };
  if (reusable) outcomes.set(candidate.object, outcome);
  return outcome;
}

const sameConflict = (a: Conflict | undefined, b: Conflict | undefined): boolean =>
  a === b ||
  (!!a &&
    !!b &&
    a.winner === b.winner &&
    a.loadedFirst === b.loadedFirst &&
    a.host === b.host &&
    a.path === b.path);

/**
 * The route's diagnostic. A certificate that cannot be served leaves Ready as it is: the route
 * still serves over HTTP, and over HTTPS with the certificate its hosts have (the winner's, or
 * the last good).
 */
function diagnosticOf(
  candidate: Candidate,
  outcome: Outcome,
  certificate: Failure | undefined,
): RouteDiagnostic {
  const failed = certificate && isTrue(outcome.conditions, 'ResolvedRefs') ? certificate : undefined;
  const text = failed && `${failed.reason} ${failureText(failed)}`;
  const last = outcome.diagnostic;
  if (last && last.certificate === text) return last.value;
  const conditions = failed
    ? outcome.conditions.map((c) => (c.type === 'ResolvedRefs' ? condition('ResolvedRefs', failed) : c))
    : outcome.conditions;
  const { key, object } = candidate;
  const { metadata, origin } = object;
  const value: RouteDiagnostic = {
    key,
    namespace: metadata.namespace,
    name: metadata.name,
    ...(metadata.generation !== undefined && { generation: metadata.generation }),
    ...(origin !== undefined && { origin }),
    conditions: conditions.map((c) => ({
      ...c,
      ...(metadata.generation !== undefined && { observedGeneration: metadata.generation }),
    })),
  };
  outcome.diagnostic = { certificate: text, value };
  return value;
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
  if (result.ok) return { object, key, spec: result.value, match: toMatch(result.value) };
  const invalid: Failure<'Invalid'> = { reason: 'Invalid', message: failuresText(result.failures) };
  const match = readableMatch(result.partial);
  return { object, key, invalid, ...(match && { match }) };
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
const validPath = fieldValidator(['match', 'path']);
const validHosts = fieldValidator(['hosts']);

/**
 * What an invalid route still claims, so that it answers 503 rather than
 * vanishing: its path when the path and hosts are valid, whatever else in
 * `match` is wrong. Only what is certain is claimed: an unreadable pathType
 * counts as Exact, and only the valid methods count (none: nothing is claimed).
 */
function readableMatch(partial: unknown): RouteMatch | undefined {
  const { match, hosts } = isObject(partial) ? partial : {};
  if (!isObject(match) || !validPath(match['path'])) return undefined;
  if (hosts !== undefined && !validHosts(hosts)) return undefined;
  const { path, pathType, methods } = match as LambdaRouteSpec['match'];
  const listed: unknown = methods ?? [];
  if (!Array.isArray(listed)) return undefined;
  const valid = listed.filter((m) => METHODS.includes(m));
  if (listed.length > 0 && valid.length === 0) return undefined;
  return {
    hosts: (hosts as string[] | undefined) ?? [],
    path,
    pathType: PATH_TYPES.includes(pathType) ? pathType : 'Exact',
    methods: [...new Set(valid)],
  };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const TRUE_MESSAGES: Record<ConditionType, string> = {
  Accepted: 'Route is valid',
  ResolvedRefs: 'All references resolved',
  Ready: 'Served by the data plane',
};

const isTrue = (conditions: readonly Condition[], type: ConditionType): boolean =>
  conditions.some((c) => c.type === type && c.status === 'True');

/** True conditions are the same for every route: shared (and frozen), as each route's outcome is kept. */
const TRUE = Object.fromEntries(
  Object.entries(TRUE_MESSAGES).map(([type, message]) => [
    type,
    Object.freeze({ type, status: 'True', reason: type, message }),
  ]),
) as Record<ConditionType, Condition>;
const ALL_TRUE: readonly Condition[] = Object.freeze([TRUE.Accepted, TRUE.ResolvedRefs, TRUE.Ready]);

/** The condition `type`: True, or False for `failure`. */
const condition = (type: ConditionType, failure?: Failure): Condition =>
  failure ? { type, status: 'False', reason: failure.reason, message: failureText(failure) } : TRUE[type];

function build(
  candidate: Candidate,
  conflict: Conflict | undefined,
  secrets: SecretLookup,
): { route?: CompiledRoute; conditions: readonly Condition[] } {
  const { key, object, spec, invalid, match } = candidate;
  const base = { key, namespace: object.metadata.namespace, name: object.metadata.name };
  const identity = {
    ...base,
    ...(object.metadata.generation !== undefined && { generation: object.metadata.generation }),
    ...(object.origin !== undefined && { origin: object.origin }),
  };
  const notReady = (failure: Failure, resolvedRefs: Condition, accepted: Condition) => ({
    ...(match &&
      !conflict && {
        route: {
          ...identity,
          match,
          ready: false as const,
          reason: failure.reason,
          message: failureText(failure),
        },
      }),
    conditions: [accepted, resolvedRefs, condition('Ready', failure)],
  });
  // A route that is not accepted never has its references looked at: they are neither resolved nor broken.
  const notAccepted = (failure: Failure<NotAcceptedReason>) =>
    notReady(failure, refsUnknown(failure.reason), condition('Accepted', failure));

  if (!spec) return notAccepted(invalid!);
  if (conflict) {
    const winner = winnerName(conflict.winner, conflict.loadedFirst);
    const message = `${conflict.path} is served by ${winner}${conflict.host ? ` for host ${conflict.host}` : ''}`;
    return notAccepted({ reason: 'Conflicted', message });
  }

  const resolved = resolveRefs(object.metadata.namespace, spec.auth, secrets);
  const refs = condition('ResolvedRefs', resolved.ok ? undefined : resolved.failures[0]);
  const compiled = spec.target.url
    ? succeed(compileUrlTarget(spec.target.url, spec.target.forwardSubpath))
    : compileFunctionTarget(spec.target.function!, spec.auth?.iam?.region);
  if (!compiled.ok) return notReady(compiled.failures[0], refs, condition('Accepted', compiled.failures[0]));
  const accepted = condition('Accepted');
  if (!resolved.ok) return notReady(resolved.failures[0], refs, accepted);

  const target = compiled.value;
  // Function targets are always signed: the Invoke API accepts nothing else.
  const iamSpec = spec.auth?.iam ?? (target.kind === 'function' ? {} : undefined);
  let iam: IamAuth | undefined;
  if (iamSpec) {
    const defaults =
      target.kind === 'url'
        ? urlSigningDefaults(spec.target.url!)
        : { region: target.region, service: 'lambda' };
    iam = {
      credentials: resolved.value.staticCredentials ?? { kind: 'chain' },
      region: iamSpec.region ?? defaults.region,
      service: iamSpec.service ?? defaults.service,
      ...(iamSpec.roleArn && {
        assumeRole: { roleArn: iamSpec.roleArn, sessionName: iamSpec.roleSessionName ?? 'lambda-ingress' },
      }),
    };
  }
  const { apiKey } = resolved.value;
  const route: ReadyRoute = {
    ...identity,
    match: match!,
    ready: true,
    target,
    connection: compileConnection(spec),
    auth: { ...(apiKey && { apiKey }), ...(iam && { iam }) },
  };
  return { route, conditions: ALL_TRUE };
}

/** ResolvedRefs of a route that is not accepted: Unknown, with the reason it was not. */
const refsUnknown = (reason: NotAcceptedReason): Condition => ({
  type: 'ResolvedRefs',
  status: 'Unknown',
  reason,
  message: `References are not resolved for a route that is not accepted (${reason})`,
});
