import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** migrations/<dialect>/NNN_name.sql, from the package root (same depth from src/ and dist/). */
export function loadMigrations(dialect: 'sqlite' | 'postgres'): Migration[] {
  const dir = fileURLToPath(new URL(`../../migrations/${dialect}/`, import.meta.url));
  return readdirSync(dir)
    .filter((f) => /^\d{3}_.+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file,
      sql: readFileSync(path.join(dir, file), 'utf8'),
    }));
}

export class SchemaMismatchError extends Error {
  constructor(current: number, latest: number) {
    super(
      current < latest
        ? `database schema is at version ${current}, this Herald needs ${latest}: run "herald migrate" first`
        : `database schema is at version ${current}, newer than this Herald knows (${latest}): upgrade Herald`,
    );
    this.name = 'SchemaMismatchError';
  }
}

/**
 * A migration the database refused, named by version and file, with the database's words and
 * what stays applied. It keeps the database's code (a full disk, a lost connection) for those
 * that look at it, across the store's thread too.
 */
export class MigrationError extends Error {
  readonly code: string | undefined;

  constructor(migration: Migration, cause: unknown, left: string) {
    const words = cause instanceof Error ? cause.message : String(cause);
    super(`migration ${String(migration.version).padStart(3, '0')} (${migration.name}) failed: ${words}; ${left}`, { cause });
    this.name = 'MigrationError';
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}
