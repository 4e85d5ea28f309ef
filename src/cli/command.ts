import type { Io } from './output.js';

/** One `herald <name>` command: its own flags, its own help, an exit code. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly usage: string;
  run(args: readonly string[], io: Io): Promise<number>;
}
