// Herald's logger: pino at the configured level, with credentials redacted wherever they appear.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/index.js';

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
