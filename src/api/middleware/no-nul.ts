// U+0000 is refused in every request value (400 naming the field). PostgreSQL cannot keep it in
// a text column: one event id holding it failed the whole group commit, and with it the other
// requests (of other accounts too) that shared the commit. SQLite would keep it, so both stores
// refuse it here alike. Inbox captures are raw bytes and not concerned.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

/** Where in `value` a string (or key) holds U+0000, as `a.b[2].c`; undefined if nowhere. */
export function findNul(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (value instanceof Map) {
    // A form: each field named by its name alone, whichever of its values holds it.
    for (const [key, member] of value as Map<string, unknown>) if (key.includes('\u0000') || findNul(member, key) !== undefined) return key;
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined;
  for (const [key, member] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key.includes('\u0000')) return at;
    const found = findNul(member, at);
    if (found) return found;
  }
  return undefined;
}

export function nulRefused(field: string): ApiError {
  return new ApiError(400, 'invalid_request', `${field} holds a NUL character (U+0000), which is not accepted`, field);
}

/**
 * A JSON body as text: NUL can only be written `\u0000` in it, so bodies without that escape
 * (nearly all) are not walked.
 */
export function checkJsonText(text: string, parsed: unknown): ApiError | null {
  if (!text.includes('\\u0000')) return null;
  const field = findNul(parsed, '');
  return field === undefined ? null : nulRefused(field || 'body');
}

/** Path parameters and the query string, once routed. */
export function registerNulRefusal(app: FastifyInstance): void {
  app.addHook('preValidation', async (req: FastifyRequest) => {
    const field = findNul(req.params, '') ?? findNul(req.query, '');
    if (field !== undefined) throw nulRefused(field);
  });
}
