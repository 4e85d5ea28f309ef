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

/** `promise`, or a rejection once `ms` have passed without it settling. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
