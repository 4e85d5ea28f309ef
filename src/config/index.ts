// The only module that reads process.env. Everything else receives a typed Config.
import { isIP } from 'node:net';
import path from 'node:path';
import { parseRetrySchedule } from '../delivery/retry-policy.js';
import { parseCidrList } from '../net/cidr.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** undefined = embedded SQLite in dataDir. */
  readonly databaseUrl: string | undefined;
  readonly adminKey: string | undefined;
  /** Raw CIDR list; parsed by src/net into an allow-list. */
  readonly allowedTargets: string;
  /** Delay in seconds before each attempt; length = maximum attempts. */
  readonly retrySchedule: readonly number[];
  readonly secretKey: string | undefined;
  readonly logLevel: LogLevel;
  /** Concurrent outbound requests of one dispatcher. */
  readonly concurrency: number;
  /** Concurrent outbound requests to one endpoint. */
  readonly endpointConcurrency: number;
  readonly leaseMs: number;
  readonly sqliteSync: 'full' | 'normal';
  /** The embedded store runs on a thread of its own (default: on the main thread). */
  readonly sqliteThread: boolean;
  /**
   * `herald serve` on the embedded store runs its dispatcher on a thread of its own, with its
   * own connection to the database (default: on).
   */
  readonly dispatchThread: boolean;
  readonly shutdownGraceMs: number;
  /** How long the previous signing secret keeps signing after a rotation. */
  readonly rotationOverlapMs: number;
  /** An endpoint failing every attempt for this long is disabled. */
  readonly disableAfterMs: number;
  /** Delivered messages and attempts older than this are pruned. */
  readonly retentionMs: number;
  /** API requests per second per key; 0 turns the limit off. */
  readonly apiRateLimit: number;
  /** A request whose headers and body have not all arrived within this is answered 408 and closed. */
  readonly requestTimeoutMs: number;
  /** Events waiting for their commit beyond which ingest answers 503 (back-pressure). */
  readonly ingestQueueLimit: number;
  /** Requests captured by Connect inboxes are pruned after this. */
  readonly inboxRetentionMs: number;
  /** Captures per second one inbox accepts (429 beyond); 0 turns the limit off. */
  readonly inboxRateLimit: number;
  /** Captured requests kept per inbox (the oldest go first); 0: no cap. */
  readonly inboxMaxRequests: number;
  /**
   * The public base URL of this Herald (`https://herald.example.com`), used for inbox URLs and
   * exempt from the SSRF guard as an own-inbox host; undefined = the address a request came to.
   */
  readonly publicUrl: string | undefined;
  /** How long an admin UI sign-in lasts (HERALD_UI_SESSION_HOURS, default 12). */
  readonly uiSessionMs: number;
  /** Failed admin UI sign-ins an address may make per 15 minutes (HERALD_UI_SIGN_IN_FAILURES, default 10; 0 = no limit). */
  readonly uiSignInFailures: number;
  /** API requests with a key that is not one an address may make per 15 minutes (HERALD_API_KEY_FAILURES, default 20; 0 = no limit). */
  readonly apiKeyFailures: number;
  /**
   * Reverse proxies (a CIDR list, HERALD_UI_TRUSTED_PROXIES) whose X-Forwarded-For names the
   * client a failed sign-in or API key is counted against; empty: the connection's address always.
   */
  readonly uiTrustedProxies: string;
  /**
   * Where a process without the API (`herald worker`) serves /metrics, /healthz and /readyz;
   * undefined = nowhere. API processes serve them on `port`.
   */
  readonly metricsPort: number | undefined;
  /** PostgreSQL: connections in each process's pool (its LISTEN connections come on top). */
  readonly pgPoolSize: number;
  /**
   * PostgreSQL: the server cancels a statement running longer than this (statement_timeout), and
   * the process gives up on an answer a few seconds after; 0 = neither. Migrations run without.
   */
  readonly pgStatementTimeoutMs: number;
}

/** What the client commands of the CLI (send, endpoints, listen, …) need. */
export interface ClientConfig {
  /** HERALD_URL, default http://localhost:8080. */
  readonly url: string;
  /** HERALD_API_KEY; undefined when unset. */
  readonly apiKey: string | undefined;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_RETRY_SCHEDULE = '0,5,300,1800,7200,18000,36000,36000';

type Env = Readonly<Record<string, string | undefined>>;

function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function retryScheduleVar(env: Env): number[] {
  try {
    // Set empty is unset, as for every other variable (an env file's `HERALD_RETRY_SCHEDULE=`).
    const schedule = parseRetrySchedule(env.HERALD_RETRY_SCHEDULE || DEFAULT_RETRY_SCHEDULE);
    if (schedule.length > 50) throw new Error('at most 50 attempts');
    // Entry i is the delay before attempt i + 1, and the first attempt is made as soon as an
    // event is accepted: a first entry of 60 would be silently ignored, so it is refused.
    if (schedule[0] !== 0) {
      const example = `0,${schedule.slice(0, 3).join(',')}${schedule.length > 3 ? ',…' : ''}`;
      throw new Error(
        `the first entry must be 0, got ${schedule[0]}: the first attempt is made as soon as an event is accepted, so that entry would be ignored; the entries after it are the delays before each retry (e.g. ${example})`,
      );
    }
    return schedule;
  } catch (err) {
    throw new ConfigError('HERALD_RETRY_SCHEDULE', (err as Error).message);
  }
}

function databaseUrlVar(env: Env): string | undefined {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw) && !/^sqlite:/.test(raw)) {
    throw new ConfigError('DATABASE_URL', 'expected postgres://… or sqlite:<path>, or leave unset for SQLite in HERALD_DATA_DIR');
  }
  if (raw.startsWith('sqlite:')) {
    if (raw.slice('sqlite:'.length).trim() === '') throw new ConfigError('DATABASE_URL', 'sqlite: needs the path of the database file, e.g. sqlite:/var/lib/herald/herald.db');
    return raw;
  }
  checkPostgresUrl(raw);
  return raw;
}

/** A URL pg cannot parse (a port out of range, a broken host), said at start without echoing the password. */
function checkPostgresUrl(raw: string): void {
  try {
    new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a valid URL (postgres://user:password@host:5432/database)');
  }
  // Host and user may come from PGHOST and PGUSER, as libpq's do: only the syntax is checked.
}

/**
 * An address or a name to listen on. Only what no host name or address can hold is refused here
 * (spaces, punctuation); a name that does not resolve is named when Herald listens.
 */
function hostVar(env: Env): string {
  const raw = env.HOST?.trim() || '0.0.0.0';
  if (isIP(raw) === 0 && !/^[A-Za-z0-9._:%-]{1,253}$/.test(raw)) {
    throw new ConfigError('HOST', `expected an IP address or a host name, got ${JSON.stringify(raw.slice(0, 100))}`);
  }
  return raw;
}

function enumVar<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** A CIDR list (HERALD_ALLOWED_TARGETS, HERALD_UI_TRUSTED_PROXIES), checked here and kept as written. */
function cidrListVar(env: Env, name: string): string {
  const raw = (env[name] ?? '').trim();
  try {
    parseCidrList(raw);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message);
  }
  return raw;
}

function publicUrlVar(env: Env): string | undefined {
  const raw = env.HERALD_PUBLIC_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('HERALD_PUBLIC_URL', `not a valid URL: "${raw}"`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash) {
    throw new ConfigError('HERALD_PUBLIC_URL', 'expected an http(s) base URL such as https://herald.example.com');
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function loadClientConfig(env: Env = process.env): ClientConfig {
  return {
    url: (env.HERALD_URL?.trim() || 'http://localhost:8080').replace(/\/+$/, ''),
    apiKey: env.HERALD_API_KEY?.trim() || undefined,
  };
}

export function loadConfig(env: Env = process.env): Config {
  const adminKey = env.HERALD_ADMIN_KEY?.trim() || undefined;
  if (adminKey !== undefined && adminKey.length < 16) {
    throw new ConfigError('HERALD_ADMIN_KEY', 'must be at least 16 characters');
  }
  return {
    port: intVar(env, 'PORT', 8080, 0, 65535),
    host: hostVar(env),
    dataDir: path.resolve(env.HERALD_DATA_DIR?.trim() || './data'),
    databaseUrl: databaseUrlVar(env),
    adminKey,
    allowedTargets: cidrListVar(env, 'HERALD_ALLOWED_TARGETS'),
    retrySchedule: retryScheduleVar(env),
    secretKey: env.HERALD_SECRET_KEY?.trim() || undefined,
    logLevel: enumVar(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    concurrency: intVar(env, 'HERALD_CONCURRENCY', 256, 1, 10_000),
    endpointConcurrency: intVar(env, 'HERALD_ENDPOINT_CONCURRENCY', 64, 1, 10_000),
    leaseMs: intVar(env, 'HERALD_LEASE_MS', 60_000, 1_000, 3_600_000),
    sqliteSync: enumVar(env, 'HERALD_SQLITE_SYNC', ['full', 'normal'] as const, 'full'),
    sqliteThread: enumVar(env, 'HERALD_SQLITE_THREAD', ['on', 'off'] as const, 'off') === 'on',
    dispatchThread: enumVar(env, 'HERALD_DISPATCH_THREAD', ['on', 'off'] as const, 'on') === 'on',
    shutdownGraceMs: intVar(env, 'HERALD_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    rotationOverlapMs: intVar(env, 'HERALD_ROTATION_OVERLAP_SECONDS', 86_400, 0, 30 * 86_400) * 1000,
    disableAfterMs: intVar(env, 'HERALD_DISABLE_AFTER_HOURS', 120, 1, 24 * 365) * 3_600_000,
    retentionMs: intVar(env, 'HERALD_RETENTION_DAYS', 30, 1, 3650) * 86_400_000,
    apiRateLimit: intVar(env, 'HERALD_API_RATE_LIMIT', 20_000, 0, 1_000_000),
    requestTimeoutMs: intVar(env, 'HERALD_REQUEST_TIMEOUT_MS', 30_000, 1_000, 600_000),
    ingestQueueLimit: intVar(env, 'HERALD_INGEST_QUEUE_LIMIT', 100_000, 1_000, 10_000_000),
    inboxRetentionMs: intVar(env, 'HERALD_INBOX_RETENTION_HOURS', 72, 1, 24 * 3650) * 3_600_000,
    inboxRateLimit: intVar(env, 'HERALD_INBOX_RATE_LIMIT', 100, 0, 1_000_000),
    inboxMaxRequests: intVar(env, 'HERALD_INBOX_MAX_REQUESTS', 10_000, 0, 10_000_000),
    publicUrl: publicUrlVar(env),
    uiSessionMs: intVar(env, 'HERALD_UI_SESSION_HOURS', 12, 1, 24 * 30) * 3_600_000,
    uiSignInFailures: intVar(env, 'HERALD_UI_SIGN_IN_FAILURES', 10, 0, 1_000_000),
    apiKeyFailures: intVar(env, 'HERALD_API_KEY_FAILURES', 20, 0, 1_000_000),
    uiTrustedProxies: cidrListVar(env, 'HERALD_UI_TRUSTED_PROXIES'),
    metricsPort: env.HERALD_METRICS_PORT?.trim() ? intVar(env, 'HERALD_METRICS_PORT', 0, 0, 65535) : undefined,
    pgPoolSize: intVar(env, 'HERALD_PG_POOL_SIZE', 10, 1, 1_000),
    pgStatementTimeoutMs: intVar(env, 'HERALD_PG_STATEMENT_TIMEOUT_MS', 300_000, 0, 86_400_000),
  };
}
