// The endpoint create/edit form: what it shows and how a submitted form becomes an API body.
// Credentials come back from the API masked, so the edit form never pre-fills them: the user
// keeps the current authentication and headers, or enters new ones that replace them. The
// settings that are not secret (basic user name, OAuth token URL, client ID, scope, client
// authentication) are filled in, and a password or client secret left empty keeps the current
// one: the form sends it back as the API showed it, which the API's rule for masked values
// resolves to the stored one. OAuth extra params have no fields: new OAuth settings carry the
// current ones over as the API showed them.
import { type Form, field, fields } from './kit.js';
import type { EndpointDto } from './models.js';

export type FormMode = 'create' | 'edit';
export type AuthChoice = 'keep' | 'none' | 'basic' | 'oauth2_client_credentials';
/** How the client authenticates at the token URL: in the form body, or with HTTP Basic. */
export type TokenAuthChoice = 'client_secret_post' | 'client_secret_basic';

export interface HeaderRow {
  readonly name: string;
  readonly value: string;
  readonly type: 'plain' | 'hidden';
}

/** What the form shows: the submitted values after an error, or the endpoint's current ones. */
export interface EndpointFormValues {
  readonly url: string;
  readonly description: string;
  readonly method: string;
  readonly selected: ReadonlySet<string>;
  readonly auth: AuthChoice;
  readonly basicUsername: string;
  readonly oauthTokenUrl: string;
  readonly oauthClientId: string;
  readonly oauthScope: string;
  readonly oauthTokenAuth: TokenAuthChoice;
  /**
   * The password or client secret of the chosen authentication was entered (or is still owed
   * after a form shown again dropped it): a form shown again after an error asks for it again
   * rather than read an empty field as "keep the current one" (or as an empty password).
   */
  readonly secretEntered: boolean;
  readonly replaceHeaders: boolean;
  readonly headers: readonly HeaderRow[];
  readonly rateLimit: string;
  readonly timeoutMs: string;
  readonly ordering: string;
}

/**
 * A form shown again after an error never carries a password back; it marks that it dropped one
 * (`basic_password_cleared`), so an empty password then is a mistake, not a choice.
 */
export const PASSWORD_AGAIN = 'Enter the basic authentication password again: a form shown with an error does not keep it.';
export const CLIENT_SECRET_AGAIN = 'Enter the OAuth 2.0 client secret again: a form shown with an error does not keep it.';

/** The form field of each authentication's secret; `<field>_cleared` marks one a form shown again dropped. */
const SECRET_FIELDS: Readonly<Record<string, string>> = { basic: 'basic_password', oauth2_client_credentials: 'oauth_client_secret' };

/** Empty header rows offered by the form (no script needed to add rows). */
export const HEADER_ROWS = 3;

export interface FormError {
  readonly field: string;
  readonly message: string;
}

/** The form's fields for what the API names in a refusal by the path of its body (`auth.username`). */
const FORM_FIELDS: Readonly<Record<string, string>> = {
  auth: 'auth_type',
  'auth.type': 'auth_type',
  'auth.username': 'basic_username',
  'auth.password': 'basic_password',
  'auth.token_url': 'oauth_token_url',
  'auth.client_id': 'oauth_client_id',
  'auth.client_secret': 'oauth_client_secret',
  'auth.scope': 'oauth_scope',
  'auth.token_endpoint_auth_method': 'oauth_token_auth',
  headers: 'header_name',
};

/**
 * The form field a refusal is about, whether the form named it or the API did by its body's
 * path (`auth.username`, `headers[1].name`), so the form marks the input it means.
 */
export function formFieldOf(field: string): string {
  return FORM_FIELDS[field] ?? FORM_FIELDS[field.replace(/\[\d+\].*$/, '')] ?? field;
}

export type FormReading = { readonly ok: true; readonly body: Record<string, unknown>; readonly values: EndpointFormValues } | { readonly ok: false; readonly error: FormError; readonly values: EndpointFormValues };

/**
 * A setting of `e`'s auth as the API shows it, if its auth is of `type`: a secret comes masked
 * (`****`), which sent back keeps the stored secret (the API's rule for masked values).
 */
function authShown(e: EndpointDto | undefined, type: string, name: string): string | undefined {
  const value = e?.auth.type === type ? e.auth[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}

export function valuesOf(e: EndpointDto | undefined): EndpointFormValues {
  const oauth = 'oauth2_client_credentials';
  return {
    url: e?.url ?? '',
    description: e?.description ?? '',
    method: e?.method ?? 'POST',
    selected: new Set(e?.event_types ?? []),
    auth: e ? 'keep' : 'none',
    // Not secrets: shown by the API, so filled in; the password and client secret never are.
    basicUsername: authShown(e, 'basic', 'username') ?? '',
    oauthTokenUrl: authShown(e, oauth, 'token_url') ?? '',
    oauthClientId: authShown(e, oauth, 'client_id') ?? '',
    oauthScope: authShown(e, oauth, 'scope') ?? '',
    oauthTokenAuth: authShown(e, oauth, 'token_endpoint_auth_method') === 'client_secret_basic' ? 'client_secret_basic' : 'client_secret_post',
    secretEntered: false,
    replaceHeaders: false,
    headers: [],
    rateLimit: e?.rate_limit_per_second ? String(e.rate_limit_per_second) : '',
    timeoutMs: e ? String(e.timeout_ms) : '',
    ordering: e?.ordering ?? 'none',
  };
}

function headerRows(form: Form): HeaderRow[] {
  const names = fields(form, 'header_name');
  const values = form.get('header_value') ?? [];
  const types = fields(form, 'header_type');
  return names.map((name, i) => ({ name, value: values[i] ?? '', type: types[i] === 'hidden' ? ('hidden' as const) : ('plain' as const) })).filter((h) => h.name || h.value);
}

function readValues(form: Form): EndpointFormValues {
  const auth = field(form, 'auth_type');
  const secretField = Object.hasOwn(SECRET_FIELDS, auth) ? SECRET_FIELDS[auth] : undefined;
  return {
    url: field(form, 'url'),
    description: field(form, 'description'),
    method: field(form, 'method') === 'PUT' ? 'PUT' : 'POST',
    selected: new Set(fields(form, 'event_types').filter(Boolean)),
    auth: auth === 'keep' || auth === 'basic' || auth === 'oauth2_client_credentials' ? auth : 'none',
    basicUsername: field(form, 'basic_username'),
    oauthTokenUrl: field(form, 'oauth_token_url'),
    oauthClientId: field(form, 'oauth_client_id'),
    oauthScope: field(form, 'oauth_scope'),
    oauthTokenAuth: field(form, 'oauth_token_auth') === 'client_secret_basic' ? 'client_secret_basic' : 'client_secret_post',
    secretEntered: secretField !== undefined && ((form.get(secretField)?.[0] ?? '') !== '' || field(form, `${secretField}_cleared`) === '1'),
    replaceHeaders: field(form, 'replace_headers') === 'on',
    headers: headerRows(form),
    rateLimit: field(form, 'rate_limit_per_second'),
    timeoutMs: field(form, 'timeout_ms'),
    ordering: field(form, 'ordering') === 'per_resource' ? 'per_resource' : 'none',
  };
}

/**
 * The OAuth extra params of `e` as the API answers them (values masked), if it has any. This
 * form has no fields for them; sent back as shown, they keep the stored values (the API's rule
 * for masked values), so entering new OAuth settings does not drop them.
 */
export function keptExtraParams(e: EndpointDto | undefined): Readonly<Record<string, string>> | undefined {
  const params = e?.auth.type === 'oauth2_client_credentials' ? e.auth.extra_params : undefined;
  return typeof params === 'object' && params !== null && Object.keys(params).length > 0 ? (params as Record<string, string>) : undefined;
}

function oauthBody(v: EndpointFormValues, secret: string, current: EndpointDto | undefined): Record<string, unknown> | FormError {
  const extra = keptExtraParams(current);
  // The API keeps them only for the token URL they were given for.
  if (extra && current!.auth.token_url !== v.oauthTokenUrl) {
    return {
      field: 'oauth_token_url',
      message: `This endpoint's OAuth extra params (${Object.keys(extra).join(', ')}) are kept only for its token URL, ${String(current!.auth.token_url)}, and this form cannot enter them again: keep that token URL, or change it together with the extra params through the API.`,
    };
  }
  return {
    type: v.auth,
    token_url: v.oauthTokenUrl,
    client_id: v.oauthClientId,
    client_secret: secret,
    token_endpoint_auth_method: v.oauthTokenAuth,
    ...(v.oauthScope ? { scope: v.oauthScope } : {}),
    ...(extra ? { extra_params: extra } : {}),
  };
}

function authBody(v: EndpointFormValues, form: Form, current: EndpointDto | undefined): Record<string, unknown> | FormError | undefined {
  switch (v.auth) {
    case 'keep':
      return undefined;
    case 'none':
      return { type: 'none' };
    case 'basic': {
      if (!v.basicUsername) return { field: 'basic_username', message: 'Enter the user name for basic authentication.' };
      // Basic credentials are `user:password`: a receiver would read what follows a colon as the password.
      if (v.basicUsername.includes(':')) return { field: 'basic_username', message: 'The user name for basic authentication cannot contain a colon (:).' };
      const password = form.get('basic_password')?.[0] ?? '';
      // An empty password is the current one on a basic endpoint, else valid as it is (a token as
      // the user name), but never one the form dropped.
      if (!password && field(form, 'basic_password_cleared') === '1') return { field: 'basic_password', message: PASSWORD_AGAIN };
      return { type: 'basic', username: v.basicUsername, password: password || (authShown(current, 'basic', 'password') ?? '') };
    }
    case 'oauth2_client_credentials': {
      const entered = form.get('oauth_client_secret')?.[0] ?? '';
      if (!v.oauthTokenUrl) return { field: 'oauth_token_url', message: 'Enter the token URL for OAuth 2.0.' };
      if (!v.oauthClientId) return { field: 'oauth_client_id', message: 'Enter the client ID for OAuth 2.0.' };
      if (!entered && field(form, 'oauth_client_secret_cleared') === '1') return { field: 'oauth_client_secret', message: CLIENT_SECRET_AGAIN };
      const kept = entered ? undefined : authShown(current, 'oauth2_client_credentials', 'client_secret');
      // The API keeps the client secret only for the token URL it was given for.
      if (kept !== undefined && current!.auth.token_url !== v.oauthTokenUrl) {
        return { field: 'oauth_client_secret', message: `Enter the client secret for the new token URL: the current one is kept only for its token URL, ${String(current!.auth.token_url)}.` };
      }
      const secret = entered || kept;
      if (!secret) return { field: 'oauth_client_secret', message: 'Enter the client secret for OAuth 2.0.' };
      return oauthBody(v, secret, current);
    }
  }
}

function headersBody(v: EndpointFormValues, mode: FormMode): Record<string, unknown>[] | FormError | undefined {
  if (mode === 'edit' && !v.replaceHeaders) {
    if (v.headers.length > 0) return { field: 'replace_headers', message: 'Tick "Replace the custom headers" to save the headers entered (they replace all current ones), or clear the rows.' };
    return undefined;
  }
  const unnamed = v.headers.find((h) => !h.name);
  if (unnamed) return { field: 'header_name', message: 'Every custom header needs a name.' };
  if (mode === 'create' && v.headers.length === 0) return undefined;
  return v.headers.map((h) => ({ name: h.name, value: h.value, type: h.type }));
}

function isError(x: unknown): x is FormError {
  return typeof x === 'object' && x !== null && 'field' in x && 'message' in x;
}

/** An optional whole number within bounds; `null` for empty when the API takes null. */
function wholeNumber(raw: string, name: string, label: string, min: number, max: number): number | null | FormError {
  if (!raw) return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) return { field: name, message: `${label} must be a whole number from ${min} to ${max}.` };
  return n;
}

/** The API body of a submitted form (`current`: the endpoint edited), or the first problem naming its field. */
export function readEndpointForm(form: Form, mode: FormMode, current?: EndpointDto): FormReading {
  const v = readValues(form);
  const fail = (error: FormError): FormReading => ({ ok: false, error, values: v });
  if (!v.url) return fail({ field: 'url', message: 'Enter the URL that receives the webhooks.' });
  const selected = [...v.selected];
  if (selected.length === 0) return fail({ field: 'event_types', message: 'Choose at least one event type or wildcard.' });
  const auth = authBody(v, form, current);
  if (isError(auth)) return fail(auth);
  const headers = headersBody(v, mode);
  if (isError(headers)) return fail(headers);
  const rate = wholeNumber(v.rateLimit, 'rate_limit_per_second', 'Rate limit', 1, 100_000);
  if (isError(rate)) return fail(rate);
  const timeout = wholeNumber(v.timeoutMs, 'timeout_ms', 'Timeout', 1000, 30_000);
  if (isError(timeout)) return fail(timeout);
  const body: Record<string, unknown> = {
    url: v.url,
    description: v.description,
    method: v.method,
    event_types: selected.includes('*') ? ['*'] : selected,
    rate_limit_per_second: rate,
    ordering: v.ordering,
  };
  // An emptied timeout in an edit goes back to the default (null); a new endpoint gets it anyway.
  if (timeout !== null || mode === 'edit') body.timeout_ms = timeout;
  if (auth) body.auth = auth;
  if (headers) body.headers = headers;
  return { ok: true, body, values: v };
}
