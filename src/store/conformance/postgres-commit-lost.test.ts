// A connection lost during COMMIT: the store cannot know whether the transaction committed, and
// must say so (OutcomeUnknownError) instead of reporting a plain failure that a caller would
// take for "nothing was stored".
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { newId } from '../../domain/ids.js';
import { OutcomeUnknownError, storeUnavailable } from '../unavailable.js';
import { dropTestSchema, TEST_DATABASE_URL, testSchema, type TestSchema } from './pg-harness.js';
import { conformanceSealer, endpointFixture } from './suite.js';

const sealer = conformanceSealer();
const pending = testSchema(sealer);
afterAll(() => dropTestSchema(pending));

/** A deferred trigger that, at COMMIT, ends its own session for the marked event type and refuses asset.updated. */
async function dieAtCommit(schema: TestSchema, marker: string): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`SET search_path TO ${schema.name}`);
    await admin.query(`CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = '${marker}' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        IF NEW.type = 'asset.updated' THEN RAISE EXCEPTION 'refused at commit'; END IF;
        RETURN NULL;
      END $$`);
    await admin.query('CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_at_commit()');
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL store: a connection lost during COMMIT', () => {
  it('fails the write with OutcomeUnknownError (a 503 cause), does not end the process, and goes on with new connections', async () => {
    const schema = await pending;
    const store = schema.open(sealer, 2);
    try {
      const account = await store.createAccount({ name: 'A' });
      const endpoint = endpointFixture(account.id, { eventTypes: ['*'] });
      await store.createEndpoint(endpoint);
      await dieAtCommit(schema, 'asset.deleted');
      const item = (type: string) => ({
        accountId: account.id,
        messageId: newId('msg'),
        event: { type },
        endpoints: [{ id: endpoint.id, ordered: false }],
        body: { head: '{"id":"x"', tail: '}' },
      });

      const lost = await store.ingest([item('asset.deleted')], Date.now()).catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(OutcomeUnknownError);
      expect(String((lost as Error).message)).toMatch(/terminating connection.*may or may not have taken effect/);
      expect(storeUnavailable(lost)).toBe(true);

      // A COMMIT the server refuses is certainly rolled back: a plain error, not an unknown outcome.
      const refused = await store.ingest([item('asset.updated')], Date.now()).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
      expect(refused).not.toBeInstanceOf(OutcomeUnknownError);
      expect(String((refused as Error).message)).toBe('refused at commit');

      const [ok] = await store.ingest([item('asset.created')], Date.now());
      expect(ok).toMatchObject({ duplicate: false, deliveries: 1 });
    } finally {
      await store.close();
    }
  });
});
