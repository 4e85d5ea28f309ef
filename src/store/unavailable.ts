// Whether a store error means the store could not be reached or could not answer now (down,
// overloaded, or in contention that passes): a 503 with Retry-After for the client, not a 500.
// Either driver, and errors wrapping such an error.

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** pg and pg-pool say these in words only. */
const PG_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /connection terminated/i,
  /query read timeout/i,
  /cannot use a pool after calling end/i,
  // SQLSTATE 55000 says this for a database closed to connections (ALLOW_CONNECTIONS false); 55000 alone is broader.
  /is not currently accepting connections/i,
];

/** The code of the errors of an embedded store whose thread stopped (HERALD_SQLITE_THREAD=on) and is restarting. */
export const THREAD_DOWN = 'HERALD_STORE_THREAD_DOWN';

/**
 * The connection to the server failed: a network error, a PostgreSQL connection exception (08…),
 * or the server shutting the session down (57P01–57P03).
 */
function connectionLostCode(code: string): boolean {
  return NETWORK_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || /^57P0[1-3]$/.test(code);
}

function unavailableCode(code: string): boolean {
  if (connectionLostCode(code) || code === THREAD_DOWN) return true;
  // PostgreSQL SQLSTATE: the database dropped or missing (57P04, 3D000), out of connections or
  // resources (53…).
  if (code === '57P04' || code === '3D000' || /^53[0-9A-Z]{3}$/.test(code)) return true;
  // A statement cancelled (57014: past HERALD_PG_STATEMENT_TIMEOUT_MS, held up by a lock or a
  // server too busy), a session ended for idling in a transaction (25P03): the store did not
  // answer in time, as a query read timeout says.
  if (code === '57014' || code === '25P03') return true;
  // A deadlock or serialization failure still there after the store's own retries: contention
  // that passes, so the client should try again too.
  if (code === '40P01' || code === '40001') return true;
  // SQLite: locked past the busy timeout, or its disk refusing writes.
  return code === 'SQLITE_BUSY' || diskRefusalCode(code);
}

/**
 * SQLite's codes for a write its disk refused: full, failing (I/O error), read-only, or the file
 * gone (cannot open); the file system's own, met when the database or its key is created; and
 * PostgreSQL's disk_full (53100), met when a table or index needs a page its disk has no room for.
 */
function diskRefusalCode(code: string): boolean {
  return code === '53100' || code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || FS_REFUSALS.has(code);
}

const FS_REFUSALS = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

/** `err` and the errors it wraps, outermost first, each with its code if it has one. */
function* chainOf(err: unknown): Generator<{ error: Error; code: string | undefined }> {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    yield { error: e, code: typeof code === 'string' ? code : undefined };
  }
}

export function storeUnavailable(err: unknown): boolean {
  for (const { error, code } of chainOf(err)) {
    if (code !== undefined && unavailableCode(code)) return true;
    if (PG_MESSAGES.some((m) => m.test(error.message))) return true;
  }
  return false;
}

/**
 * The code of a write the embedded store's disk refused (SQLITE_FULL, SQLITE_IOERR_…,
 * SQLITE_READONLY…, ENOSPC, …), or undefined for any other error. Such a failure is the disk's,
 * not the request's: it lasts until space is freed or the disk is repaired.
 */
export function diskRefusal(err: unknown): string | undefined {
  for (const { code } of chainOf(err)) if (code !== undefined && diskRefusalCode(code)) return code;
  return undefined;
}

/**
 * What an operator does about a refusal of the store's writes, for the one log line that reports
 * it: PostgreSQL's out-of-memory and out-of-connections take the same path as its full disk, and
 * a full disk asks for something else than a read-only or failing one.
 */
export function refusalRemedy(err: unknown): string {
  for (const { code } of chainOf(err)) {
    if (code === '53200') return 'the PostgreSQL server is out of memory: lower its memory settings or give it more';
    if (code === '53300') return 'the PostgreSQL server has no connection slots left: raise its max_connections or lower HERALD_PG_POOL_SIZE';
    if (code === '53100' || code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'free space on its disk';
    if (code?.startsWith('SQLITE_READONLY') || code === 'EROFS') return 'make the database writable (a file system turned read-only needs repairing and a restart)';
  }
  return 'repair the disk or free space on it';
}

/**
 * A write whose commit was sent but never confirmed: the store's thread stopped with the call in
 * its hands, or the connection was lost during COMMIT. It may or may not have taken effect, so
 * it must not be answered as "nothing was stored", nor committed again as if it had failed.
 */
export class OutcomeUnknownError extends Error {
  constructor(cause: Error) {
    super(`${cause.message} while a call was in flight: it may or may not have taken effect`, { cause });
    this.name = 'OutcomeUnknownError';
  }
}

/**
 * Whether an error of a COMMIT leaves its outcome unknown: the connection failed (a network
 * error, a connection exception, the server shutting the session down) rather than the server
 * refusing the commit with an SQL error, after which the transaction is certainly rolled back.
 */
export function commitOutcomeUnknown(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || connectionLostCode(code);
}
