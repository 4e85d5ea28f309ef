/**
 * `load()` at most once per `ttlMs`: concurrent callers share one call in progress, and a
 * failure is not kept (the next caller tries again). For figures that are costly to compute and
 * may be asked for far more often (a scrape every second against a query scanning a table).
 */
export function cachedFor<T>(ttlMs: number, load: () => Promise<T>, clock: () => number = Date.now): () => Promise<T> {
  let value: { readonly at: number; readonly promise: Promise<T> } | undefined;
  return () => {
    const now = clock();
    if (value && now - value.at < ttlMs) return value.promise;
    const promise = load();
    const entry = { at: now, promise };
    value = entry;
    promise.catch(() => {
      if (value === entry) value = undefined;
    });
    return promise;
  };
}
