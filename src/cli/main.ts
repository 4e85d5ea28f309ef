// herald <command>: thin commands over app/ (server commands) and over the HTTP API (client
// commands). One file per command under commands/.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config/index.js';
import { SchemaMismatchError } from '../store/migrations.js';
import { UsageError } from './args.js';
import { ApiFailure, ConnectionFailure } from './client.js';
import type { Command } from './command.js';
import { deliveries } from './commands/deliveries.js';
import { endpoints } from './commands/endpoints.js';
import { listen } from './commands/listen.js';
import { migrate } from './commands/migrate.js';
import { retry } from './commands/retry.js';
import { send } from './commands/send.js';
import { api, serve, worker } from './commands/server.js';
import { processIo, type Io } from './output.js';

export { UsageError } from './args.js';

const SERVER: readonly Command[] = [serve, api, worker, migrate];
const CLIENT: readonly Command[] = [listen, send, endpoints, deliveries, retry];
const COMMANDS = new Map([...SERVER, ...CLIENT].map((c) => [c.name, c]));

const list = (commands: readonly Command[]) => commands.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`).join('\n');

export const USAGE = `Usage: herald <command> [options]

Run Herald:
${list(SERVER)}

Work with a running Herald (HERALD_URL, HERALD_API_KEY, or --url/--key):
${list(CLIENT)}

Options:
  -h, --help     help for a command (herald <command> --help)
  -v, --version  print Herald's version

Exit codes: 0 success, 1 failure, 2 bad arguments or configuration.
Server configuration comes from the environment: PORT, HERALD_DATA_DIR, DATABASE_URL,
HERALD_ADMIN_KEY, HERALD_ALLOWED_TARGETS, HERALD_RETRY_SCHEDULE, HERALD_SECRET_KEY, …`;

export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    io.out((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    return 0;
  }
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    if (name === 'help' && rest[0]) {
      const command = COMMANDS.get(rest[0]);
      if (!command) throw new UsageError(`unknown command "${rest[0]}"`, USAGE);
      io.out(command.usage);
      return 0;
    }
    (name ? io.out : io.err)(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS.get(name);
  if (!command) throw new UsageError(`unknown command "${name}"`, USAGE);
  return command.run(rest, io);
}

/** The API fields (body or query) the client commands fill, by the flag or operand they come from. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  type: 'the event type',
  id: '--id',
  data: '--data or --file',
  resource: '--resource',
  project_id: '--project',
  cursor: '--cursor',
  url: '--url',
  event_types: '--events',
  description: '--description',
  forward_url: '--forward-to',
};

export async function main(argv: string[], io: Io = processIo): Promise<void> {
  try {
    process.exitCode = await run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`herald: ${err.message}`);
      if (err.usage) io.err(`\n${err.usage}`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof ConfigError || err instanceof SchemaMismatchError) {
      io.err(`herald: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof ApiFailure && (err.status === 400 || err.status === 422)) {
      // Herald refused a value given on the command line: bad arguments, named as typed.
      const given = err.field === undefined ? undefined : FLAG_OF_FIELD[err.field.split(/[.[]/)[0]];
      io.err(`herald: ${err.message}${given ? ` (check ${given})` : ''}`);
      process.exitCode = 2;
      return;
    }
    if (err instanceof ApiFailure || err instanceof ConnectionFailure) {
      io.err(`herald: ${err.message}`);
      process.exitCode = 1;
      return;
    }
    io.err(`herald: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
