/**
 * `fn` remembered per argument object, for as long as that object lives.
 * Sources hand over the same object while what it describes is unchanged
 * (a route spec, a Secret), so work derived from it is done once per change.
 */
export function perObject<K extends object, V>(fn: (key: K) => V): (key: K) => V {
  const results = new WeakMap<K, V>();
  return (key) => {
    if (results.has(key)) return results.get(key) as V;
    const result = fn(key);
    results.set(key, result);
    return result;
  };
}
