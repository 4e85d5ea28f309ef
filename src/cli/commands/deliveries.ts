// herald deliveries <endpoint-id> [--status S]: an endpoint's delivery log.
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, intFlag, parse, UsageError } from '../args.js';
import { HeraldClient } from '../client.js';
import type { Command } from '../command.js';
import { json, table } from '../output.js';

const STATUSES = ['pending', 'in_flight', 'succeeded', 'failed'];

const usage = `Usage: herald deliveries <endpoint-id> [--status S] [--limit N] [--cursor C] [options]

Lists an endpoint's deliveries, newest first.
  --status S         only ${STATUSES.join(', ')}
  --limit N          1-250 (default 50)
  --cursor C         the next page, as printed after a full page

${CLIENT_OPTIONS_HELP}`;

interface DeliveryView {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
}

export const deliveries: Command = {
  name: 'deliveries',
  summary: "list an endpoint's deliveries",
  usage,
  async run(args, io) {
    const { values, positionals } = parse(args, { ...CLIENT_OPTIONS, status: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } }, usage, {
      min: 1,
      max: 1,
      names: 'the endpoint id',
    });
    if (values.help) {
      io.out(usage);
      return 0;
    }
    if (values.status !== undefined && !STATUSES.includes(values.status)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`, usage);
    const limit = intFlag(values.limit, '--limit', 1, 250, usage) ?? 50;
    const client = HeraldClient.from(values, usage);
    try {
      const query = new URLSearchParams({ limit: String(limit), ...(values.status ? { status: values.status } : {}), ...(values.cursor ? { cursor: values.cursor } : {}) });
      const page = await client.request<{ data: DeliveryView[]; next_cursor: string | null }>('GET', `/api/v2/endpoints/${encodeURIComponent(positionals[0])}/deliveries?${query}`);
      if (values.json) {
        io.out(json(page));
        return 0;
      }
      if (page.data.length === 0) {
        io.out('no deliveries');
        return 0;
      }
      io.out(
        table(
          ['ID', 'MESSAGE', 'STATUS', 'ATTEMPTS', 'LAST', 'CREATED'],
          page.data.map((d) => [d.id, d.event_id, d.status, d.attempts, d.last_status_code ?? d.last_error?.split(':')[0], d.created_at]),
        ),
      );
      // The next page is the same query further on: the hint keeps the filters given.
      const kept = [values.status && `--status ${values.status}`, values.limit && `--limit ${limit}`].filter(Boolean).join(' ');
      if (page.next_cursor) io.out(`more: herald deliveries ${positionals[0]} ${kept ? `${kept} ` : ''}--cursor ${page.next_cursor}`);
      return 0;
    } finally {
      await client.close();
    }
  },
};
