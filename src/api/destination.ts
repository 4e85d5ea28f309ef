import type { AppContext } from '../app/context.js';
import { ApiError } from './middleware/errors.js';

/** The SSRF guard at create/update time; connect time is guarded again in the sender. */
export async function checkDestination(ctx: AppContext, url: string, _accountId: string, field = 'url'): Promise<void> {
  try {
    await ctx.guard.checkUrl(url);
  } catch (err) {
    const kind = (err as { kind?: string }).kind;
    // A name that does not resolve yet is accepted: it cannot reach anything now, and the
    // connect-time check guards whatever it resolves to later.
    if (kind === 'dns') return;
    if (kind === 'ssrf_blocked' || kind === 'invalid_url') throw new ApiError(422, kind, `${field}: ${(err as Error).message}`, field);
    throw err;
  }
}
