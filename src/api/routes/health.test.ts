import { describe, expect, it } from 'vitest';
import { checkReadiness } from './health.js';

describe('checkReadiness', () => {
  const errors: unknown[] = [];
  const onError = (err: unknown) => errors.push(err);

  it('is ready when the schema is current', async () => {
    expect(await checkReadiness(async () => ({ current: 5, latest: 5 }), onError)).toEqual({ status: 'ready', schema: 5 });
  });

  it('names pending migrations and a newer schema with both versions', async () => {
    expect(await checkReadiness(async () => ({ current: 3, latest: 5 }), onError)).toEqual({ status: 'unavailable', reason: 'migrations_pending', current: 3, latest: 5 });
    expect(await checkReadiness(async () => ({ current: 6, latest: 5 }), onError)).toEqual({ status: 'unavailable', reason: 'schema_newer', current: 6, latest: 5 });
  });

  it('reports an unreachable store, failing or hanging, and hands the error to the log only', async () => {
    errors.length = 0;
    expect(await checkReadiness(() => Promise.reject(new Error('password authentication failed for user "herald"')), onError)).toEqual({ status: 'unavailable', reason: 'store_unreachable' });
    expect(await checkReadiness(() => new Promise(() => {}), onError, 20)).toEqual({ status: 'unavailable', reason: 'store_unreachable' });
    expect(errors.map((e) => (e as Error).message)).toEqual(['password authentication failed for user "herald"', 'the store did not answer within 20 ms']);
  });

  it('waits for a dispatcher starting or restarting; the store is reported first, and a process without one is not held', async () => {
    const current = async () => ({ current: 5, latest: 5 });
    expect(await checkReadiness(current, onError, 20, () => 'starting')).toEqual({ status: 'unavailable', reason: 'dispatcher_starting' });
    expect(await checkReadiness(current, onError, 20, () => 'restarting')).toEqual({ status: 'unavailable', reason: 'dispatcher_restarting' });
    expect(await checkReadiness(current, onError, 20, () => 'running')).toEqual({ status: 'ready', schema: 5 });
    expect(await checkReadiness(current, onError, 20, () => undefined)).toEqual({ status: 'ready', schema: 5 });
    const refused = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    expect(await checkReadiness(() => Promise.reject(refused), onError, 20, () => 'starting')).toEqual({ status: 'unavailable', reason: 'store_unwritable' });
  });

  it('tells a store whose disk refuses writes (full, read-only, failing) from one it cannot reach', async () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY']) {
      const refused = Object.assign(new Error('database or disk is full'), { code });
      expect(await checkReadiness(() => Promise.reject(refused), onError)).toEqual({ status: 'unavailable', reason: 'store_unwritable' });
    }
  });
});
