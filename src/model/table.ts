// The routing table: an immutable index built by compile() and swapped in
// whole. A lookup never scans the route list: a map by host (exact, then
// wildcard suffixes, then any host), then a map for Exact paths and a segment
// trie for Prefix paths, then a map by method.
import type { CompiledRoute } from './route.ts';

export interface RouteMatchResult {
  route: CompiledRoute;
  /** Index in the request path where the matched prefix ends (the path length for Exact). */
  prefixEnd: number;
}

class MethodSlot {
  any: CompiledRoute | undefined;
  readonly byMethod = new Map<string, CompiledRoute>();

  add(route: CompiledRoute): void {
    if (route.match.methods.length === 0) this.any = route;
    for (const method of route.match.methods) this.byMethod.set(method, route);
  }

  pick(method: string): CompiledRoute | undefined {
    return this.byMethod.get(method) ?? this.any;
  }
}

interface TrieNode {
  children: Map<string, TrieNode>;
  slot: MethodSlot | undefined;
}

const newNode = (): TrieNode => ({ children: new Map(), slot: undefined });

function getOrAdd<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** The path segments of a Prefix route; empty segments are ignored, so /aws and /aws/ are one prefix. */
export const prefixSegments = (path: string): string[] => path.split('/').filter((s) => s !== '');

class PathIndex {
  readonly #exact = new Map<string, MethodSlot>();
  readonly #prefixRoot = newNode();

  add(route: CompiledRoute): void {
    if (route.match.pathType === 'Exact') {
      getOrAdd(this.#exact, route.match.path, () => new MethodSlot()).add(route);
      return;
    }
    let node = this.#prefixRoot;
    for (const segment of prefixSegments(route.match.path)) node = getOrAdd(node.children, segment, newNode);
    node.slot ??= new MethodSlot();
    node.slot.add(route);
  }

  match(path: string, method: string): RouteMatchResult | undefined {
    const exact = this.#exact.get(path)?.pick(method);
    if (exact) return { route: exact, prefixEnd: path.length };
    // Walk the trie segment by segment, remembering the deepest prefix that
    // accepts this method: the longest prefix wins.
    let node = this.#prefixRoot;
    let best = node.slot?.pick(method);
    let bestEnd = 0;
    let start = 0;
    while (start < path.length) {
      if (path.charCodeAt(start) === 47 /* / */) {
        start++;
        continue;
      }
      let end = path.indexOf('/', start);
      if (end === -1) end = path.length;
      const child = node.children.get(path.slice(start, end));
      if (!child) break;
      node = child;
      const route = node.slot?.pick(method);
      if (route) {
        best = route;
        bestEnd = end;
      }
      start = end;
    }
    return best && { route: best, prefixEnd: bestEnd };
  }
}

export class RouteTable {
  readonly version: number;
  /** Every route in the table, by namespace/name (for /debug/routes and status). */
  readonly routes: readonly CompiledRoute[];
  readonly #byHost = new Map<string, PathIndex>();
  readonly #byWildcardSuffix = new Map<string, PathIndex>();
  readonly #anyHost = new PathIndex();

  constructor(version: number, routes: readonly CompiledRoute[]) {
    this.version = version;
    this.routes = routes;
    for (const route of routes) {
      if (route.match.hosts.length === 0) this.#anyHost.add(route);
      for (const host of route.match.hosts) {
        const [map, name] = host.startsWith('*.')
          ? [this.#byWildcardSuffix, host.slice(2)]
          : [this.#byHost, host];
        getOrAdd(map, name, () => new PathIndex()).add(route);
      }
    }
  }

  /**
   * Finds the route for a request. `host` is lower-case without port; `path`
   * is the raw request path without the query string. Exact host beats
   * wildcard (longest suffix first) beats any host; within a host, an Exact
   * path beats Prefix paths, and longer prefixes beat shorter ones.
   */
  match(host: string, method: string, path: string): RouteMatchResult | undefined {
    const found = this.#byHost.get(host)?.match(path, method);
    if (found) return found;
    // A wildcard stands for one or more labels, none of them empty (".x.example.org" is no subdomain).
    if (this.#byWildcardSuffix.size > 0 && host.charCodeAt(0) !== 46 /* . */ && !host.includes('..')) {
      for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
        const wildcard = this.#byWildcardSuffix.get(host.slice(dot + 1))?.match(path, method);
        if (wildcard) return wildcard;
      }
    }
    return this.#anyHost.match(path, method);
  }
}
