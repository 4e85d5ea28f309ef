// herald retry <delivery-id>: send a delivery again now.
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, parse } from '../args.js';
import { HeraldClient } from '../client.js';
import type { Command } from '../command.js';
import { json } from '../output.js';

const usage = `Usage: herald retry <delivery-id> [options]

Queues a delivery (failed, succeeded or pending) to be sent again now.

${CLIENT_OPTIONS_HELP}`;

export const retry: Command = {
  name: 'retry',
  summary: 'send a delivery again now',
  usage,
  async run(args, io) {
    const { values, positionals } = parse(args, CLIENT_OPTIONS, usage, { min: 1, max: 1, names: 'the delivery id' });
    if (values.help) {
      io.out(usage);
      return 0;
    }
    const client = HeraldClient.from(values, usage);
    try {
      const d = await client.request<{ id: string; status: string }>('POST', `/api/v2/deliveries/${encodeURIComponent(positionals[0])}/retry`);
      io.out(values.json ? json(d) : `requeued ${d.id} (${d.status})`);
      return 0;
    } finally {
      await client.close();
    }
  },
};
