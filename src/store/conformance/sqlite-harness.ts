// A conformance handle for an embedded store: a fresh database file in a temporary directory.
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Store } from '../contract.js';
import type { ConformanceHandle } from './suite.js';

export async function sqliteHandle(open: (file: string) => Promise<Store>): Promise<ConformanceHandle> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-conformance-'));
  const file = path.join(dir, 'herald.db');
  const store = await open(file);
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
}
