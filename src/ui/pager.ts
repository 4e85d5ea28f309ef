// Lists a page at a time. The API's cursors go one way (next_cursor: older), so the way back is
// kept in the address: `back` holds the cursors of the pages between the first one and this
// one. Every link keeps the list's filters.

/** Cursors are ids (a prefix and base32): anything else was never one. */
const CURSOR = /^[A-Za-z0-9_-]{1,100}$/;
/** Pages remembered on the way back; from deeper, "Newer" walks back this far, then to the newest. */
const MAX_BACK = 50;

export interface Position {
  /** This page's cursor; undefined on the first page. */
  readonly cursor: string | undefined;
  readonly back: readonly string[];
}

export interface PageLinks {
  /** The first page, when this one is further than one page away from it. */
  readonly newest: string;
  /** The page before this one. */
  readonly newer: string;
  /** The page after this one. */
  readonly older: string;
}

/** `cursors`: what a cursor of this list looks like, when not an id (a custom type's name). */
export function positionOf(query: Record<string, unknown>, cursors: RegExp = CURSOR): Position {
  const cursor = typeof query.cursor === 'string' && cursors.test(query.cursor) ? query.cursor : undefined;
  const back = cursor !== undefined && typeof query.back === 'string' ? query.back.split(',').filter((c) => cursors.test(c)).slice(-MAX_BACK) : [];
  return { cursor, back };
}

/** Links to the pages around `at` of the list at `path` filtered by `keep`; empty where there is none. */
export function pageLinks(path: string, keep: Readonly<Record<string, string>>, at: Position, nextCursor: string | null): PageLinks {
  const href = (cursor?: string, back: readonly string[] = []) => {
    const query = new URLSearchParams(Object.entries(keep).filter(([, v]) => v !== ''));
    if (cursor !== undefined) query.set('cursor', cursor);
    if (back.length > 0) query.set('back', back.join(','));
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  };
  const first = href();
  return {
    newest: at.back.length > 0 ? first : '',
    newer: at.cursor === undefined ? '' : at.back.length > 0 ? href(at.back[at.back.length - 1], at.back.slice(0, -1)) : first,
    older: nextCursor ? href(nextCursor, at.cursor === undefined ? [] : [...at.back, at.cursor].slice(-MAX_BACK)) : '',
  };
}
