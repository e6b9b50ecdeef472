// Two routes conflict when they share a host, path and path type and their
// methods overlap. The oldest route wins: by creationTimestamp (a route
// without one counts as newest), then, in standalone mode, the one this
// process read first, then by namespace/name. Every other one is reported as
// Conflicted, naming the winner.
import type { LambdaRouteObject } from '../api/types.ts';
import type { RouteMatch } from '../model/route.ts';
import { prefixSegments } from '../model/table.ts';

export interface Conflict {
  winner: string;
  /** The winner was read first (standalone), rather than being older by creationTimestamp or name. */
  loadedFirst: boolean;
  /** The contested host; undefined when both routes answer for any host. */
  host?: string;
  path: string;
}

/** What ranks a route: its key and object. */
interface Ranked {
  key: string;
  object: LambdaRouteObject;
}

interface Contender extends Ranked {
  match: RouteMatch;
}

/** Conflicts by the losing route's key. */
export function settleConflicts(contenders: readonly Contender[]): Map<string, Conflict> {
  const claimed = new Map<string, Contender[]>();
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
        rival: claimed.get(id)?.find((c) => methodsOverlap(c.match.methods, match.methods)),
      }))
      .find((s) => s.rival);
    if (lost) {
      const rival = lost.rival!;
      conflicts.set(contender.key, {
        winner: rival.key,
        loadedFirst: loadedFirst(rival, contender),
        path,
        ...(lost.host && { host: lost.host }),
      });
      continue;
    }
    for (const { id } of slots) {
      const list = claimed.get(id) ?? [];
      list.push(contender);
      claimed.set(id, list);
    }
  }
  return conflicts;
}

function methodsOverlap(a: readonly string[], b: readonly string[]): boolean {
  return a.length === 0 || b.length === 0 || a.some((m) => b.includes(m));
}

/** The order in which routes claim what they share (paths, certificates for a host): the oldest first. */
export function oldestFirst(a: Ranked, b: Ranked): number {
  return byTimestamp(a, b) || byReadOrder(a, b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** `winner` comes first because this process read it first (standalone), not by creationTimestamp or name. */
export function loadedFirst(winner: Ranked, loser: Ranked): boolean {
  return byTimestamp(winner, loser) === 0 && byReadOrder(winner, loser) !== 0;
}

/** The winner as a message names it: "the older route x", or "the route x (loaded first)". */
export const winnerName = (winner: string, readFirst: boolean): string =>
  readFirst ? `the route ${winner} (loaded first)` : `the older route ${winner}`;

function byTimestamp(a: Ranked, b: Ranked): number {
  // Routes without a creationTimestamp (hand-written standalone files) count as newest.
  const ta = a.object.metadata.creationTimestamp ?? '\uffff';
  const tb = b.object.metadata.creationTimestamp ?? '\uffff';
  return ta === tb ? 0 : ta < tb ? -1 : 1;
}

function byReadOrder(a: Ranked, b: Ranked): number {
  // NaN (neither was read by a file source) counts as a tie.
  return (a.object.readOrder ?? Infinity) - (b.object.readOrder ?? Infinity) || 0;
}
