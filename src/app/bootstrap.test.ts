import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashKey } from '../api/middleware/auth.js';
import { loadConfig } from '../config/index.js';
import { SecretBox } from '../signing/secretbox.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
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
});
