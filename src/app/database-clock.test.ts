import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { conformanceSealer } from '../store/conformance/suite.js';
import { TEST_DATABASE_URL } from '../store/conformance/pg-harness.js';
import { DatabaseClock } from './database-clock.js';

function capturingLogger() {
  const lines: { msg: string; offsetMs?: number }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string; offsetMs?: number });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('DatabaseClock', () => {
  let store: PostgresStore | undefined;
  let clock: DatabaseClock | undefined;
  afterEach(async () => {
    clock?.stop();
    await store?.close();
    clock = undefined;
    store = undefined;
  });

  it("keeps the PostgreSQL server's time on a host whose own clock is 30 s ahead, and says so in the log", async () => {
    store = new PostgresStore({ connectionString: TEST_DATABASE_URL, sealer: conformanceSealer(), poolSize: 1 });
    const { logger, lines } = capturingLogger();
    clock = new DatabaseClock(() => store!.serverTime(), logger, () => Date.now() + 30_000);
    await clock.start();
    const before = await store.serverTime();
    const ours = clock.now();
    const after = await store.serverTime();
    // Within the read's own round trip, plus the half round trip the offset may be off by.
    expect(ours).toBeGreaterThanOrEqual(before - 50);
    expect(ours).toBeLessThanOrEqual(after + 50);
    expect(clock.offset).toBeGreaterThan(-30_050);
    expect(clock.offset).toBeLessThan(-29_950);
    expect(lines.some((l) => l.msg.includes("clock is off the database server's") && Math.abs((l.offsetMs ?? 0) + 30_000) < 50)).toBe(true);
  });

  it('keeps its offset through round-trip noise and through a failed read, and follows a real change', async () => {
    let server = 1_000_000;
    let fail = false;
    const { logger } = capturingLogger();
    const local = () => 1_000_000;
    clock = new DatabaseClock(async () => {
      if (fail) throw new Error('connection refused');
      return server;
    }, logger, local);
    await clock.start();
    expect(clock.now()).toBe(1_000_000);
    server += 15; // under the jitter: kept
    await clock.sync();
    expect(clock.now()).toBe(1_000_000);
    fail = true;
    await expect(clock.sync()).rejects.toThrow('connection refused');
    expect(clock.now()).toBe(1_000_000);
    fail = false;
    server += 500;
    await clock.sync();
    expect(clock.now()).toBe(1_000_515);
  });

  it('fails to start when the database does not answer', async () => {
    const { logger } = capturingLogger();
    clock = new DatabaseClock(() => Promise.reject(new Error('no database')), logger);
    await expect(clock.start()).rejects.toThrow('no database');
  });
});
