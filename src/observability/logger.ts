// Herald's logger: pino at the configured level, with credentials redacted wherever they appear.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import { diskRefusal } from '../store/unavailable.js';

/** Writes to stdout unless given where to write (the dispatch thread forwards its lines). */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    // Credentials never reach a log line, whatever object carries them.
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.secret', '*.password', '*.clientSecret', '*.client_secret', 'headers.authorization'],
      censor: '****',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * The level of a line about a failed store call. A write the embedded store's disk refused (full,
 * read-only, failing) is logged by the store when the refusals start and when they end
 * (logWrites in app/open-store.ts); each call that meets one in between is detail, or a full disk
 * under load would write a line per request.
 */
export function storeErrorLevel(err: unknown): 'debug' | 'error' {
  return diskRefusal(err) === undefined ? 'error' : 'debug';
}
