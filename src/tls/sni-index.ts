// Host name → value for SNI: exact names, then wildcard names, longest suffix
// first. A wildcard stands for one or more labels (`*.example.com` matches
// `a.example.com` and `a.b.example.com`, not `example.com`), as in route hosts:
// a route's hosts get the route's certificate, whatever their depth. Whether
// a client accepts that certificate for a deeper name is up to its SANs (a
// `*.example.com` SAN covers one label; `*.b.example.com` can be added, or
// given its own certificate on a longer wildcard, which wins).

export class SniIndex<V> {
  readonly #exact = new Map<string, V>();
  readonly #wildcard = new Map<string, V>();

  /** `host` is lower-case: "api.example.com" or "*.example.com". */
  set(host: string, value: V): void {
    if (host.startsWith('*.')) this.#wildcard.set(host.slice(2), value);
    else this.#exact.set(host, value);
  }

  /** The value for a server name as a client sent it (any case, maybe a trailing dot). */
  get(servername: string): V | undefined {
    let name = servername.toLowerCase();
    if (name.endsWith('.')) name = name.slice(0, -1);
    const exact = this.#exact.get(name);
    if (exact !== undefined || this.#wildcard.size === 0) return exact;
    // No empty labels: ".example.com" and "a..example.com" are no subdomains.
    if (name.charCodeAt(0) === 46 /* . */ || name.includes('..')) return undefined;
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      const wildcard = this.#wildcard.get(name.slice(dot + 1));
      if (wildcard !== undefined) return wildcard;
    }
    return undefined;
  }
}
