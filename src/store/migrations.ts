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
