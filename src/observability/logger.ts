// Herald's logger: pino at the configured level, with credentials redacted wherever they appear.
import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    // Credentials never reach a log line, whatever object carries them.
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', '*.secret', '*.password', '*.clientSecret', '*.client_secret', 'headers.authorization'],
      censor: '****',
    },
  });
}
