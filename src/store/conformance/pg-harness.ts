// Test helpers for the PostgreSQL driver: a throwaway schema per test file, so files can run in
// parallel against one database without seeing each other's rows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { Sealer } from '../contract.js';
import { PostgresStore } from '../postgres/postgres-store.js';
import { SecretBox } from '../../signing/secretbox.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  readonly name: string;
  open(sealer: Sealer, poolSize?: number): PostgresStore;
  rawRows(table: string): Promise<Record<string, unknown>[]>;
  /** Empties every table (the schema and its migrations stay). */
  truncate(): Promise<void>;
  drop(): Promise<void>;
}

/**
 * Starts creating and migrating `herald_test_<random>`. Tests await the promise themselves
 * (not in beforeAll): a failing beforeAll makes vitest report its tests as skipped, and an
 * unreachable PostgreSQL must fail every test instead.
 */
export function testSchema(sealer: Sealer): Promise<TestSchema> {
  const pending = createTestSchema(sealer);
  pending.catch(() => undefined); // Reported by each test that awaits it, not as unhandled.
  return pending;
}

/** Drops the schema if it was created. */
export async function dropTestSchema(pending: Promise<TestSchema> | undefined): Promise<void> {
  const schema = await pending?.catch(() => undefined);
  await schema?.drop();
}

/** Two stores with pools of their own on one schema: two processes racing in one database. */
export interface TwoStores {
  readonly schema: TestSchema;
  readonly a: PostgresStore;
  readonly b: PostgresStore;
}

/**
 * Registers the hooks of a test file whose tests each need two stores on a schema of the file's
 * own, emptied before each test; the object returned holds the current test's. Awaited per
 * test, so an unreachable PostgreSQL fails each test rather than skipping them all.
 */
export function twoStoresPerTest(sealer: Sealer, poolSize: number): TwoStores {
  let ready: Promise<TestSchema>;
  const current: { schema?: TestSchema; a?: PostgresStore; b?: PostgresStore } = {};
  beforeAll(() => {
    ready = testSchema(sealer);
  });
  afterAll(() => dropTestSchema(ready));
  beforeEach(async () => {
    current.schema = await ready;
    await current.schema.truncate();
    current.a = current.schema.open(sealer, poolSize);
    current.b = current.schema.open(sealer, poolSize);
  });
  afterEach(async () => {
    await current.a?.close();
    await current.b?.close();
  });
  return current as TwoStores;
}

/**
 * A new schema (as createTestSchema) and what a Herald needs to run on it: DATABASE_URL naming
 * it, and HERALD_SECRET_KEY, the key its secrets are sealed with.
 */
export async function heraldTestSchema(): Promise<{ schema: TestSchema; env: Record<string, string> }> {
  const key = randomBytes(32);
  const schema = await createTestSchema(new SecretBox(key));
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('schema', schema.name);
  return { schema, env: { DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex') } };
}

/** Creates and migrates `herald_test_<random>`; rejects when PostgreSQL is unreachable. */
export async function createTestSchema(sealer: Sealer): Promise<TestSchema> {
  const name = `herald_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2, options: `-c search_path=${name}` });
  admin.on('error', () => undefined);
  try {
    await admin.query(`CREATE SCHEMA ${name}`);
  } catch (err) {
    await admin.end();
    throw new Error(`PostgreSQL at ${TEST_DATABASE_URL} is required for these tests: ${(err as Error).message}`);
  }
  const migrator = new PostgresStore({ connectionString: TEST_DATABASE_URL, sealer, schema: name, poolSize: 1 });
  try {
    await migrator.migrate();
  } finally {
    await migrator.close();
  }
  return {
    name,
    open: (s, poolSize) => new PostgresStore({ connectionString: TEST_DATABASE_URL, sealer: s, schema: name, poolSize }),
    rawRows: async (table) => (await admin.query(`SELECT * FROM ${table}`)).rows as Record<string, unknown>[],
    truncate: async () => {
      // Whatever tables the migrations made, so a new migration needs no change here.
      const { rows } = await admin.query<{ t: string }>(
        "SELECT string_agg(format('%I', tablename), ', ') AS t FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'",
        [name],
      );
      await admin.query(`TRUNCATE ${rows[0].t}`);
    },
    drop: async () => {
      try {
        await admin.query(`DROP SCHEMA ${name} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
