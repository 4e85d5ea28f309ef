// What a publish answers when the store's thread (HERALD_SQLITE_THREAD=on) stops: the API's
// commits go to a thread the test can stop, after it has committed an ingest and before it
// answers, the way a bug in it would (test/fixtures/stopping-store-thread.mjs).
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestHerald, type TestHerald } from '../../test/helpers.js';
import { sqliteFile } from '../app/open-store.js';
import { SecretBox } from '../signing/secretbox.js';
import type { Store } from '../store/contract.js';
import { openThreadedSqliteStore } from '../store/sqlite/threaded-store.js';

const STOPPING_THREAD = new URL('../../test/fixtures/stopping-store-thread.mjs', import.meta.url);

describe('publishing when the store thread stops', () => {
  let h: TestHerald | undefined;
  let thread: Store | undefined;

  afterEach(async () => {
    await thread?.close();
    await h?.close();
    [thread, h] = [undefined, undefined];
  });

  /**
   * A Herald whose ingests go to a store thread the test can stop: `stopAfterNextCommit` has it
   * stop after committing the next ingest, before answering, and keeps new threads down until the
   * file it returns is removed.
   */
  async function startWithStoppingThread(): Promise<{ herald: TestHerald; stopAfterNextCommit: () => string }> {
    const key = SecretBox.generateKey();
    const herald = (h = await startTestHerald({ HERALD_SECRET_KEY: key }, { worker: false }));
    const file = sqliteFile(herald.herald.context.config);
    const store = (thread = await openThreadedSqliteStore({ file, synchronous: 'normal', key, script: STOPPING_THREAD }));
    herald.herald.context.store.ingest = (...args) => store.ingest(...args);
    const stopAfterNextCommit = () => {
      const down = path.join(path.dirname(file), 'store-thread-stays-down');
      writeFileSync(path.join(path.dirname(file), 'stop-store-thread-after-commit'), '');
      writeFileSync(down, '');
      return down;
    };
    return { herald, stopAfterNextCommit };
  }

  it('answers 503 outcome_unknown for an ingest the thread had (it may be stored), and store_unavailable for one that never reached a thread', async () => {
    const { herald, stopAfterNextCommit } = await startWithStoppingThread();
    const down = stopAfterNextCommit();
    const inFlight = await herald.api('POST', '/api/v2/events', { id: 'evt-in-flight', type: 'asset.created' });
    expect([inFlight.status, inFlight.body.error, inFlight.headers.get('retry-after')]).toEqual([503, 'outcome_unknown', '5']);
    expect(inFlight.body.message).toMatch(/may have been stored.*same event ids is safe/);

    // Until a new thread has opened the database, a commit reaches none: nothing is stored.
    const refused = await herald.api('POST', '/api/v2/events', { id: 'evt-refused', type: 'asset.created' });
    expect([refused.status, refused.body.error]).toEqual([503, 'store_unavailable']);
    expect(refused.body.message).toMatch(/nothing was accepted/);
    rmSync(down);

    // The first had been stored: sent again with its id, it publishes nothing new. The second had not.
    const retried = await eventually(async () => {
      const res = await herald.api('POST', '/api/v2/events', { id: 'evt-in-flight', type: 'asset.created' });
      return res.status === 202 ? res : undefined;
    });
    expect(retried.body.duplicate).toBe(true);
    const resent = await herald.api('POST', '/api/v2/events', { id: 'evt-refused', type: 'asset.created' });
    expect([resent.status, resent.body.duplicate]).toEqual([202, false]);
  });

  it("answers a test send the thread had with a message of its own: it takes no event id to retry with, so check the endpoint's deliveries", async () => {
    const { herald, stopAfterNextCommit } = await startWithStoppingThread();
    const endpoint = await herald.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/test-send', event_types: ['asset.created'] });
    expect(endpoint.status).toBe(201);
    const down = stopAfterNextCommit();
    const sent = await herald.api('POST', `/api/v2/endpoints/${endpoint.body.id}/test`, {});
    rmSync(down);
    expect([sent.status, sent.body.error, sent.headers.get('retry-after')]).toEqual([503, 'outcome_unknown', '5']);
    expect(sent.body.message).toBe("the commit was sent but never confirmed: the test event may have been stored and delivered; check the endpoint's deliveries before sending another");
    // And so it was: the endpoint's deliveries show it.
    const deliveries = await herald.api('GET', `/api/v2/endpoints/${endpoint.body.id}/deliveries`);
    expect(deliveries.body.data).toHaveLength(1);
  });

  it("says in /openapi.json what a publishing route's 503 means, outcome_unknown included", async () => {
    h = await startTestHerald({}, { worker: false });
    const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as { paths: Record<string, { post: { responses: Record<string, { description: string }> } }> };
    for (const route of ['/api/v2/events', '/api/v2/events/batch', '/api/v2/endpoints/{id}/test']) {
      expect(doc.paths[route]?.post.responses['503']?.description, route).toMatch(/store_unavailable.*nothing was accepted.*outcome_unknown.*may have been stored/);
    }
    // Publishing takes event ids to retry with; a test send takes none.
    expect(doc.paths['/api/v2/events']!.post.responses['503']!.description).toMatch(/same event ids is safe/);
    expect(doc.paths['/api/v2/endpoints/{id}/test']!.post.responses['503']!.description).toMatch(/test event may have been stored and delivered; check the endpoint's deliveries before sending another/);
  });
});
