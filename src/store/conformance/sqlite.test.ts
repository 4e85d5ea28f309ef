// The conformance suite against the embedded driver: a fresh database file per test.
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../sqlite/sqlite-store.js';
import { conformanceSealer, runStoreConformance } from './suite.js';

const sealer = conformanceSealer();

runStoreConformance('sqlite', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-conformance-'));
  const file = path.join(dir, 'herald.db');
  const store = new SqliteStore({ file, sealer });
  await store.migrate();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
    rawRows: async (table) => {
      // A second connection: it reads the WAL too, so it sees exactly what was committed.
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
  };
});
