import type { AppContext } from '../app/context.js';
import type { Endpoint } from '../domain/types.js';
import { ApiError } from './middleware/errors.js';

/**
 * The SSRF guard at create/update time; connect time is guarded again in the sender.
 *
 * Herald's own addresses (the guard's always-allowed hosts: its listening address and
 * HERALD_PUBLIC_URL) are exempt only for URLs of the account's own Connect inboxes
 * (`/in/<token>` whose token belongs to `accountId`). Any other URL on those hosts, another
 * account's inbox included, is checked like every destination (refused when loopback/private
 * and not in HERALD_ALLOWED_TARGETS).
 */
export async function checkDestination(ctx: AppContext, url: string, accountId: string, field = 'url'): Promise<void> {
  let ownHost = false;
  try {
    const parsed = ownHostUrl(ctx, url);
    if (parsed) {
      ownHost = true;
      if (await ctx.inboxes.ownInbox(parsed.pathname, accountId)) return;
      // Herald's own address, but not one of this account's inboxes: no exemption.
      await ctx.guard.resolveAllowed(parsed.hostname);
      return;
    }
    await ctx.guard.checkUrl(url);
  } catch (err) {
    const kind = (err as { kind?: string }).kind;
    // A name that does not resolve yet is accepted: it cannot reach anything now, and the
    // connect-time check guards whatever it resolves to later. Not on Herald's own host: connect
    // time lets every URL there through (its inboxes), so one that cannot be checked now
    // (`localhost.`, which this resolver may not know and another may) is refused.
    if (kind === 'dns' && !ownHost) return;
    // Refused by the guard either way: the code is ssrf_blocked, not the lookup's kind.
    if ((kind === 'ssrf_blocked' || kind === 'dns') && ownHost) {
      throw new ApiError(422, 'ssrf_blocked', `${field}: ${(err as Error).message}; on Herald's own address only this account's inbox URLs (/in/<token>) are allowed`, field);
    }
    if (kind === 'ssrf_blocked' || kind === 'invalid_url') throw new ApiError(422, kind, `${field}: ${(err as Error).message}`, field);
    throw err;
  }
}

/** The parsed URL when it is an acceptable http(s) URL on one of Herald's own hosts. */
function ownHostUrl(ctx: AppContext, url: string): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.username !== '' || parsed.password !== '') return undefined;
  const port = parsed.port !== '' ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80;
  return ctx.guard.isAlwaysAllowed(parsed.hostname, port) ? parsed : undefined;
}

/**
 * An endpoint's destinations through checkDestination: its URL and, with OAuth, the token URL
 * Herald posts its client credentials to. Only what is new or changed since `before`.
 */
export async function checkEndpointDestinations(ctx: AppContext, endpoint: Endpoint, accountId: string, before?: Endpoint): Promise<void> {
  if (endpoint.url !== before?.url) await checkDestination(ctx, endpoint.url, accountId);
  const tokenUrl = tokenUrlOf(endpoint);
  if (tokenUrl !== undefined && tokenUrl !== (before && tokenUrlOf(before))) await checkDestination(ctx, tokenUrl, accountId, 'auth.token_url');
}

function tokenUrlOf(endpoint: Endpoint): string | undefined {
  return endpoint.auth.type === 'oauth2_client_credentials' ? endpoint.auth.tokenUrl : undefined;
}
