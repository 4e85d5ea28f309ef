/**
 * An event's canonical body before its per-resource sequence is known: the JSON text either
 * side of where `"sequence":N` goes. Plain data, so it can cross to the store's thread as it is.
 */
export interface CanonicalBody {
  readonly head: string;
  readonly tail: string;
}

/** The stored body: `sequence` sits right after `timestamp`, as the canonical schema lists it. */
export function withSequence(body: CanonicalBody, sequence: number | null): string {
  return sequence === null ? body.head + body.tail : `${body.head},"sequence":${sequence}${body.tail}`;
}
