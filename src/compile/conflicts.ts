// Two routes conflict when they share a host, path and path type and their
// methods overlap. The oldest route (creationTimestamp, then namespace/name)
// wins; every other one is reported as Conflicted, naming the winner.
import type { LambdaRouteObject } from '../api/types.ts';
import type { RouteMatch } from './route.ts';
import { prefixSegments } from './table.ts';

export interface Conflict {
  winner: string;
  /** The contested host; undefined when both routes answer for any host. */
  host?: string;
  path: string;
}

interface Contender {
  key: string;
  object: LambdaRouteObject;
  match: RouteMatch;
}

/** Conflicts by the losing route's key. */
export function settleConflicts(contenders: readonly Contender[]): Map<string, Conflict> {
  const claimed = new Map<string, { key: string; methods: readonly string[] }[]>();
  const conflicts = new Map<string, Conflict>();
  for (const contender of [...contenders].sort(oldestFirst)) {
    const { match } = contender;
    const path = match.pathType === 'Exact' ? match.path : `/${prefixSegments(match.path).join('/')}`;
    const slots = (match.hosts.length > 0 ? match.hosts : ['']).map((host) => ({
      host,
      id: `${host} ${match.pathType} ${path}`,
    }));
    const lost = slots
      .map(({ host, id }) => ({
        host,
        rival: claimed.get(id)?.find((c) => methodsOverlap(c.methods, match.methods)),
      }))
      .find((s) => s.rival);
    if (lost) {
      conflicts.set(contender.key, { winner: lost.rival!.key, path, ...(lost.host && { host: lost.host }) });
      continue;
    }
    for (const { id } of slots) {
      const list = claimed.get(id) ?? [];
      list.push({ key: contender.key, methods: match.methods });
      claimed.set(id, list);
    }
  }
  return conflicts;
}

function methodsOverlap(a: readonly string[], b: readonly string[]): boolean {
  return a.length === 0 || b.length === 0 || a.some((m) => b.includes(m));
}

function oldestFirst(a: Contender, b: Contender): number {
  // Routes without a creationTimestamp (hand-written standalone files) count as newest.
  const ta = a.object.metadata.creationTimestamp ?? '\uffff';
  const tb = b.object.metadata.creationTimestamp ?? '\uffff';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
