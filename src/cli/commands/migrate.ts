// herald migrate: apply pending database migrations and exit.
import { loadConfig } from '../../config/index.js';
import { parse } from '../args.js';
import type { Command } from '../command.js';

const usage = `Usage: herald migrate

Applies pending database migrations (DATABASE_URL, or SQLite in HERALD_DATA_DIR) and exits.`;

export const migrate: Command = {
  name: 'migrate',
  summary: 'apply database migrations and exit',
  usage,
  async run(args, io) {
    const { values } = parse(args, { help: { type: 'boolean', short: 'h' } }, usage);
    if (values.help) {
      io.out(usage);
      return 0;
    }
    const { openStore } = await import('../../app/open-store.js');
    const store = await openStore(loadConfig(), undefined, { migrate: true });
    const state = await store.schemaState();
    await store.close();
    io.out(`database schema at version ${state.current}`);
    return 0;
  },
};
