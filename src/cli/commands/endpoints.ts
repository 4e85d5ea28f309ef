// herald endpoints [list | create | delete]: day-to-day endpoint management.
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, intFlag, parse, UsageError, urlFlag } from '../args.js';
import { HeraldClient } from '../client.js';
import type { Command } from '../command.js';
import { json, table, type Io } from '../output.js';

const usage = `Usage: herald endpoints [list] [--limit N] [--cursor C] [options]
       herald endpoints create --url URL --events TYPES [--description TEXT] [--server HERALD_URL] [options]
       herald endpoints delete <endpoint-id> [options]

  list               the account's endpoints, newest first (the default)
    --limit N        1-250 (default 50)
    --cursor C       the next page, as printed after a full page
  create             subscribe URL to TYPES (comma-separated names or wildcards, e.g. asset.*);
                     prints the endpoint id and its signing secret; here --url
                     is the endpoint's URL, so Herald's address is --server (or $HERALD_URL)
  delete             remove an endpoint with its deliveries

${CLIENT_OPTIONS_HELP}`;

interface EndpointView {
  id: string;
  url: string;
  event_types: string[];
  profile: string;
  disabled: boolean;
  disabled_reason: string | null;
  description: string;
}

async function list(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, { ...CLIENT_OPTIONS, limit: { type: 'string' }, cursor: { type: 'string' } }, usage);
  if (values.help) return help(io);
  const limit = intFlag(values.limit, '--limit', 1, 250, usage) ?? 50;
  const client = HeraldClient.from(values, usage);
  try {
    const query = new URLSearchParams({ limit: String(limit), ...(values.cursor ? { cursor: values.cursor } : {}) });
    const page = await client.request<{ data: EndpointView[]; next_cursor: string | null }>('GET', `/api/v2/endpoints?${query}`);
    if (values.json) {
      io.out(json(page));
      return 0;
    }
    if (page.data.length === 0) {
      io.out('no endpoints');
      return 0;
    }
    io.out(table(['ID', 'URL', 'EVENTS', 'PROFILE', 'STATUS'], page.data.map((e) => [e.id, e.url, e.event_types.join(','), e.profile, e.disabled ? 'disabled' : 'enabled'])));
    if (page.next_cursor) io.out(`more: herald endpoints ${values.limit ? `--limit ${limit} ` : ''}--cursor ${page.next_cursor}`);
    return 0;
  } finally {
    await client.close();
  }
}

async function create(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, { ...CLIENT_OPTIONS, url: { type: 'string' }, events: { type: 'string' }, description: { type: 'string' }, server: { type: 'string' } }, usage);
  if (values.help) return help(io);
  // --url names the endpoint here; Herald's own address comes from --server or HERALD_URL.
  if (values.url === undefined) throw new UsageError('endpoints create needs --url', usage);
  if (values.events === undefined) throw new UsageError('endpoints create needs --events', usage);
  const url = urlFlag(values.url, '--url', usage);
  const events = values.events.split(',').map((e) => e.trim()).filter(Boolean);
  if (events.length === 0) throw new UsageError('--events must name at least one event type or wildcard', usage);
  const client = HeraldClient.from({ url: values.server, key: values.key, urlFlag: '--server' }, usage);
  try {
    const created = await client.request<EndpointView & { secret: string }>('POST', '/api/v2/endpoints', {
      url,
      event_types: events,
      ...(values.description !== undefined ? { description: values.description } : {}),
    });
    if (values.json) io.out(json(created));
    else io.out(`created ${created.id}\nsecret  ${created.secret}  (it signs every delivery; an admin key reads it again at GET /api/v2/endpoints/${created.id}/secret)`);
    return 0;
  } finally {
    await client.close();
  }
}

async function remove(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, CLIENT_OPTIONS, usage, { min: 1, max: 1, names: 'the endpoint id' });
  if (values.help) return help(io);
  const client = HeraldClient.from(values, usage);
  try {
    await client.request('DELETE', `/api/v2/endpoints/${encodeURIComponent(positionals[0])}`);
    io.out(values.json ? json({ id: positionals[0], deleted: true }) : `deleted ${positionals[0]}`);
    return 0;
  } finally {
    await client.close();
  }
}

function help(io: Io): number {
  io.out(usage);
  return 0;
}

export const endpoints: Command = {
  name: 'endpoints',
  summary: 'list, create or delete endpoints',
  usage,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub.startsWith('-')) return list(args, io);
    if (sub === 'list') return list(rest, io);
    if (sub === 'create') return create(rest, io);
    if (sub === 'delete') return remove(rest, io);
    throw new UsageError(`unknown endpoints command "${sub}"`, usage);
  },
};
