// Pure status logic: from compile() diagnostics and the observed status to the
// status to write, whether it differs, and which failures are new.

import type { Failure } from '../api/failure.ts';
import type { MetaCondition, RouteStatus } from '../kube/route-status.ts';
import type { RouteDiagnostic } from '../model/compile-result.ts';

/** The CRD's limit (metav1.Condition); reasons are short words. */
const MAX_MESSAGE = 32_768;

/** metav1.Time: RFC 3339 in UTC, whole seconds. */
export const metaTime = (date: Date): string => date.toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * The status a route should have. A condition keeps its observed
 * lastTransitionTime unless its status flips; conditions of other types (set by
 * someone else) are kept as observed, after ours.
 */
export function desiredStatus(
  diagnostic: RouteDiagnostic,
  observed: RouteStatus | undefined,
  now: Date,
): RouteStatus & { conditions: MetaCondition[] } {
  const ours = new Set<string>(diagnostic.conditions.map((c) => c.type));
  const conditions: MetaCondition[] = diagnostic.conditions.map((c) => {
    const previous = observed?.conditions?.find((p) => p.type === c.type);
    const observedGeneration = c.observedGeneration ?? diagnostic.generation;
    return {
      type: c.type,
      status: c.status,
      reason: c.reason,
      message: truncate(c.message, MAX_MESSAGE),
      ...(observedGeneration !== undefined && { observedGeneration }),
      lastTransitionTime:
        previous?.status === c.status && previous.lastTransitionTime
          ? previous.lastTransitionTime
          : metaTime(now),
    };
  });
  const others = (observed?.conditions ?? []).filter((c) => !ours.has(c.type));
  return {
    ...(diagnostic.generation !== undefined && { observedGeneration: diagnostic.generation }),
    conditions: [...conditions, ...others],
  };
}

/** Same observedGeneration and the same conditions (by type, every field), in any order. */
export function sameStatus(a: RouteStatus | undefined, b: RouteStatus | undefined): boolean {
  if (a?.observedGeneration !== b?.observedGeneration) return false;
  const left = a?.conditions ?? [];
  const right = b?.conditions ?? [];
  if (left.length !== right.length) return false;
  return left.every((c) => {
    const d = right.find((x) => x.type === c.type);
    return (
      d !== undefined &&
      d.status === c.status &&
      d.reason === c.reason &&
      d.message === c.message &&
      d.observedGeneration === c.observedGeneration &&
      d.lastTransitionTime === c.lastTransitionTime
    );
  });
}

/**
 * The failure worth an Event: Ready turned False, or stayed False for a
 * different reason. Nothing when the route keeps failing the same way, so a
 * recompile (or a new leader, which reads the same observed status) stays quiet.
 */
export function newFailure(
  observed: RouteStatus | undefined,
  desired: RouteStatus,
): Failure<string> | undefined {
  const ready = desired.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'False') return undefined;
  const before = observed?.conditions?.find((c) => c.type === 'Ready');
  if (before?.status === 'False' && before.reason === ready.reason) return undefined;
  return { reason: ready.reason, message: ready.message };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
