// The delivery log's wildcard filter on a PostgreSQL server whose default collation does not
// compare byte-wise: here an ICU one that ignores punctuation at first (as glibc's en_US does),
// where 'acme.crank.turned' sorts after 'acme/' and a range over the prefix would miss it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../postgres/postgres-store.js';
import { TEST_DATABASE_URL } from './pg-harness.js';
import { conformanceSealer, endpointFixture, ingestItem } from './suite.js';

const database = `herald_collation_${randomBytes(6).toString('hex')}`;
const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
let store: PostgresStore;

beforeAll(async () => {
  await admin.query(`CREATE DATABASE ${database} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'und-u-ka-shifted'`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${database}`;
  store = new PostgresStore({ connectionString: url.toString(), sealer: conformanceSealer(), schema: 'herald', poolSize: 2 });
  await store.migrate();
});
afterAll(async () => {
  await store?.close();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

describe('the delivery log on a server collating punctuation as ignorable', () => {
  it('a prefix.* filter still selects exactly the types stored under the prefix', async () => {
    const account = await store.createAccount({ name: 'Acme' });
    const endpoint = endpointFixture(account.id);
    await store.createEndpoint(endpoint);
    const types = ['acme.crank.turned', 'acme_b.x', 'acmeb.x', 'acme.widget.built', 'asset.created'];
    for (const [i, type] of types.entries()) await store.ingest([ingestItem(account.id, [{ id: endpoint.id, ordered: false }], { type })], 1_767_225_600_000 + i);

    const page = await store.listDeliveries(account.id, { limit: 50, eventTypes: ['acme.*'] });
    expect(page.items.map((d) => d.eventType)).toEqual(['acme.widget.built', 'acme.crank.turned']);
  });
});
