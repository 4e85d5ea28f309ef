// Building and changing endpoints: defaults, limits and the rules a schema cannot express.
// Pure: the caller supplies ids, secrets and time.
import { catalog, compileFilter, validateFilterPatterns } from '../catalog/index.js';
import { looksMasked, mask } from '../signing/secretbox.js';
import type { Endpoint, EndpointAuth, EndpointHeader, HttpMethod, Ordering, ProfileName } from './types.js';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const MIN_TIMEOUT_MS = 1_000;
export const MAX_TIMEOUT_MS = 30_000;
export const DEFAULT_ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/** Headers Herald sets itself on every delivery; an endpoint may not replace them. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'user-agent',
  'host',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'transfer-encoding',
  'connection',
]);

export class EndpointInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'EndpointInputError';
  }
}

export interface EndpointInput {
  readonly url?: string;
  readonly eventTypes?: readonly string[];
  readonly description?: string;
  readonly method?: HttpMethod;
  readonly headers?: readonly EndpointHeader[];
  readonly auth?: EndpointAuth;
  readonly rateLimitPerSecond?: number | null;
  /** null: back to the default. */
  readonly timeoutMs?: number | null;
  readonly ordering?: Ordering;
  readonly disabled?: boolean;
  readonly projectIds?: readonly string[];
  readonly userIds?: readonly string[];
  readonly profileData?: Readonly<Record<string, unknown>>;
}

export function checkUrl(url: string, field = 'url'): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EndpointInputError(field, `${field} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new EndpointInputError(field, `${field} must be an http or https URL`);
  if (parsed.username || parsed.password) throw new EndpointInputError(field, `${field} must not carry credentials; use the endpoint's auth settings`);
}

export function checkEventTypes(patterns: readonly string[], field = 'event_types'): void {
  if (patterns.length === 0) throw new EndpointInputError(field, `${field} must name at least one event type or wildcard`);
  const problem = unknownEventTypes(patterns, field);
  if (problem) throw new EndpointInputError(field, problem);
}

/** What is wrong with event type patterns (names in any profile, `topic.*`, `*`), if anything. */
export function unknownEventTypes(patterns: readonly string[], field: string): string | undefined {
  const result = validateFilterPatterns(patterns);
  return result.ok ? undefined : `${field} has unknown event types: ${result.invalid.map((p) => JSON.stringify(p)).join(', ')}`;
}

/**
 * The catalog's canonical names (the names deliveries are stored under) that `patterns` select:
 * names in any profile and `topic.*` wildcards, checked first with unknownEventTypes. Null for
 * `*`, every type.
 */
export function eventTypesSelected(patterns: readonly string[]): string[] | null {
  if (patterns.includes('*')) return null;
  const accepts = compileFilter(patterns);
  return catalog.filter((def) => accepts(def.name)).map((def) => def.name);
}

export function checkHeaders(headers: readonly EndpointHeader[], field = 'headers'): void {
  // Header names ignore case: of two spellings, only one could be sent.
  const seen = new Map<string, string>();
  for (const h of headers) {
    const first = seen.get(h.name.toLowerCase());
    if (first !== undefined) throw new EndpointInputError(field, `${field}: "${h.name.slice(0, 100)}" repeats the header "${first}" (header names ignore case)`);
    seen.set(h.name.toLowerCase(), h.name);
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(h.name)) throw new EndpointInputError(field, `${field}: "${h.name.slice(0, 100)}" is not a valid header name`);
    if (RESERVED_HEADERS.has(h.name.toLowerCase())) throw new EndpointInputError(field, `${field}: "${h.name}" is set by Herald and cannot be overridden`);
    if (/[\r\n\0]/.test(h.value)) throw new EndpointInputError(field, `${field}: the value of "${h.name}" contains a line break`);
    // What HTTP lets a header carry (and the sender enforces): otherwise every attempt would fail.
    // An hmac value is a key, never sent.
    if (h.type !== 'hmac' && /[^\t\x20-\x7e\x80-\xff]/.test(h.value)) {
      throw new EndpointInputError(field, `${field}: the value of "${h.name}" has a character a header cannot carry (a control character, or one beyond U+00FF such as a masked value's "…")`);
    }
  }
}

function checkTimeout(ms: number): void {
  if (!Number.isInteger(ms) || ms < MIN_TIMEOUT_MS || ms > MAX_TIMEOUT_MS) {
    throw new EndpointInputError('timeout_ms', `timeout_ms must be between ${MIN_TIMEOUT_MS} and ${MAX_TIMEOUT_MS}`);
  }
}

function checkInput(input: EndpointInput): void {
  if (input.url !== undefined) checkUrl(input.url);
  if (input.eventTypes !== undefined) checkEventTypes(input.eventTypes);
  if (input.headers !== undefined) checkHeaders(input.headers);
  if (input.timeoutMs !== undefined && input.timeoutMs !== null) checkTimeout(input.timeoutMs);
  if (input.auth?.type === 'oauth2_client_credentials') checkUrl(input.auth.tokenUrl, 'auth.token_url');
  if (input.auth?.type === 'basic' && input.auth.username.includes(':')) {
    throw new EndpointInputError('auth.username', 'auth.username cannot hold a colon (RFC 7617: the receiver splits user and password at the first one)');
  }
}

/**
 * OAuth extra params often carry secrets (client_assertion, API keys), so answers show their
 * values masked. A value sent back as shown, the mask of the value stored under the same name,
 * keeps the stored value, so the auth a client read can be sent back; any other masked value is
 * refused rather than stored in place of a secret.
 */
function keepMaskedExtraParams(auth: EndpointAuth, before: EndpointAuth | undefined): EndpointAuth {
  if (auth.type !== 'oauth2_client_credentials' || auth.extraParams === undefined) return auth;
  const stored = before?.type === 'oauth2_client_credentials' ? (before.extraParams ?? {}) : {};
  const params = Object.entries(auth.extraParams).map(([name, value]) => {
    if (Object.hasOwn(stored, name) && value === mask(stored[name])) return [name, stored[name]] as const;
    if (looksMasked(value)) {
      throw new EndpointInputError('auth.extra_params', `auth.extra_params: the value of "${name.slice(0, 100)}" is a masked value; send the value itself (a masked value keeps the stored one only as shown for that name)`);
    }
    return [name, value] as const;
  });
  return { ...auth, extraParams: Object.fromEntries(params) };
}

export function buildEndpoint(
  input: EndpointInput & { url: string; eventTypes: readonly string[] },
  ctx: { id: string; accountId: string; profile: ProfileName; secret: string; now: number },
): Endpoint {
  checkInput(input);
  return {
    id: ctx.id,
    accountId: ctx.accountId,
    profile: ctx.profile,
    url: input.url,
    method: input.method ?? 'POST',
    description: input.description ?? '',
    eventTypes: [...input.eventTypes],
    projectIds: [...(input.projectIds ?? [])],
    userIds: [...(input.userIds ?? [])],
    secret: ctx.secret,
    previousSecret: null,
    previousSecretExpiresAt: null,
    headers: [...(input.headers ?? [])],
    auth: input.auth ? keepMaskedExtraParams(input.auth, undefined) : { type: 'none' },
    rateLimitPerSecond: input.rateLimitPerSecond ?? null,
    timeoutMs: input.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ordering: input.ordering ?? 'none',
    disabled: input.disabled ?? false,
    disabledReason: input.disabled ? 'disabled on creation' : null,
    failingSince: null,
    profileData: input.profileData ?? {},
    createdAt: ctx.now,
    updatedAt: ctx.now,
  };
}

export function patchEndpoint(e: Endpoint, patch: EndpointInput, now: number): Endpoint {
  checkInput(patch);
  const defined = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);
  const disabled = defined(patch.disabled, e.disabled);
  return {
    ...e,
    url: defined(patch.url, e.url),
    method: defined(patch.method, e.method),
    description: defined(patch.description, e.description),
    eventTypes: patch.eventTypes ? [...patch.eventTypes] : e.eventTypes,
    projectIds: patch.projectIds ? [...patch.projectIds] : e.projectIds,
    userIds: patch.userIds ? [...patch.userIds] : e.userIds,
    headers: patch.headers ? [...patch.headers] : e.headers,
    auth: patch.auth === undefined ? e.auth : keepMaskedExtraParams(patch.auth, e.auth),
    rateLimitPerSecond: defined(patch.rateLimitPerSecond, e.rateLimitPerSecond),
    timeoutMs: patch.timeoutMs === null ? DEFAULT_TIMEOUT_MS : defined(patch.timeoutMs, e.timeoutMs),
    ordering: defined(patch.ordering, e.ordering),
    disabled,
    // Re-enabling clears the reason and the failure streak, so health starts afresh.
    disabledReason: disabled ? (patch.disabled === true && !e.disabled ? 'disabled by user' : e.disabledReason) : null,
    failingSince: !disabled && e.disabled ? null : e.failingSince,
    profileData: patch.profileData ? { ...e.profileData, ...patch.profileData } : e.profileData,
    updatedAt: now,
  };
}

export function rotateSecret(e: Endpoint, newSecret: string, now: number, overlapMs: number = DEFAULT_ROTATION_OVERLAP_MS): Endpoint {
  return { ...e, secret: newSecret, previousSecret: e.secret, previousSecretExpiresAt: now + overlapMs, updatedAt: now };
}
