import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';
import { SecretBox } from '../signing/secretbox.js';
import type { Sealer, Store } from '../store/contract.js';
import { SchemaMismatchError } from '../store/migrations.js';
import { SqliteStore, type WritesReport } from '../store/sqlite/sqlite-store.js';
import { openThreadedSqliteStore } from '../store/sqlite/threaded-store.js';
import type { WriteLock } from '../store/sqlite/write-lock.js';
import { diskRefusal, refusalRemedy } from '../store/unavailable.js';

/**
 * The encryption key for credentials at rest, as configured: HERALD_SECRET_KEY, or a key
 * generated into the data directory on first start (readable by the owner only).
 */
export function loadSecretKey(config: Config, logger?: Logger): string {
  if (config.secretKey) return config.secretKey;
  const file = path.join(config.dataDir, 'secret.key');
  try {
    if (!existsSync(file)) {
      mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
      createWhole(file, `${SecretBox.generateKey()}\n`);
      logger?.info({ file }, 'generated the encryption key for credentials at rest; back it up with the database');
    }
    chmodSync(file, 0o600);
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    // Not a directory, not writable, full: the setting is what the operator can change.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined) throw err;
    throw new ConfigError('HERALD_DATA_DIR', `cannot keep the encryption key in ${config.dataDir} (${code}): ${(err as Error).message}`);
  }
}

/**
 * Creates a file readable by its owner only, whole or not at all, and on the disk before it is
 * used: a write cut short (a full disk) or lost (a crash or disk error before the data reached
 * the disk) left an empty key, which every later start refused, and the credentials sealed with
 * it unreadable. Written beside it and flushed, then linked in place, which fails (EEXIST) as an
 * exclusive create would if the file appeared meanwhile; the directory is flushed with the link.
 */
function createWhole(file: string, content: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, content, { mode: 0o600, flush: true });
    linkSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function loadSecretBox(config: Config, logger?: Logger): SecretBox {
  return secretBoxOf(config, loadSecretKey(config, logger));
}

/** The sealer for a loaded key; a malformed HERALD_SECRET_KEY is a configuration error. */
function secretBoxOf(config: Config, key: string): SecretBox {
  try {
    return new SecretBox(SecretBox.parseKey(key));
  } catch (err) {
    if (config.secretKey) throw new ConfigError('HERALD_SECRET_KEY', (err as Error).message);
    throw err;
  }
}

/** The sealer of a store opened only to migrate its schema. */
const NO_CREDENTIALS: Sealer = {
  seal: () => {
    throw new Error('this store was opened to migrate only: it seals no credentials');
  },
  open: () => {
    throw new Error('this store was opened to migrate only: it opens no credentials');
  },
};

export function sqliteFile(config: Config): string {
  if (config.databaseUrl?.startsWith('sqlite:')) return path.resolve(config.databaseUrl.slice('sqlite:'.length));
  return path.join(config.dataDir, 'herald.db');
}

/**
 * DATABASE_URL may name a schema as `?schema=NAME` (Herald's tables live there; default
 * `public`); the parameter is Herald's, so it is removed before pg sees the URL.
 */
export function postgresTarget(url: string): { connectionString: string; schema: string | undefined } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError('DATABASE_URL', `schema "${schema}" must be a lower-case identifier`);
  }
  return { connectionString: parsed.toString(), schema };
}

/**
 * Opens the configured store. `migrate`: apply migrations (the embedded store always does).
 * `writeLock`: shared with the other threads of this process that open the same SQLite file.
 */
export async function openStore(config: Config, logger?: Logger, options: { migrate?: boolean; writeLock?: WriteLock } = {}): Promise<Store> {
  if (config.databaseUrl?.startsWith('postgres')) {
    // Migrating reads no credentials: it needs no key, and must not leave one in a local directory.
    const sealer = options.migrate && !config.secretKey ? NO_CREDENTIALS : loadSecretBox(config, logger);
    if (!options.migrate && !config.secretKey) {
      logger?.warn('DATABASE_URL is PostgreSQL but HERALD_SECRET_KEY is unset: every Herald process must share one key to read the credentials the others stored');
    }
    const { PostgresStore } = await import('../store/postgres/postgres-store.js');
    const { connectionString, schema } = postgresTarget(config.databaseUrl);
    const store = new PostgresStore({
      connectionString,
      sealer,
      schema,
      poolSize: config.pgPoolSize,
      statementTimeoutMs: config.pgStatementTimeoutMs,
      onWrites: logWrites(logger, 'PostgreSQL', 'the server refuses'),
    });
    try {
      if (options.migrate) await store.migrate();
      const state = await store.schemaState();
      if (state.current !== state.latest) throw new SchemaMismatchError(state.current, state.latest);
      if (sealer !== NO_CREDENTIALS) await checkKeyOpens(store, config);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }
  const key = loadSecretKey(config, logger);
  const sealer = secretBoxOf(config, key);
  const file = sqliteFile(config);
  const onWrites = logWrites(logger, file);
  const store = await refusedAtStart(config, file, async () =>
    config.sqliteThread
      ? openThreadedSqliteStore({
          file,
          synchronous: config.sqliteSync,
          key,
          writeLock: options.writeLock?.buffer,
          onFailure: (err, restartInMs) => logger?.error({ err, restartInMs }, 'the SQLite store thread stopped: store calls fail until a new one has opened the database'),
          onWrites,
        })
      : new SqliteStore({ file, sealer, synchronous: config.sqliteSync, writeLock: options.writeLock, onWrites }),
  );
  try {
    const state = await refusedAtStart(config, file, () => store.migrate());
    if (state.current !== state.latest) throw new SchemaMismatchError(state.current, state.latest);
    // Migrating reads no credentials (as on PostgreSQL): a key elsewhere is not its concern.
    if (!options.migrate) await checkKeyOpens(store, config);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/**
 * A store's write refusals in the log: once when its disk or server starts refusing writes (full,
 * read-only, failing), once when it takes them again. The writes refused in between are counted,
 * not logged one by one: under load they are thousands (see storeErrorLevel).
 */
export function logWrites(logger: Logger | undefined, file: string, who = 'the disk refuses'): (report: WritesReport) => void {
  return (report) => {
    if (report.state === 'resumed') {
      logger?.info({ file, failedWrites: report.failedWrites, afterMs: report.afterMs }, 'the store writes again: publishing and delivering resume');
      return;
    }
    logger?.error(
      { err: report.err, file },
      `${who} the store's writes: until it takes them again, publishing answers 503 store_unavailable and /readyz store_unwritable, and attempt outcomes wait in memory; ${refusalRemedy(report.err)}`,
    );
  };
}

/**
 * Opening or migrating the embedded store, with a disk that refuses writes (full, read-only) named
 * as the setting to see to, so the start fails with what to do rather than SQLite's words alone.
 */
async function refusedAtStart<T>(config: Config, file: string, open: () => Promise<T> | T): Promise<T> {
  try {
    return await open();
  } catch (err) {
    const code = diskRefusal(err);
    if (code === undefined) throw err;
    const setting = config.databaseUrl?.startsWith('sqlite:') ? 'DATABASE_URL' : 'HERALD_DATA_DIR';
    throw new ConfigError(setting, `cannot write the database ${file} (${code}: ${(err as Error).message}); free space on its disk or make it writable`);
  }
}

/**
 * Refuses a key that does not open the credentials already stored: with it, every delivery and
 * every endpoint read would fail, while the process looked healthy.
 */
async function checkKeyOpens(store: Store, config: Config): Promise<void> {
  if (await store.opensCredentials()) return;
  const which = config.secretKey ? 'this key' : `unset, and the key in ${path.join(config.dataDir, 'secret.key')}`;
  throw new ConfigError('HERALD_SECRET_KEY', `${which} does not open the credentials stored in the database: it is not the key they were sealed with`);
}
