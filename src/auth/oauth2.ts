// OAuth2 client credentials (RFC 6749 §4.4): a token per endpoint, cached until shortly
// before it expires, refreshed on demand when the endpoint answers 401. The client authenticates
// to the token endpoint as the endpoint's token_endpoint_auth_method says: in the form body
// (client_secret_post, the default) or with HTTP Basic (client_secret_basic, RFC 6749 §2.3.1).
import { request, type Dispatcher } from 'undici';
import { classifyError, DeliveryError } from '../delivery/errors.js';
import { tokenEndpointAuthMethod } from '../domain/endpoint.js';
import type { Endpoint } from '../domain/types.js';
import { basicAuthorization, type TokenSource } from './provider.js';

type OAuth2Auth = Extract<Endpoint['auth'], { type: 'oauth2_client_credentials' }>;

interface CachedToken {
  readonly token: string;
  readonly expiresAt: number;
  /**
   * What the token was fetched for: a changed client id/secret or auth method, or the endpoint
   * moved to another origin, invalidates it.
   */
  readonly fingerprint: string;
}

/** Tokens are dropped this long before they expire, so none expires in flight. */
const EXPIRY_MARGIN_MS = 30_000;
const DEFAULT_LIFETIME_S = 300;
const TOKEN_TIMEOUT_MS = 10_000;

export class OAuth2TokenCache implements TokenSource {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly clock: () => number = Date.now,
  ) {}

  async token(endpoint: Endpoint, options: { refresh: boolean }): Promise<string> {
    const auth = endpoint.auth;
    if (auth.type !== 'oauth2_client_credentials') throw new DeliveryError('oauth', 'endpoint has no OAuth2 configuration');
    const fingerprint = fingerprintOf(endpoint, auth);
    const cached = this.tokens.get(endpoint.id);
    if (!options.refresh && cached && cached.fingerprint === fingerprint && cached.expiresAt - EXPIRY_MARGIN_MS > this.clock()) return cached.token;
    // Concurrent deliveries to one endpoint share a single token request, if for the same config:
    // one started before the endpoint changed is not for its new origin or client.
    const key = `${endpoint.id}\n${fingerprint}`;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.fetch(auth, fingerprint).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const fresh = await pending;
    this.tokens.set(endpoint.id, fresh);
    return fresh.token;
  }

  forget(endpointId: string): void {
    this.tokens.delete(endpointId);
  }

  private async fetch(auth: OAuth2Auth, fingerprint: string): Promise<CachedToken> {
    const { form, headers } = tokenRequest(auth);
    let res;
    try {
      res = await request(auth.tokenUrl, {
        dispatcher: this.dispatcher,
        method: 'POST',
        headers,
        body: form.toString(),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch (err) {
      // A token URL at a forbidden address is policy, like an endpoint URL there: retrying cannot help.
      const retryable = classifyError(err).kind !== 'ssrf_blocked';
      throw new DeliveryError('oauth', `token request to ${new URL(auth.tokenUrl).host} failed: ${(err as Error).message}`, { cause: err, retryable });
    }
    const text = await readSmall(res.body);
    if (res.statusCode < 200 || res.statusCode > 299) {
      throw new DeliveryError('oauth', `token endpoint answered ${res.statusCode}${oauthError(text)}`);
    }
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new DeliveryError('oauth', 'token endpoint answered with a body that is not JSON');
    }
    if (typeof parsed.access_token !== 'string' || parsed.access_token === '') throw new DeliveryError('oauth', 'token endpoint answered without an access_token');
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_LIFETIME_S;
    return { token: parsed.access_token, expiresAt: this.clock() + lifetime * 1000, fingerprint };
  }
}

/**
 * What a cached token is for. The endpoint's origin (scheme, host, port) is part of it: a token is
 * issued for a resource server, and one fetched for the old URL's server must not be shown to
 * another after the URL moves there, whatever process changed it (a worker apart from the API
 * hears of the change only through its endpoint cache). A path on the same origin keeps it.
 */
function fingerprintOf(endpoint: Endpoint, auth: OAuth2Auth): string {
  const origin = URL.canParse(endpoint.url) ? new URL(endpoint.url).origin : endpoint.url;
  return [origin, auth.tokenUrl, tokenEndpointAuthMethod(auth), auth.clientId, auth.clientSecret, auth.scope ?? '', JSON.stringify(auth.extraParams ?? {})].join('\n');
}

/** The form and headers of a client credentials token request (RFC 6749 §4.4.2). */
function tokenRequest(auth: OAuth2Auth): { form: URLSearchParams; headers: Record<string, string> } {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (tokenEndpointAuthMethod(auth) === 'client_secret_basic') {
    // RFC 6749 §2.3.1: each form-urlencoded before they are joined, so a ':' in the id survives.
    headers.authorization = basicAuthorization(formEncoded(auth.clientId), formEncoded(auth.clientSecret));
  } else {
    form.set('client_id', auth.clientId);
    form.set('client_secret', auth.clientSecret);
  }
  if (auth.scope) form.set('scope', auth.scope);
  for (const [k, v] of Object.entries(auth.extraParams ?? {})) form.set(k, v);
  return { form, headers };
}

/** application/x-www-form-urlencoded (RFC 6749 Appendix B): UTF-8, space as '+', '+' as %2B. */
function formEncoded(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

async function readSmall(body: AsyncIterable<Uint8Array> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > 64 * 1024) {
      body.destroy();
      break;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The RFC 6749 error code, if the provider sent one; never the whole body (it may echo secrets). */
function oauthError(text: string): string {
  try {
    const err = (JSON.parse(text) as { error?: unknown }).error;
    return typeof err === 'string' ? ` (${err.slice(0, 100)})` : '';
  } catch {
    return '';
  }
}
