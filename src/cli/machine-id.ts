// This machine's id: a random value made the first time and kept in the user's config directory
// ($XDG_CONFIG_HOME/herald/machine-id, else ~/.config/herald/machine-id; the file 0600 in a 0700
// directory). `herald listen` records it on what it creates, so a later listen removes only what
// a listen on this machine left: a host name is no owner (machines share `localhost`, `ubuntu`, a
// container's default), and a pid means something only on the machine that gave it.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** 128 random bits in hex. */
const MACHINE_ID = /^[0-9a-f]{32}$/;

/** Where the id is kept; a relative XDG_CONFIG_HOME is ignored, as the XDG spec asks. */
export function machineIdFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME?.trim();
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.config');
  return path.join(base, 'herald', 'machine-id');
}

/** A new id, not yet kept anywhere. */
export function newMachineId(): string {
  return randomBytes(16).toString('hex');
}

/** This machine's id, made and kept the first time; throws when it can be neither read nor kept. */
export function machineId(file: string = machineIdFile()): string {
  const kept = readId(file);
  if (kept !== undefined) return kept;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const id = newMachineId();
  // Written whole under a name of its own, then linked into place: a listen starting at the same
  // moment reads either no file or a whole id, and the first link wins.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${id}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = readId(file);
    if (winner !== undefined) return winner;
    // A file that holds no id (emptied, edited): replaced.
    renameSync(draft, file);
    return id;
  } finally {
    rmSync(draft, { force: true });
  }
}

/** The id in `file`; undefined when there is no file or it holds no id. */
function readId(file: string): string | undefined {
  try {
    const text = readFileSync(file, 'utf8').trim();
    return MACHINE_ID.test(text) ? text : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
