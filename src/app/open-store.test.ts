import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { logWrites } from './open-store.js';

const coded = (code: string, message = 'refused') => Object.assign(new Error(message), { code });

interface Line {
  readonly file: string;
  readonly err: { readonly code: string };
  readonly msg: string;
}

/** The one line logWrites writes when `err` is the first refused write. */
function refusalLine(err: Error, ...where: [file: string, who?: string]): Line {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) });
  logWrites(createLogger({ logLevel: 'info' }, sink), ...where)({ state: 'refused', err });
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Line;
}

const remedyOf = (err: Error) => refusalLine(err, 'PostgreSQL', 'the server refuses').msg;

describe('logWrites', () => {
  it('says what to do for the kind of refusal, not "free space" for every one', () => {
    expect(remedyOf(coded('53100', 'could not extend file'))).toMatch(/; free space on its disk$/);
    expect(remedyOf(coded('SQLITE_FULL'))).toMatch(/; free space on its disk$/);
    expect(remedyOf(coded('53200', 'out of memory'))).toMatch(/; the PostgreSQL server is out of memory: .*$/);
    expect(remedyOf(new Error('wrapped', { cause: coded('53300', 'sorry, too many clients already') }))).toMatch(/; the PostgreSQL server has no connection slots left: raise its max_connections or lower HERALD_PG_POOL_SIZE$/);
    expect(remedyOf(coded('SQLITE_READONLY_DBMOVED'))).toMatch(/; make the database writable/);
    expect(remedyOf(coded('SQLITE_IOERR_WRITE'))).toMatch(/; repair the disk or free space on it$/);
  });

  it('names the refusal in the line and keeps the error for the reader', () => {
    const line = refusalLine(coded('SQLITE_FULL', 'database or disk is full'), '/data/herald.db');
    expect(line).toMatchObject({ file: '/data/herald.db', err: { code: 'SQLITE_FULL' } });
    expect(line.msg).toMatch(/^the disk refuses the store's writes: until it takes them again, publishing answers 503/);
  });
});
