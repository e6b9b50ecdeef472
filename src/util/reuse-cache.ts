/**
 * Objects kept from one routing table to the next by key (connection pools,
 * signers, credential providers). Between begin() and commit() every get()
 * marks its key as used; commit() releases the objects the new table did not
 * ask for.
 */
export class ReuseCache<V> {
  readonly #release: (value: V) => void;
  #current = new Map<string, V>();
  #next: Map<string, V> | undefined;

  constructor(release: (value: V) => void = () => {}) {
    this.#release = release;
  }

  begin(): void {
    this.#next = new Map();
  }

  get(key: string, create: () => V): V {
    let value = this.#next?.get(key) ?? this.#current.get(key);
    if (value === undefined) value = create();
    (this.#next ?? this.#current).set(key, value);
    return value;
  }

  commit(): void {
    if (!this.#next) return;
    for (const [key, value] of this.#current) if (!this.#next.has(key)) this.#release(value);
    this.#current = this.#next;
    this.#next = undefined;
  }

  values(): IterableIterator<V> {
    return this.#current.values();
  }

  get size(): number {
    return this.#current.size;
  }

  /** Empties the cache without releasing anything, handing the objects to the caller (shutdown). */
  drain(): V[] {
    const values = [...this.#current.values()];
    this.#current.clear();
    return values;
  }
}
