// Building and changing endpoints: defaults, limits and the rules a schema cannot express.
// Pure: the caller supplies ids, secrets and time.
import { validateFilterPatterns } from '../catalog/index.js';
import { FULLY_MASKED, looksMasked, mask } from '../signing/secretbox.js';
import type { Endpoint, EndpointAuth, EndpointHeader, HttpMethod, Ordering, ProfileName, TokenEndpointAuthMethod } from './types.js';

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
  /** The account's custom event types: `eventTypes` may name them, and wildcards select them. */
  readonly customEventTypes?: readonly string[];
}

/** Every way an OAuth client may authenticate to its token endpoint, as every API names them. */
export const TOKEN_ENDPOINT_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_post', 'client_secret_basic'];

/** How an endpoint's OAuth client authenticates to its token endpoint; client_secret_post unless set. */
export function tokenEndpointAuthMethod(auth: Extract<EndpointAuth, { type: 'oauth2_client_credentials' }>): TokenEndpointAuthMethod {
  return auth.tokenEndpointAuthMethod ?? 'client_secret_post';
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

/**
 * Refuses an empty filter, or one with a pattern that names nothing: neither the catalog nor the
 * account's `custom` types. Patterns in `kept` (the endpoint's filter before an update) are
 * taken as they are: they were valid when set, and a read-modify-write sends them back even
 * after the custom types a wildcard of theirs selected were deleted.
 */
export function checkEventTypes(patterns: readonly string[], field = 'event_types', custom: readonly string[] = [], kept: readonly string[] = []): void {
  if (patterns.length === 0) throw new EndpointInputError(field, `${field} must name at least one event type or wildcard`);
  const problem = unknownEventTypes(patterns.filter((p) => !kept.includes(p)), field, custom);
  if (problem) throw new EndpointInputError(field, problem);
}

/** What is wrong with event type patterns (names in any profile or of `custom` types, `topic.*`, `*`), if anything. */
export function unknownEventTypes(patterns: readonly string[], field: string, custom: readonly string[] = []): string | undefined {
  const result = validateFilterPatterns(patterns, custom);
  return result.ok ? undefined : `${field} has unknown event types: ${result.invalid.map((p) => JSON.stringify(p)).join(', ')}`;
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

function checkInput(input: EndpointInput, before?: Endpoint): void {
  if (input.url !== undefined) checkUrl(input.url);
  if (input.eventTypes !== undefined) checkEventTypes(input.eventTypes, 'event_types', input.customEventTypes, before?.eventTypes);
  if (input.headers !== undefined) checkHeaders(input.headers);
  if (input.timeoutMs !== undefined && input.timeoutMs !== null) checkTimeout(input.timeoutMs);
  if (input.auth?.type === 'oauth2_client_credentials') checkUrl(input.auth.tokenUrl, 'auth.token_url');
  if (input.auth?.type === 'basic' && input.auth.username.includes(':')) {
    throw new EndpointInputError('auth.username', 'auth.username cannot hold a colon (RFC 7617: the receiver splits user and password at the first one)');
  }
}

/**
 * What to store for a secret sent in a create or an update. Answers show secrets masked, so a
 * client that sends back what it read sends the mask: the value answers show for the stored
 * secret (`shown`) keeps that secret. Any other masked-looking value is refused, naming `field`,
 * rather than stored in its place (every delivery would then send the mask).
 */
function secretSent(sent: string, stored: string | undefined, shown: (stored: string) => string, field: string, subject: string, hint = ''): string {
  if (stored !== undefined && sent === shown(stored)) return stored;
  if (looksMasked(sent)) throw new EndpointInputError(field, `${subject} is a masked value; send the value itself (a masked value keeps the stored one only as answers show it${hint})`);
  return sent;
}

/** How answers show a basic password and an OAuth client secret, whatever their length. */
const fullyMasked = (): string => FULLY_MASKED;

/**
 * Auth with masked secrets sent back resolved against `before`. OAuth secrets (client secret,
 * extra params, which often carry a client_assertion) go to the token URL: they are kept only
 * for the token URL they were given for, or a key could have them sent to a server of its choice.
 * An OAuth config sent without token_endpoint_auth_method keeps the one `before` has (a Tenovos
 * PUT may leave out its tokenEndpointAuthMethod, as seed 002's body has none, and clients written
 * before the choice existed do not send it: changing a secret there must not reset it); a new one
 * gets client_secret_post, what Herald always sent before the choice existed.
 */
function unmaskedAuth(auth: EndpointAuth, before: EndpointAuth | undefined): EndpointAuth {
  switch (auth.type) {
    case 'none':
      return auth;
    case 'basic':
      return { ...auth, password: secretSent(auth.password, before?.type === 'basic' ? before.password : undefined, fullyMasked, 'auth.password', 'auth.password') };
    case 'oauth2_client_credentials': {
      const same = before?.type === 'oauth2_client_credentials' && before.tokenUrl === auth.tokenUrl ? before : undefined;
      const hint = before?.type === 'oauth2_client_credentials' && !same ? ', and OAuth secrets only for the token URL they were given for' : '';
      const clientSecret = secretSent(auth.clientSecret, same?.clientSecret, fullyMasked, 'auth.client_secret', 'auth.client_secret', hint);
      const method = auth.tokenEndpointAuthMethod ?? (before?.type === 'oauth2_client_credentials' ? tokenEndpointAuthMethod(before) : 'client_secret_post');
      if (auth.extraParams === undefined) return { ...auth, clientSecret, tokenEndpointAuthMethod: method };
      const stored = same?.extraParams ?? {};
      const params = Object.entries(auth.extraParams).map(([name, value]) => {
        const kept = Object.hasOwn(stored, name) ? stored[name] : undefined;
        return [name, secretSent(value, kept, mask, 'auth.extra_params', `auth.extra_params: the value of "${name.slice(0, 100)}"`, hint)] as const;
      });
      return { ...auth, clientSecret, extraParams: Object.fromEntries(params), tokenEndpointAuthMethod: method };
    }
  }
}

/**
 * The stored header whose value `h`, sent back masked, stands for: the one of the same name (names
 * ignore case). A secret header turned plain needs its value again: kept, it would be shown.
 */
function storedHeader(h: EndpointHeader, before: readonly EndpointHeader[]): EndpointHeader | undefined {
  return before.find((b) => b.name.toLowerCase() === h.name.toLowerCase() && (h.type !== 'plain' || b.type === 'plain'));
}

/** Headers with masked values sent back resolved against the stored ones (see storedHeader). */
function unmaskedHeaders(headers: readonly EndpointHeader[], before: readonly EndpointHeader[]): EndpointHeader[] {
  return headers.map((h) => {
    const stored = storedHeader(h, before);
    return { ...h, value: secretSent(h.value, stored?.value, mask, 'headers', `headers: the value of "${h.name.slice(0, 100)}"`) };
  });
}

/**
 * The names of the hidden headers whose stored values `sent` keeps: every one when the headers
 * are left out, else those sent back masked as answers show them. hmac values are keys that never
 * leave Herald, and plain ones are shown anyway.
 */
function keptSecretHeaders(before: readonly EndpointHeader[], sent: readonly EndpointHeader[] | undefined): string[] {
  if (sent === undefined) return before.filter((h) => h.type === 'hidden').map((h) => h.name);
  return sent
    .filter((h) => {
      const stored = h.type === 'hidden' ? storedHeader(h, before) : undefined;
      return stored !== undefined && h.value === mask(stored.value);
    })
    .map((h) => h.name);
}

/**
 * Credentials sent in clear to the endpoint's URL (a basic password, the values of hidden headers)
 * are kept only for the origin (scheme, host and port) they were given for, as OAuth secrets are
 * for their token URL: a key that may change the URL, but never read them (answers mask them),
 * could otherwise have them sent to a server of its choice. An update of `e` that moves the URL to
 * another origin and keeps one (leaves it out, or sends it back masked) is refused, naming the
 * field; a change of path alone stays on the same server. Signing secrets and hmac keys are not
 * concerned: what is sent is a signature, which does not reveal its key.
 */
function checkCredentialsFollowUrl(e: Endpoint, input: EndpointInput): void {
  if (input.url === undefined) return;
  const from = new URL(e.url).origin;
  const to = new URL(input.url).origin;
  if (from === to) return;
  const rule = `must be sent again when the URL moves to another origin (${from} → ${to}): a credential sent in clear is kept only for the origin it was given for`;
  const auth = input.auth;
  if (e.auth.type === 'basic' && (auth === undefined || (auth.type === 'basic' && auth.password === FULLY_MASKED))) {
    throw new EndpointInputError('auth', `auth: the basic password ${rule}`);
  }
  const kept = keptSecretHeaders(e.headers, input.headers);
  if (kept.length > 0) {
    const names = kept.map((name) => `"${name.slice(0, 100)}"`).join(', ');
    throw new EndpointInputError('headers', `headers: the value${kept.length > 1 ? 's' : ''} of ${names} ${rule}`);
  }
}

/** `input` with every secret sent back masked replaced by the stored one (see secretSent). */
function unmaskedInput<T extends EndpointInput>(input: T, before: Endpoint | undefined): T {
  return {
    ...input,
    ...(input.headers !== undefined ? { headers: unmaskedHeaders(input.headers, before?.headers ?? []) } : {}),
    ...(input.auth !== undefined ? { auth: unmaskedAuth(input.auth, before?.auth) } : {}),
  };
}

export function buildEndpoint(
  given: EndpointInput & { url: string; eventTypes: readonly string[] },
  ctx: { id: string; accountId: string; profile: ProfileName; secret: string; now: number },
): Endpoint {
  const input = unmaskedInput(given, undefined);
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
    auth: input.auth ?? { type: 'none' },
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

export function patchEndpoint(e: Endpoint, input: EndpointInput, now: number): Endpoint {
  const patch = unmaskedInput(input, e);
  checkInput(patch, e);
  checkCredentialsFollowUrl(e, input);
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
    auth: defined(patch.auth, e.auth),
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
