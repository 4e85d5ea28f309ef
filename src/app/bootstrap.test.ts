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
  it('generates and prints the admin key once, only in a process that serves the API', async () => {
    const store = await freshStore();
    const config = loadConfig({});
    const lines: string[] = [];
    // A worker starting first creates the default account but no key: its output may be a log nobody reads.
    await bootstrap(store, config, (line) => lines.push(line), false);
    expect(await store.getAccount(DEFAULT_ACCOUNT_ID)).toBeDefined();
    expect(lines).toEqual([]);
    expect(await store.countOperatorKeys()).toBe(0);

    await bootstrap(store, config, (line) => lines.push(line), true);
    expect(lines).toHaveLength(1);
    const key = /: (hk_\S+)$/.exec(lines[0])![1];
    expect(await store.findApiKeyByHash(hashKey(key))).toMatchObject({ role: 'admin', operator: true });

    await bootstrap(store, config, (line) => lines.push(line), true);
    expect(lines).toHaveLength(1);
    await store.close();
  });
});
