// Fields that answers show and no update sets: ids, creation and change times, state Herald keeps.
// A client that reads an object, changes one field and sends the whole object back sends them
// too. Sent back as answers show them now, they are ignored. Another value is refused, naming the
// field, rather than ignored: the client meant a change that cannot be made this way, or the
// object changed after it was read (its change time is then no longer the one sent), and the copy
// sent back would undo that change.
import { isDeepStrictEqual } from 'node:util';
import { Type } from 'typebox';
import { EndpointInputError } from '../domain/endpoint.js';
import type { Endpoint } from '../domain/types.js';
import type { EndpointExpected } from '../store/contract.js';
import { iso } from './views.js';

/** How an update's schema describes a read-only field; `more` says what else applies to it. */
export const readOnlyDoc = (more = ''): { description: string } => ({
  description: `Read-only, as answers show it: sent back unchanged it is ignored, so an object read, changed and sent back whole is taken; another value is refused (422 naming it).${more}`,
});

/** The schemas of recordFields' three fields, for an update's body. */
export const ReadOnlyId = Type.Optional(Type.String({ maxLength: 100, ...readOnlyDoc() }));
export const ReadOnlyCreatedAt = Type.Optional(Type.String({ format: 'date-time', ...readOnlyDoc(' Any RFC 3339 text of the same instant is the same.') }));
export const ReadOnlyUpdatedAt = Type.Optional(
  Type.String({ format: 'date-time', ...readOnlyDoc(' Any RFC 3339 text of the same instant is the same; another instant means the object changed after it was read (read it again).') }),
);

/** A read-only field: its name in the API and how answers show it now. */
export interface ReadOnlyField {
  readonly name: string;
  readonly shown: unknown;
  /** A time: any RFC 3339 text of the same instant (`…:00Z` for `…:00.000Z`) is the same. */
  readonly time?: boolean;
  /**
   * Moves with deliveries, without the object's change time: a value other than the one shown now
   * is ignored, or a copy read a moment before would be refused for a change the client could not
   * have seen.
   */
  readonly live?: boolean;
  /**
   * For a live field: whether a copy read earlier could have shown `sent`. One no copy could show
   * is refused as any changed read-only field is: the client meant a change (left out: all could).
   */
  readonly couldShow?: (sent: unknown) => boolean;
  /** What to do instead, for the refusal to say: where the field changes, if anywhere. */
  readonly note?: string;
  /**
   * The object's change time: another value means the copy sent back is stale, refused with a
   * StaleCopyError (each API answers it as it answers the others, or as a conflict).
   */
  readonly stale?: boolean;
}

/** A read-only change time sent back other than the object's: the copy was read before a change. */
export class StaleCopyError extends EndpointInputError {
  constructor(field: string, message: string) {
    super(field, message);
    this.name = 'StaleCopyError';
  }
}

/** The note of a change time: a value other than the current one is a stale copy. */
const CHANGED_SINCE_READ = 'a different one means the object changed after it was read: read it again';

const SNAKE_CASE = { id: 'id', createdAt: 'created_at', updatedAt: 'updated_at' };

/**
 * An endpoint's id and its creation and change times, under the names an API gives them (each
 * API's answers show all three).
 */
export function recordFields(e: Endpoint, names: { id: string; createdAt: string; updatedAt: string } = SNAKE_CASE): ReadOnlyField[] {
  return [
    { name: names.id, shown: e.id },
    { name: names.createdAt, shown: iso(e.createdAt), time: true },
    { name: names.updatedAt, shown: iso(e.updatedAt), time: true, note: CHANGED_SINCE_READ, stale: true },
  ];
}

/**
 * `body` without its read-only `fields`, once each sent is found unchanged; else an
 * EndpointInputError naming the first that is not (a StaleCopyError for a change time), which
 * each API answers in its own shape.
 */
export function withoutReadOnly<T extends object>(body: T, fields: readonly ReadOnlyField[]): T {
  const rest: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const field of fields) {
    if (!Object.hasOwn(rest, field.name)) continue;
    if (!unchanged(rest[field.name], field)) throw new (field.stale === true ? StaleCopyError : EndpointInputError)(field.name, refusal(field));
    delete rest[field.name];
  }
  return rest as T;
}

/**
 * The state a write must still find, when `body` sent back the object's change time (`name`,
 * already found current by withoutReadOnly): the store checks it in the write itself, so of
 * clients writing back one copy at once only the first is taken.
 */
export function expectedIfSent(body: object, name: string, e: Endpoint): EndpointExpected | undefined {
  return Object.hasOwn(body, name) ? { updatedAt: e.updatedAt } : undefined;
}

/** The refusal of a copy whose change time was current when read but not when written. */
export function staleCopy(name: string): StaleCopyError {
  return new StaleCopyError(name, `${name} is read-only: the object changed while this copy was being written back; ${CHANGED_SINCE_READ}`);
}

function unchanged(sent: unknown, field: ReadOnlyField): boolean {
  if (field.live === true) return field.couldShow?.(sent) ?? true;
  if (isDeepStrictEqual(sent, field.shown)) return true;
  if (field.time !== true || typeof sent !== 'string' || typeof field.shown !== 'string') return false;
  const at = Date.parse(sent);
  return Number.isFinite(at) && at === Date.parse(field.shown);
}

/** What answers show now, cut short (an OAuth settings object is long). */
function refusal(field: ReadOnlyField): string {
  const shown = JSON.stringify(field.shown) ?? 'nothing';
  const text = shown.length > 200 ? `${shown.slice(0, 200)}…` : shown;
  const note = field.note === undefined ? '' : `; ${field.note}`;
  return `${field.name} is read-only: send it back as answers show it (${text}) or leave it out${note}`;
}
