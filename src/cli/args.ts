// Argument parsing shared by the commands: strict flags, a usage error naming the problem.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad arguments: main prints the message and the command's usage, and exits with 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The usage text to print after the message. */
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<O extends Options> {
  readonly values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
  readonly positionals: string[];
}

/** Flags every client command takes. */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const CLIENT_OPTIONS_HELP = `Connection (every client command):
  --url URL          Herald's address (default $HERALD_URL or http://localhost:8080)
  --key KEY          API key (default $HERALD_API_KEY)
  --json             machine-readable output (JSON)
  -h, --help         show this help`;

/**
 * Parses `args` strictly. `positionals` bounds how many operands the command takes; anything
 * else (unknown flags, missing values, extra operands) is a UsageError with `usage`.
 */
export function parse<O extends Options>(args: readonly string[], options: O, usage: string, positionals: { min?: number; max?: number; names?: string } = {}): Parsed<O> {
  let result: { values: Record<string, unknown>; positionals: string[] };
  try {
    result = parseArgs({ args: [...args], options, strict: true, allowPositionals: true }) as typeof result;
  } catch (err) {
    throw new UsageError(cleanMessage((err as Error).message), usage);
  }
  if (result.values.help === true) return { values: result.values as Parsed<O>['values'], positionals: result.positionals };
  const { min = 0, max = 0 } = positionals;
  if (result.positionals.length < min) throw new UsageError(`missing ${positionals.names ?? 'argument'}`, usage);
  if (result.positionals.length > max) throw new UsageError(`unexpected argument "${result.positionals[max]}"`, usage);
  return { values: result.values as Parsed<O>['values'], positionals: result.positionals };
}

/** node:util's messages carry a "To specify a positional argument…" tail that does not help here. */
function cleanMessage(message: string): string {
  return message.split('. To specify')[0].replace(/^Unknown option '(.+)'$/, 'unknown option $1');
}

/** A whole number within bounds, or a UsageError naming the flag. */
export function intFlag(value: string | undefined, flag: string, min: number, max: number, usage: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`, usage);
  return Number(value);
}

/** An http(s) URL, or a UsageError naming the flag. */
export function urlFlag(value: string, flag: string, usage: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be an http(s) URL, got "${value}"`, usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${flag} must be an http(s) URL, got "${value}"`, usage);
  return value;
}
