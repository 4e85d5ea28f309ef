// herald <command>: thin commands over app/.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/index.js';
import { startHerald } from '../app/herald.js';
import { openStore } from '../app/open-store.js';
import { SchemaMismatchError } from '../store/migrations.js';

const USAGE = `Usage: herald <command> [options]

Commands:
  serve              API, admin UI and dispatcher in one process (the default for npm start)
  api                HTTP API only
  worker             dispatcher only  [--concurrency N]
  migrate            apply database migrations and exit

Options:
  -h, --help         show help for a command

Configuration comes from the environment: PORT, HERALD_DATA_DIR, DATABASE_URL,
HERALD_ADMIN_KEY, HERALD_ALLOWED_TARGETS, HERALD_RETRY_SCHEDULE, HERALD_SECRET_KEY.`;

const HELP: Record<string, string> = {
  serve: 'Usage: herald serve\n\nRuns the API (PORT, default 8080) and the dispatcher in one process.',
  api: 'Usage: herald api\n\nRuns only the HTTP API; pair it with one or more `herald worker` processes on PostgreSQL.',
  worker: 'Usage: herald worker [--concurrency N]\n\nRuns only the dispatcher. --concurrency: outbound requests in flight at once (default HERALD_CONCURRENCY or 256).',
  migrate: 'Usage: herald migrate\n\nApplies pending database migrations and exits.',
};

export class UsageError extends Error {}

function parse(command: string, args: string[]) {
  try {
    return parseArgs({
      args,
      options: { help: { type: 'boolean', short: 'h' }, concurrency: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP[command] ?? USAGE}`);
  }
}

function concurrencyOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10_000) throw new UsageError('--concurrency must be a whole number from 1 to 10000');
  return Number(value);
}

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  if (!(command in HELP)) throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
  const flags = parse(command, rest);
  if (flags.help) {
    process.stdout.write(`${HELP[command]}\n`);
    return 0;
  }
  if (flags.concurrency !== undefined && command !== 'worker' && command !== 'serve') throw new UsageError(`--concurrency applies to worker and serve only`);
  const config = loadConfig();
  if (command === 'migrate') {
    const store = await openStore(config, undefined, { migrate: true });
    const state = await store.schemaState();
    await store.close();
    process.stdout.write(`database schema at version ${state.current}\n`);
    return 0;
  }
  const herald = await startHerald(config, {
    api: command !== 'worker',
    worker: command !== 'api',
    concurrency: concurrencyOf(flags.concurrency),
  });
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
}

export async function main(argv: string[]): Promise<void> {
  try {
    process.exitCode = await run(argv);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof SchemaMismatchError) {
      process.stderr.write(`herald: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`herald: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
