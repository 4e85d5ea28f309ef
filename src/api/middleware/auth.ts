// API key authentication. Keys are stored as SHA-256 hashes (they are long random strings, so
// a slow hash adds nothing); the stored hash is compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../../domain/types.js';
import type { Store } from '../../store/contract.js';
import { ApiError } from './errors.js';
import type { KeyFailureLimit } from './key-failures.js';

export interface Principal {
  readonly keyId: string;
  readonly accountId: string;
  readonly role: Role;
  readonly operator: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateApiKey(): { key: string; prefix: string } {
  const key = `hk_${randomBytes(24).toString('base64url')}`;
  return { key, prefix: key.slice(0, 7) };
}

const RANK: Record<Role, number> = { viewer: 0, publisher: 1, admin: 2 };

export class KeyAuthenticator {
  private readonly cache = new Map<string, { principal: Principal | null; at: number }>();

  constructor(
    private readonly store: Pick<Store, 'findApiKeyByHash'>,
    private readonly ttlMs = 5_000,
  ) {}

  /** Forget cached keys, e.g. after one was deleted in this process. */
  clear(): void {
    this.cache.clear();
  }

  async authenticate(key: string): Promise<Principal | null> {
    return this.authenticateHash(hashKey(key));
  }

  /** As authenticate(), for a caller that has hashed the key already (hashKey). */
  async authenticateHash(hash: string): Promise<Principal | null> {
    const hit = this.cache.get(hash);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.principal;
    const record = await this.store.findApiKeyByHash(hash);
    const principal =
      record && timingSafeEqual(Buffer.from(record.hash, 'hex'), Buffer.from(hash, 'hex'))
        ? { keyId: record.id, accountId: record.accountId, role: record.role, operator: record.operator }
        : null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, at: Date.now() });
    return principal;
  }
}

export function presentedKey(req: FastifyRequest): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return undefined;
  if (/^Bearer\s+\S/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  if (/^Basic\s+\S/i.test(auth)) return basicKey(auth.replace(/^Basic\s+/i, '').trim());
  return undefined;
}

/**
 * HTTP Basic, as Tenovos' API also takes it (seed 000): the key is the password, or the user
 * name when the password is empty (`curl -u $KEY:`).
 */
function basicKey(credentials: string): string | undefined {
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const key = decoded.slice(colon + 1) || decoded.slice(0, colon);
  return key.length > 0 ? key : undefined;
}

/**
 * onRequest hook: every /api route needs a valid key. With `failures`, a key that is not one
 * counts against the client's address, and an address past its limit is refused (429) before
 * its key is looked at; a request with no key at all guesses nothing and is not counted.
 */
export function authenticate(auth: KeyAuthenticator, failures?: KeyFailureLimit) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const key = presentedKey(req);
    if (!key) throw new ApiError(401, 'unauthorized', 'an API key is required: send it as X-API-Key, Authorization: Bearer, or the Basic password');
    // Hashed once, for the failure limit and the lookup: requests checking one key at once count
    // as one attempt, so a client's own are never refused for being many.
    const hash = hashKey(key);
    const attempt = failures?.admit(req, hash);
    let principal: Principal | null;
    try {
      principal = key.length > 512 ? null : await auth.authenticateHash(hash);
    } catch (err) {
      // The store did not answer: the key is neither good nor bad.
      attempt?.forget();
      throw err;
    }
    if (!principal) {
      await attempt?.failed();
      throw new ApiError(401, 'unauthorized', 'invalid API key');
    }
    attempt?.forget();
    req.principal = principal;
  };
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError(401, 'unauthorized', 'an API key is required');
  return req.principal;
}

/** The key's role must be at least `role`; Media Pocket answers 401 here, so the status is configurable. */
export function requireRole(role: Role, status: 401 | 403 = 403) {
  return async (req: FastifyRequest): Promise<void> => {
    const p = principalOf(req);
    if (RANK[p.role] < RANK[role]) throw new ApiError(status, status === 401 ? 'unauthorized' : 'forbidden', `this action needs a key with the ${role} role`);
  };
}
