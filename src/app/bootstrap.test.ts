import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashKey } from '../api/middleware/auth.js';
import { loadConfig } from '../config/index.js';
import { SecretBox } from '../signing/secretbox.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { createTestSchema } from '../store/conformance/pg-harness.js';
import type { Store } from '../store/contract.js';
import { bootstrap, DEFAULT_ACCOUNT_ID } from './bootstrap.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function freshStore(): Promise<SqliteStore> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-bootstrap-'));
  dirs.push(dir);
  const store = new SqliteStore({ file: path.join(dir, 'herald.db'), sealer: new SecretBox(SecretBox.parseKey(SecretBox.generateKey())) });
  await store.migrate();
  return store;
}

describe('bootstrap', () => {
  it('generates the admin key once, only in a process that serves the API', async () => {
    const store = await freshStore();
    const config = loadConfig({});
    // A worker starting first creates the default account but no key: its output may be a log nobody reads.
    expect((await bootstrap(store, config, false)).generatedKey).toBeUndefined();
    expect(await store.getAccount(DEFAULT_ACCOUNT_ID)).toBeDefined();
    expect(await store.countOperatorKeys()).toBe(0);

    const { generatedKey } = await bootstrap(store, config, true);
    expect(generatedKey!.key).toMatch(/^hk_/);
    expect(await store.findApiKeyByHash(hashKey(generatedKey!.key))).toMatchObject({ id: generatedKey!.id, role: 'admin', operator: true });

    expect((await bootstrap(store, config, true)).generatedKey).toBeUndefined();
    await store.close();
  });

  describe('processes started at once with the same HERALD_ADMIN_KEY', () => {
    const config = loadConfig({ HERALD_ADMIN_KEY: 'hk_the-operators-own-key-0123456789' });

    /** Both bootstraps succeed, and one env key holds the hash. */
    async function bothStart(a: Store, b: Store): Promise<void> {
      // As after `herald migrate`, or a worker's start: the default account is there, no key yet.
      await bootstrap(a, loadConfig({}), false);
      const results = await Promise.allSettled([bootstrap(a, config, true), bootstrap(b, config, true)]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(await a.findApiKeyByHash(hashKey(config.adminKey!))).toMatchObject({ role: 'admin', operator: true });
      expect(await a.countOperatorKeys()).toBe(1);
    }

    it('both start on one SQLite file', async () => {
      const store = await freshStore();
      await bothStart(store, store);
      await store.close();
    });

    it('both start on one PostgreSQL schema (two pools, as two processes)', async () => {
      const sealer = new SecretBox(SecretBox.parseKey(SecretBox.generateKey()));
      const schema = await createTestSchema(sealer);
      const [a, b] = [schema.open(sealer, 2), schema.open(sealer, 2)];
      try {
        // Two pools race over the network: a few rounds, each from no key again, to meet the race.
        for (let round = 0; round < 10; round++) {
          await bothStart(a, b);
          const key = await a.findApiKeyByHash(hashKey(config.adminKey!));
          expect(await a.deleteApiKey(DEFAULT_ACCOUNT_ID, key!.id)).toBe(true);
        }
      } finally {
        await a.close();
        await b.close();
        await schema.drop();
      }
    });
  });
});
