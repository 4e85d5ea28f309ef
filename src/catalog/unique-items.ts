// JSON Schema's uniqueItems for custom event types, in time linear in the array's size. Ajv's own
// compares every pair of items unless `items` declares a scalar type: an account's schema with
// uniqueItems over objects made one 256 KiB event cost 20 s of a shared API process's CPU
// (bench/unique-items-cost.mjs), and a maxItems bound does not help much, as the pairs compared
// grow with the items allowed times the event's size.
import type { SchemaValidateFunction } from 'ajv';

/**
 * The index of the first item of `items` equal to an earlier one, with that earlier one's.
 * Equal as JSON Schema means it: objects alike whatever the order of their members, numbers by
 * value (1 and 1.0). Each item gets a key (an object or array its JSON with members sorted): one
 * pass, one key each.
 */
function firstRepeat(items: readonly unknown[]): { index: number; first: number } | undefined {
  const seen = new Map<string, number>();
  for (let index = 0; index < items.length; index++) {
    const key = keyOf(items[index]);
    const first = seen.get(key);
    if (first !== undefined) return { index, first };
    seen.set(key, index);
  }
  return undefined;
}

/** A key equal for equal items only: a scalar by its type and value, else its canonical JSON. */
function keyOf(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      // String(-0) is '0': JSON Schema, like ===, holds them equal.
      return `n${value}`;
    case 'boolean':
      return value ? 't' : 'f';
    default:
      return value === null ? 'z' : `j${canonicalJson(value)}`;
  }
}

/** JSON of a value parsed from JSON, each object's members in sorted order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? sortedMembers(v as Record<string, unknown>) : v)) ?? 'undefined';
}

function sortedMembers(object: Record<string, unknown>): Record<string, unknown> {
  // Without a prototype, a member named __proto__ is a member like any other.
  const sorted = Object.create(null) as Record<string, unknown>;
  for (const name of Object.keys(object).sort()) sorted[name] = object[name];
  return sorted;
}

/**
 * The keyword's check for Ajv: on a repeat, an error at the repeating item naming the first
 * (`data.tags[3] must not repeat item 1`), where Ajv's names only the array.
 */
export const validateUniqueItems: SchemaValidateFunction = (schema: unknown, data: unknown, _parent?: unknown, cxt?: Parameters<SchemaValidateFunction>[3]) => {
  validateUniqueItems.errors = [];
  if (schema !== true || !Array.isArray(data)) return true;
  const repeat = firstRepeat(data);
  if (repeat === undefined) return true;
  const { index, first } = repeat;
  validateUniqueItems.errors = [{ keyword: 'uniqueItems', instancePath: `${cxt?.instancePath ?? ''}/${index}`, params: { i: index, j: first }, message: `must not repeat item ${first}` }];
  return false;
};
