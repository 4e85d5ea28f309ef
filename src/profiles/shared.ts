// Small pure helpers shared by the profile renderers and routes.
import { filterInProfile, findEventType, nameInProfile, type Profile } from '../catalog/index.js';
import { EndpointInputError } from '../domain/endpoint.js';

export type Json = Record<string, unknown>;

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * patchEndpoint refuses to keep a credential sent in clear (naming `auth` or `headers`) when the
 * URL moves to another origin. A profile's API without a field for it (`missing`) cannot send it
 * again: its refusal then says where to, the native PATCH of the same endpoint, which takes it
 * together with the URL. Any other error is returned as it is.
 */
export function credentialElsewhere(err: unknown, endpointId: string, missing: readonly ('auth' | 'headers')[]): unknown {
  if (!(err instanceof EndpointInputError) || !missing.some((field) => field === err.field)) return err;
  return new EndpointInputError(err.field, `${err.message}; this API has no field for it: send it with the new URL through PATCH /api/v2/endpoints/${endpointId}`);
}

/** `first_name` → `firstName`; keys already in camelCase stay as they are. */
export function camelKey(key: string): string {
  return key.replace(/_+([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** camelCases the keys of one object level (nested values, e.g. metadata fields, stay untouched). */
export function camelKeys(obj: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) out[camelKey(k)] = v;
  return out;
}

/** The name an event carries in a profile: the profile's own name, else the canonical one. */
export function eventName(canonicalType: string, profile: Profile): string {
  const def = findEventType(canonicalType);
  return (def && nameInProfile(def, profile)) ?? canonicalType;
}

/**
 * The event types an update through a profile API that shows filters with filterInProfile
 * changes to: none (undefined, unchanged) when `sent` names what that API shows for `stored`, in
 * any order, so a subscription read and sent back whole keeps a filter set through the native
 * API (a wildcard, an event the profile has no name for) rather than narrowing it.
 */
export function eventTypesSent(sent: readonly string[] | undefined, stored: readonly string[], profile: 'mediapocket' | 'cmp'): readonly string[] | undefined {
  if (sent === undefined) return undefined;
  const shown = new Set(filterInProfile(stored, profile));
  const same = new Set(sent);
  return same.size === shown.size && [...same].every((name) => shown.has(name)) ? undefined : sent;
}

/** An actor's first and last name from `first_name`/`firstName` (or a `name` split once). */
export function personName(actor: Json | undefined): { firstName: string | null; lastName: string | null } {
  if (!actor) return { firstName: null, lastName: null };
  const first = str(actor.first_name) ?? str(actor.firstName) ?? str(actor.given_name);
  const last = str(actor.last_name) ?? str(actor.lastName) ?? str(actor.family_name);
  if (first !== undefined || last !== undefined) return { firstName: first ?? null, lastName: last ?? null };
  const name = str(actor.name)?.trim();
  if (!name) return { firstName: null, lastName: null };
  const space = name.indexOf(' ');
  return space < 0 ? { firstName: name, lastName: null } : { firstName: name.slice(0, space), lastName: name.slice(space + 1).trim() || null };
}
