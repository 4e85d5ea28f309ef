// Sign-ins of the admin UI. The browser holds only a random token; the store keeps its hash with
// the signed-in API key sealed, so a cookie that leaks is worth nothing once it expires, is signed
// out, or its key is deleted, and the key itself never travels in a cookie. Sessions live in the
// store, so every API process of a PostgreSQL deployment knows them.
import type { FastifyRequest } from 'fastify';
import type { Store } from '../store/contract.js';
import { newSessionToken, sessionToken, tokenHash } from './security.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session's key once looked up for this request (null: no live session). */
    uiKey?: string | null;
  }
}

export class UiSessions {
  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Starts a session for a key already proven good; returns the token for the cookie. */
  async start(apiKeyId: string, key: string): Promise<string> {
    const { token, hash } = newSessionToken();
    const now = this.clock();
    await this.store.createUiSession({ tokenHash: hash, apiKeyId, key, createdAt: now, expiresAt: now + this.ttlMs });
    return token;
  }

  /** The API key of the request's live session, or undefined (looked up once per request). */
  async keyOf(req: FastifyRequest): Promise<string | undefined> {
    if (req.uiKey === undefined) {
      const token = sessionToken(req);
      const session = token === undefined ? undefined : await this.store.findUiSession(tokenHash(token), this.clock());
      req.uiKey = session?.key ?? null;
    }
    return req.uiKey ?? undefined;
  }

  /**
   * Whether the request's session is still live now, asked of the store again (not the
   * lookup kept for the request): a long-lived response, the inbox stream, checks it while open.
   */
  async stillLive(req: FastifyRequest): Promise<boolean> {
    const token = sessionToken(req);
    return token !== undefined && (await this.store.findUiSession(tokenHash(token), this.clock())) !== undefined;
  }

  /** Ends the request's session, if it has one. */
  async end(req: FastifyRequest): Promise<void> {
    const token = sessionToken(req);
    req.uiKey = null;
    if (token !== undefined) await this.store.deleteUiSession(tokenHash(token));
  }
}
