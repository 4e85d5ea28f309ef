// herald send <type> [--data JSON | --file F]: publish one event.
import { readFileSync } from 'node:fs';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, parse, UsageError } from '../args.js';
import { HeraldClient } from '../client.js';
import type { Command } from '../command.js';
import { json } from '../output.js';

const usage = `Usage: herald send <type> [--data JSON | --file FILE] [options]

Publishes one event and prints its message id (the webhook-id its deliveries carry).

  <type>             event type, in any profile's naming (asset.created, ASSET_ADDED, …)
  --data JSON        the event's data, as JSON
  --file FILE        read the data from a JSON file ("-" for standard input)
  --id KEY           idempotency key: publishing the same key again creates nothing new
  --resource T:ID    what the event is about, e.g. asset:a1 (enables per-resource ordering)
  --project ID       project the event belongs to

${CLIENT_OPTIONS_HELP}

Example: herald send asset.created --resource asset:a1 --data '{"filename": "logo.png"}'`;

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`, usage);
  }
}

export const send: Command = {
  name: 'send',
  summary: 'publish an event and print its message id',
  usage,
  async run(args, io) {
    const { values, positionals } = parse(
      args,
      { ...CLIENT_OPTIONS, data: { type: 'string' }, file: { type: 'string' }, id: { type: 'string' }, resource: { type: 'string' }, project: { type: 'string' } },
      usage,
      { min: 1, max: 1, names: 'the event type' },
    );
    if (values.help) {
      io.out(usage);
      return 0;
    }
    if (values.data !== undefined && values.file !== undefined) throw new UsageError('give --data or --file, not both', usage);
    let data: unknown;
    if (values.data !== undefined) data = parseJson(values.data, '--data');
    if (values.file !== undefined) {
      let text: string;
      try {
        text = readFileSync(values.file === '-' ? 0 : values.file, 'utf8');
      } catch (err) {
        throw new UsageError(`--file: cannot read ${values.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, usage);
      }
      data = parseJson(text, `--file ${values.file}`);
    }
    let resource: { type: string; id: string } | undefined;
    if (values.resource !== undefined) {
      const colon = values.resource.indexOf(':');
      if (colon <= 0 || colon === values.resource.length - 1) throw new UsageError('--resource must be TYPE:ID, e.g. asset:a1', usage);
      resource = { type: values.resource.slice(0, colon), id: values.resource.slice(colon + 1) };
    }
    const event = {
      type: positionals[0],
      ...(values.id !== undefined ? { id: values.id } : {}),
      ...(resource ? { resource } : {}),
      ...(values.project !== undefined ? { project_id: values.project } : {}),
      ...(data !== undefined ? { data } : {}),
    };
    const client = HeraldClient.from(values, usage);
    try {
      const out = await client.request<{ id: string; deliveries: number; duplicate: boolean }>('POST', '/api/v2/events', event);
      if (values.json) io.out(json(out));
      else {
        io.out(out.id);
        // stdout stays the id alone, for scripts; the note is for the person at the terminal.
        if (out.duplicate) io.err(`herald: an event with --id ${values.id} was already published; this sent nothing new`);
      }
      return 0;
    } finally {
      await client.close();
    }
  },
};
