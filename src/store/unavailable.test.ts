import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerErrorHandler } from '../api/middleware/errors.js';
import { diskRefusal, storeUnavailable } from './unavailable.js';

const coded = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('storeUnavailable', () => {
  it('tells a store that cannot be reached or cannot answer from a failure of the request', () => {
    const unavailable = [
      coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      new Error('Connection terminated unexpectedly'),
      coded('57P01', 'terminating connection due to administrator command'),
      coded('08006'),
      coded('53300', 'sorry, too many clients already'),
      coded('3D000', 'database "herald" does not exist'),
      coded('57P04', 'database dropped'),
      coded('55000', 'database "herald" is not currently accepting connections'),
      coded('40P01', 'deadlock detected'),
      coded('40001', 'could not serialize access due to concurrent update'),
      coded('57014', 'canceling statement due to statement timeout'),
      coded('25P03', 'terminating connection due to idle-in-transaction timeout'),
      coded('SQLITE_BUSY', 'database is locked'),
      coded('SQLITE_IOERR_WRITE'),
      coded('SQLITE_READONLY', 'attempt to write a readonly database'),
      new Error('commit failed', { cause: coded('SQLITE_FULL') }),
    ];
    for (const err of unavailable) expect(storeUnavailable(err), err.message).toBe(true);
    const failures = [new Error('boom'), coded('23505', 'duplicate key'), coded('55000', 'cannot execute this in a read-only transaction'), coded('SQLITE_CONSTRAINT'), new RangeError('Maximum call stack size exceeded'), 'ECONNREFUSED', undefined];
    for (const err of failures) expect(storeUnavailable(err), String(err)).toBe(false);
  });

  it('is what the API answers 503 with Retry-After for, instead of a 500', async () => {
    const app = Fastify();
    registerErrorHandler(app);
    app.get('/down', async () => {
      throw coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432');
    });
    app.get('/bug', async () => {
      throw new Error('boom');
    });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const down = await fetch(`${base}/down`);
      expect([down.status, down.headers.get('retry-after'), (await down.json()).error]).toEqual([503, '5', 'store_unavailable']);
      expect((await fetch(`${base}/bug`)).status).toBe(500);
    } finally {
      await app.close();
    }
  });

  it("names the code of a write the disk refused, the store's fault until the disk is seen to", () => {
    const refused = [coded('SQLITE_FULL'), coded('SQLITE_IOERR_SHMSIZE'), coded('SQLITE_READONLY_DBMOVED'), coded('SQLITE_CANTOPEN'), coded('ENOSPC'), new Error('commit failed', { cause: coded('SQLITE_FULL') }), coded('53100', 'could not extend file')];
    expect(refused.map(diskRefusal)).toEqual(['SQLITE_FULL', 'SQLITE_IOERR_SHMSIZE', 'SQLITE_READONLY_DBMOVED', 'SQLITE_CANTOPEN', 'ENOSPC', 'SQLITE_FULL', '53100']);
    for (const err of [coded('SQLITE_BUSY', 'database is locked'), coded('SQLITE_CONSTRAINT'), coded('ECONNREFUSED'), coded('53300', 'too many connections'), new Error('boom'), undefined]) {
      expect(diskRefusal(err), String(err)).toBeUndefined();
    }
  });
});
