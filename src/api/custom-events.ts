// Events of custom types, at publish time: the account's types they name are read from the store
// on every request (a type registered or changed through another process counts at once), and
// each schema is compiled once per process.
import { compileDataSchema, type DataCheck } from '../catalog/custom.js';
import { findEventType } from '../catalog/index.js';
import type { CustomEventType, EventInput } from '../domain/types.js';
import type { Store } from '../store/contract.js';
import { ApiError } from './middleware/errors.js';

/** Compiled schemas kept, by their JSON: beyond this the oldest goes (compiling again costs ms). */
const MAX_COMPILED = 1_000;
const compiled = new Map<string, DataCheck>();

const anyData: DataCheck = () => undefined;

function checkOf(type: CustomEventType): DataCheck {
  if (type.schema === null) return anyData;
  const key = JSON.stringify(type.schema);
  let check = compiled.get(key);
  if (check === undefined) {
    check = compileDataSchema(type.schema);
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, check);
  }
  return check;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The account's custom types among the types `events` name, for ingest to accept; names that
 * are neither in the catalog nor registered are left to ingest, which refuses them. An event whose
 * `data` (`{}` when it has none) does not match its type's schema is a 422 naming the first path
 * at fault below `prefix(i)` (`events[3].data.size`, or `data.size` for a lone event).
 */
export async function customTypesOf(store: Pick<Store, 'getEventTypes'>, accountId: string, events: readonly EventInput[], prefix: (index: number) => string): Promise<ReadonlySet<string>> {
  const names = [...new Set(events.map((e) => e.type).filter((type) => findEventType(type) === undefined))];
  if (names.length === 0) return NONE;
  const types = new Map((await store.getEventTypes(accountId, names)).map((t) => [t.name, t]));
  events.forEach((event, i) => {
    const type = types.get(event.type);
    const problem = type && checkOf(type)(event.data ?? {});
    if (problem) throw new ApiError(422, 'invalid_event_data', `${prefix(i)}${problem.message} (the schema of ${event.type})`, `${prefix(i)}${problem.path}`);
  });
  return new Set(types.keys());
}
