// A store with a few of its methods replaced and every other one passed through: how wrappers
// (timing, turn-taking at the write lock) change the hot path without touching the drivers.

/** `target`, with the methods in `replaced` answered by them instead. */
export function withMethods<T extends object>(target: T, replaced: ReadonlyMap<PropertyKey, unknown>): T {
  // Other methods are bound once: drivers use `this`, and a bind per access would allocate.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      const own = replaced.get(prop);
      if (own !== undefined) return own;
      const value: unknown = Reflect.get(t, prop, t);
      if (typeof value !== 'function') return value;
      let fn = bound.get(prop);
      if (fn === undefined) {
        fn = value.bind(t);
        bound.set(prop, fn);
      }
      return fn;
    },
  });
}
