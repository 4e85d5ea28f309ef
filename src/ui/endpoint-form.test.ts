import { describe, expect, it } from 'vitest';
import { CLIENT_SECRET_AGAIN, formFieldOf, readEndpointForm, valuesOf } from './endpoint-form.js';
import type { Form } from './kit.js';
import type { EndpointDto } from './models.js';

function form(entries: [string, string][]): Form {
  const f: Form = new Map();
  for (const [k, v] of entries) f.set(k, [...(f.get(k) ?? []), v]);
  return f;
}

const base: [string, string][] = [
  ['url', 'https://example.com/hooks'],
  ['event_types', 'asset.created'],
];

describe('endpoint form', () => {
  it('builds the API body of a minimal create form', () => {
    const r = readEndpointForm(form(base), 'create');
    expect(r).toMatchObject({ ok: true, body: { url: 'https://example.com/hooks', event_types: ['asset.created'], method: 'POST', ordering: 'none', rate_limit_per_second: null } });
    expect(r.ok && 'auth' in r.body).toBe(true);
    expect(r.ok && 'headers' in r.body).toBe(false);
  });

  it("names the input a refusal is about, whether the form or the API named the field", () => {
    expect(['auth.username', 'auth.client_id', 'auth.scope', 'auth.token_url', 'headers', 'headers[2].name', 'auth', 'url', 'timeout_ms'].map(formFieldOf)).toEqual([
      'basic_username',
      'oauth_client_id',
      'oauth_scope',
      'oauth_token_url',
      'header_name',
      'header_name',
      'auth_type',
      'url',
      'timeout_ms',
    ]);
  });

  it('refuses a basic user name with a colon, which a receiver would split into the password', () => {
    const r = readEndpointForm(form([...base, ['auth_type', 'basic'], ['basic_username', 'dam:ops'], ['basic_password', 'pw']]), 'create');
    expect(r).toMatchObject({ ok: false, error: { field: 'basic_username', message: expect.stringContaining('colon') } });
  });

  it('collapses a selection holding the wildcard to the wildcard alone', () => {
    const r = readEndpointForm(form([...base, ['event_types', '*']]), 'create');
    expect(r.ok && r.body.event_types).toEqual(['*']);
  });

  it('takes an empty basic password as given, but not one a form shown again dropped', () => {
    const basic: [string, string][] = [...base, ['auth_type', 'basic'], ['basic_username', 'api-token'], ['basic_password', '']];
    const chosen = readEndpointForm(form(basic), 'create');
    expect(chosen.ok && chosen.body.auth).toEqual({ type: 'basic', username: 'api-token', password: '' });
    const dropped = readEndpointForm(form([...basic, ['basic_password_cleared', '1']]), 'create');
    expect(dropped.ok ? 'ok' : dropped.error.field).toBe('basic_password');
    const entered = readEndpointForm(form([...basic.slice(0, -1), ['basic_password', 'pw'], ['basic_password_cleared', '1']]), 'edit');
    expect(entered.ok && entered.body.auth).toEqual({ type: 'basic', username: 'api-token', password: 'pw' });
  });

  it('refuses header rows an edit would not save, unless the headers are to be replaced', () => {
    const rows: [string, string][] = [['header_name', 'X-New'], ['header_value', 'v'], ['header_type', 'plain']];
    const unticked = readEndpointForm(form([...base, ...rows]), 'edit');
    expect(unticked.ok ? 'ok' : unticked.error.field).toBe('replace_headers');
    const ticked = readEndpointForm(form([...base, ...rows, ['replace_headers', 'on']]), 'edit');
    expect(ticked.ok && ticked.body.headers).toEqual([{ name: 'X-New', value: 'v', type: 'plain' }]);
    const untouched = readEndpointForm(form(base), 'edit');
    expect(untouched.ok && 'headers' in untouched.body).toBe(false);
  });

  it('sends an emptied timeout in an edit as null (the default), and leaves it out of a create', () => {
    const edit = readEndpointForm(form([...base, ['timeout_ms', '']]), 'edit');
    expect(edit.ok && edit.body.timeout_ms).toBeNull();
    const create = readEndpointForm(form([...base, ['timeout_ms', '']]), 'create');
    expect(create.ok && 'timeout_ms' in create.body).toBe(false);
  });

  it('names the field of the first problem', () => {
    const cases: [[string, string][], string][] = [
      [[['event_types', 'a.b']], 'url'],
      [[['url', 'https://x.example']], 'event_types'],
      [[...base, ['auth_type', 'basic']], 'basic_username'],
      [[...base, ['auth_type', 'oauth2_client_credentials'], ['oauth_token_url', 'https://t.example'], ['oauth_client_id', 'c']], 'oauth_client_secret'],
      [[...base, ['header_name', ''], ['header_value', 'v'], ['header_type', 'plain']], 'header_name'],
      [[...base, ['rate_limit_per_second', '0']], 'rate_limit_per_second'],
      [[...base, ['rate_limit_per_second', '1.5']], 'rate_limit_per_second'],
      [[...base, ['timeout_ms', '999']], 'timeout_ms'],
    ];
    for (const [entries, fieldName] of cases) {
      const r = readEndpointForm(form(entries), 'create');
      expect(r.ok ? 'ok' : r.error.field, JSON.stringify(entries)).toBe(fieldName);
    }
  });

  it('sends credentials and headers as typed, blank header rows left out', () => {
    const r = readEndpointForm(
      form([
        ...base,
        ['auth_type', 'oauth2_client_credentials'],
        ['oauth_token_url', 'https://t.example/token'],
        ['oauth_client_id', 'cid'],
        ['oauth_client_secret', ' s p '],
        ['header_name', 'X-A'],
        ['header_value', 'one'],
        ['header_type', 'hidden'],
        ['header_name', ''],
        ['header_value', ''],
        ['header_type', 'plain'],
      ]),
      'create',
    );
    expect(r.ok && r.body.auth).toEqual({ type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: ' s p ', token_endpoint_auth_method: 'client_secret_post' });
    expect(r.ok && r.body.headers).toEqual([{ name: 'X-A', value: 'one', type: 'hidden' }]);
  });

  it('on edit keeps authentication and headers unless the user replaces them', () => {
    const kept = readEndpointForm(form([...base, ['auth_type', 'keep'], ['header_name', 'X-A'], ['header_value', 'v'], ['header_type', 'plain']]), 'edit');
    expect(kept.ok && ('auth' in kept.body || 'headers' in kept.body)).toBe(false);
    const replaced = readEndpointForm(form([...base, ['auth_type', 'none'], ['replace_headers', 'on']]), 'edit');
    expect(replaced.ok && replaced.body).toMatchObject({ auth: { type: 'none' }, headers: [] });
  });

  it('carries an OAuth endpoint\'s extra params over, as the API showed them, when new OAuth settings are entered', () => {
    const oauth: [string, string][] = [...base, ['auth_type', 'oauth2_client_credentials'], ['oauth_token_url', 'https://t.example/token'], ['oauth_client_id', 'cid'], ['oauth_client_secret', 's2']];
    const current = { auth: { type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: '****', extra_params: { client_assertion: 'eyJh…', audience: '****' } } } as unknown as EndpointDto;
    const saved = readEndpointForm(form(oauth), 'edit', current);
    expect(saved.ok && saved.body.auth).toEqual({ type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: 's2', token_endpoint_auth_method: 'client_secret_post', extra_params: { client_assertion: 'eyJh…', audience: '****' } });
    // Kept only for the token URL they were given for (the API's rule): another one is refused here, naming the field.
    const moved = readEndpointForm(form([...oauth.filter(([k]) => k !== 'oauth_token_url'), ['oauth_token_url', 'https://other.example/token']]), 'edit', current);
    expect(moved.ok ? 'ok' : [moved.error.field, moved.error.message]).toEqual(['oauth_token_url', expect.stringContaining('extra params (client_assertion, audience) are kept only for its token URL, https://t.example/token')]);
    // Without extra params, or from basic auth, there is nothing to carry over.
    for (const auth of [{ type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: '****' }, { type: 'basic', username: 'u', password: '****' }]) {
      const r = readEndpointForm(form(oauth), 'edit', { auth } as unknown as EndpointDto);
      expect(r.ok && r.body.auth, auth.type).toEqual({ type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: 's2', token_endpoint_auth_method: 'client_secret_post' });
    }
  });

  it('sends the chosen client authentication at the token URL, offering an OAuth endpoint\'s current one', () => {
    const oauth: [string, string][] = [...base, ['auth_type', 'oauth2_client_credentials'], ['oauth_token_url', 'https://t.example/token'], ['oauth_client_id', 'cid'], ['oauth_client_secret', 's']];
    const basic = readEndpointForm(form([...oauth, ['oauth_token_auth', 'client_secret_basic']]), 'create');
    expect(basic.ok && basic.body.auth).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic' });
    const unknown = readEndpointForm(form([...oauth, ['oauth_token_auth', 'private_key_jwt']]), 'create');
    expect(unknown.ok && unknown.body.auth).toMatchObject({ token_endpoint_auth_method: 'client_secret_post' });
    const current = (method: string) => ({ auth: { type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: '****', token_endpoint_auth_method: method } }) as unknown as EndpointDto;
    expect(valuesOf(current('client_secret_basic')).oauthTokenAuth).toBe('client_secret_basic');
    expect(valuesOf(current('client_secret_post')).oauthTokenAuth).toBe('client_secret_post');
    expect(valuesOf(undefined).oauthTokenAuth).toBe('client_secret_post');
  });

  it('pre-fills the settings of an endpoint\'s auth that are not secret, never its password or client secret', () => {
    const basic = valuesOf({ auth: { type: 'basic', username: 'dam', password: '****' } } as unknown as EndpointDto);
    expect(basic).toMatchObject({ auth: 'keep', basicUsername: 'dam', oauthTokenUrl: '', oauthClientId: '', oauthScope: '', secretEntered: false });
    const auth = { type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: '****', scope: 'a b', extra_params: { audience: '****' }, token_endpoint_auth_method: 'client_secret_basic' };
    const oauth = valuesOf({ auth } as unknown as EndpointDto);
    expect(oauth).toMatchObject({ basicUsername: '', oauthTokenUrl: 'https://t.example/token', oauthClientId: 'cid', oauthScope: 'a b', oauthTokenAuth: 'client_secret_basic' });
    expect(JSON.stringify(oauth)).not.toContain('****');
  });

  it('on edit, sends a secret left empty back as the API showed it (which keeps the stored one), but not for another token URL', () => {
    const basicCurrent = { auth: { type: 'basic', username: 'dam', password: '****' } } as unknown as EndpointDto;
    const basic: [string, string][] = [...base, ['auth_type', 'basic'], ['basic_username', 'dam2'], ['basic_password', '']];
    const keptPassword = readEndpointForm(form(basic), 'edit', basicCurrent);
    expect(keptPassword.ok && keptPassword.body.auth).toEqual({ type: 'basic', username: 'dam2', password: '****' });
    const newPassword = readEndpointForm(form([...basic.slice(0, -1), ['basic_password', 'pw']]), 'edit', basicCurrent);
    expect(newPassword.ok && newPassword.body.auth).toEqual({ type: 'basic', username: 'dam2', password: 'pw' });

    const oauthCurrent = { auth: { type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: '****' } } as unknown as EndpointDto;
    const oauth: [string, string][] = [...base, ['auth_type', 'oauth2_client_credentials'], ['oauth_token_url', 'https://t.example/token'], ['oauth_client_id', 'cid2'], ['oauth_client_secret', ''], ['oauth_scope', 'x']];
    const keptSecret = readEndpointForm(form(oauth), 'edit', oauthCurrent);
    expect(keptSecret.ok && keptSecret.body.auth).toEqual({ type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid2', client_secret: '****', scope: 'x', token_endpoint_auth_method: 'client_secret_post' });
    const moved = readEndpointForm(form([...oauth.filter(([k]) => k !== 'oauth_token_url'), ['oauth_token_url', 'https://other.example/token']]), 'edit', oauthCurrent);
    expect(moved.ok ? 'ok' : [moved.error.field, moved.error.message]).toEqual(['oauth_client_secret', expect.stringContaining('kept only for its token URL, https://t.example/token')]);
    // Nothing to keep: from basic auth, or on create.
    for (const [mode, current] of [['edit', basicCurrent], ['create', undefined]] as const) {
      const r = readEndpointForm(form(oauth), mode, current);
      expect(r.ok ? 'ok' : r.error.field, mode).toBe('oauth_client_secret');
    }
  });

  it('asks again for a secret a form shown with an error dropped, rather than keep the current one', () => {
    const oauthCurrent = { auth: { type: 'oauth2_client_credentials', token_url: 'https://t.example/token', client_id: 'cid', client_secret: '****' } } as unknown as EndpointDto;
    const oauth: [string, string][] = [...base, ['auth_type', 'oauth2_client_credentials'], ['oauth_token_url', 'https://t.example/token'], ['oauth_client_id', 'cid']];
    // A secret entered with another mistake: the reading says so, and the form shown again marks it dropped.
    const entered = readEndpointForm(form([...oauth, ['oauth_client_secret', 'new'], ['timeout_ms', '1']]), 'edit', oauthCurrent);
    expect(entered.ok ? 'ok' : [entered.error.field, entered.values.secretEntered]).toEqual(['timeout_ms', true]);
    const dropped = readEndpointForm(form([...oauth, ['oauth_client_secret', ''], ['oauth_client_secret_cleared', '1']]), 'edit', oauthCurrent);
    expect(dropped.ok ? 'ok' : [dropped.error.field, dropped.error.message, dropped.values.secretEntered]).toEqual(['oauth_client_secret', CLIENT_SECRET_AGAIN, true]);
    // None entered: nothing is owed, and an empty field keeps the current one again.
    const none = readEndpointForm(form([...oauth, ['oauth_client_secret', ''], ['timeout_ms', '1']]), 'edit', oauthCurrent);
    expect(none.ok ? 'ok' : none.values.secretEntered).toBe(false);
    const basicNone = readEndpointForm(form([...base, ['auth_type', 'basic'], ['basic_username', 'u'], ['basic_password', ''], ['timeout_ms', '1']]), 'create');
    expect(basicNone.ok ? 'ok' : basicNone.values.secretEntered).toBe(false);
  });

  it('pre-fills an edit form from the endpoint but never its credentials', () => {
    const e = { url: 'https://x.example', description: 'd', method: 'PUT', event_types: ['asset.*'], auth: { type: 'none' }, rate_limit_per_second: 5, timeout_ms: 4000, ordering: 'per_resource' } as unknown as EndpointDto;
    const v = valuesOf(e);
    expect(v).toMatchObject({ url: 'https://x.example', method: 'PUT', auth: 'keep', rateLimit: '5', timeoutMs: '4000', ordering: 'per_resource', headers: [] });
    expect([...v.selected]).toEqual(['asset.*']);
  });
});
