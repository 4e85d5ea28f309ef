// API tests that must hold on every store: the embedded one (on the event loop and on its own
// thread) and PostgreSQL with two API processes sharing one schema, requests spread over them.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../src/store/conformance/pg-harness.js';
import { SecretBox } from '../src/signing/secretbox.js';
import { startTestHerald, type TestHerald } from './helpers.js';

/** Defines `tests` once per store; they are given the servers to spread their requests over. */
export function onEveryStore(title: string, tests: (servers: () => readonly TestHerald[]) => void): void {
  for (const thread of ['off', 'on']) {
    describe(`${title}, embedded store (HERALD_SQLITE_THREAD=${thread})`, () => {
      let h: TestHerald;
      beforeAll(async () => {
        h = await startTestHerald({ HERALD_SQLITE_THREAD: thread }, { worker: false });
      });
      afterAll(() => h?.close());
      tests(() => [h]);
    });
  }

  describe(`${title}, PostgreSQL with two API processes`, () => {
    let schema: TestSchema;
    let a: TestHerald;
    let b: TestHerald;
    beforeAll(async () => {
      const key = randomBytes(32);
      schema = await createTestSchema(new SecretBox(key));
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set('schema', schema.name);
      const env = { DATABASE_URL: url.toString(), HERALD_SECRET_KEY: key.toString('hex') };
      a = await startTestHerald(env, { worker: false });
      b = await startTestHerald(env, { worker: false });
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await schema?.drop();
    });
    tests(() => [a, b]);
  });
}
