// herald serve | api | worker: run Herald's processes until SIGINT/SIGTERM.
import { loadConfig } from '../../config/index.js';
import { intFlag, parse, UsageError } from '../args.js';
import type { Command } from '../command.js';

function serverCommand(name: 'serve' | 'api' | 'worker', summary: string, usage: string): Command {
  const withConcurrency = name !== 'api';
  return {
    name,
    summary,
    usage,
    async run(args, io) {
      const { values } = parse(args, { help: { type: 'boolean', short: 'h' }, concurrency: { type: 'string' } }, usage);
      // Before the help: a flag this command does not take is refused however it is asked.
      if (!withConcurrency && values.concurrency !== undefined) throw new UsageError('--concurrency applies to worker and serve only', usage);
      if (values.help) {
        io.out(usage);
        return 0;
      }
      const concurrency = intFlag(values.concurrency, '--concurrency', 1, 10_000, usage);
      // Loaded on demand: client commands should not pay for the server's start-up.
      const { startHerald } = await import('../../app/herald.js');
      const herald = await startHerald(loadConfig(), { api: name !== 'worker', worker: name !== 'api', concurrency });
      await new Promise<void>((resolve) => {
        const onSignal = () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          herald.context.logger.info('shutting down');
          void herald.stop().then(resolve);
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
      return 0;
    },
  };
}

export const serve = serverCommand(
  'serve',
  'API, admin UI and dispatcher in one process (npm start)',
  `Usage: herald serve [--concurrency N]

Runs the API (PORT, default 8080), the admin UI and the dispatcher in one process.
  --concurrency N    outbound requests in flight at once (default HERALD_CONCURRENCY or 256)`,
);

export const api = serverCommand(
  'api',
  'HTTP API only',
  `Usage: herald api

Runs only the HTTP API; pair it with one or more \`herald worker\` processes on PostgreSQL.`,
);

export const worker = serverCommand(
  'worker',
  'dispatcher only',
  `Usage: herald worker [--concurrency N]

Runs only the dispatcher. It serves no API; with HERALD_METRICS_PORT set it serves /metrics,
/healthz and /readyz on that port.
  --concurrency N    outbound requests in flight at once (default HERALD_CONCURRENCY or 256)`,
);
