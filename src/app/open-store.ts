import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';
import { SecretBox } from '../signing/secretbox.js';
import type { Store } from '../store/contract.js';
import { SchemaMismatchError } from '../store/migrations.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

/**
 * The encryption key for credentials at rest: HERALD_SECRET_KEY, or a key generated into the
 * data directory on first start (readable by the owner only).
 */
export function loadSecretBox(config: Config, logger?: Logger): SecretBox {
  if (config.secretKey) {
    try {
      return new SecretBox(SecretBox.parseKey(config.secretKey));
    } catch (err) {
      throw new ConfigError('HERALD_SECRET_KEY', (err as Error).message);
    }
  }
  const file = path.join(config.dataDir, 'secret.key');
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, `${SecretBox.generateKey()}\n`, { mode: 0o600, flag: 'wx' });
    logger?.info({ file }, 'generated the encryption key for credentials at rest; back it up with the database');
  }
  chmodSync(file, 0o600);
  return new SecretBox(SecretBox.parseKey(readFileSync(file, 'utf8').trim()));
}

export function sqliteFile(config: Config): string {
  if (config.databaseUrl?.startsWith('sqlite:')) return path.resolve(config.databaseUrl.slice('sqlite:'.length));
  return path.join(config.dataDir, 'herald.db');
}

/** Opens the configured store. `migrate`: apply migrations (the embedded store always does). */
export async function openStore(config: Config, logger?: Logger, options: { migrate?: boolean } = {}): Promise<Store> {
  const sealer = loadSecretBox(config, logger);
  if (config.databaseUrl?.startsWith('postgres')) {
    throw new ConfigError('DATABASE_URL', 'the PostgreSQL driver is not part of this build yet; unset DATABASE_URL to use SQLite');
  }
  const store = new SqliteStore({ file: sqliteFile(config), sealer, synchronous: config.sqliteSync });
  const state = await store.migrate();
  if (state.current !== state.latest) {
    await store.close();
    throw new SchemaMismatchError(state.current, state.latest);
  }
  return store;
}
