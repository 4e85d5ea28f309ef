// The admin UI against what a hostile page, link or signed-out browser tries, over plain HTTP
// against a real Herald on 127.0.0.1.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, uiSession, type TestHerald } from '../helpers.js';

let herald: TestHerald;

beforeAll(async () => {
  herald = await startTestHerald();
});

afterAll(async () => {
  await herald?.close();
});

/** A request with its path sent exactly as written (fetch would resolve `..` and `%2E%2E` itself). */
function rawRequest(url: string, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin UI addresses', () => {
  it('answers 404 to an id that is a dot segment, without asking the API for the path it would climb to', async () => {
    const cookie = await uiSession(herald.url);
    const form = { cookie, origin: herald.url, 'content-type': 'application/x-www-form-urlencoded' };
    const tries: [string, string][] = [
      ['GET', '/endpoints/%2E%2E'],
      ['GET', '/endpoints/%2e%2e/edit'],
      ['GET', '/inboxes/%2E%2E'],
      ['GET', '/catalog/types/%2E%2E'],
      ['POST', '/endpoints/%2E%2E/rotate'],
      ['POST', '/inboxes/%2E%2E/delete'],
      ['POST', '/deliveries/%2E%2E/retry'],
    ];
    for (const [method, path] of tries) {
      const res = await rawRequest(herald.url, method, path, method === 'GET' ? { cookie } : form);
      expect(res.status, path).toBe(404);
      // The API was never asked for /api/v2/ or a sibling path: it would name it ("no route GET /api/v2/").
      expect(res.body, path).not.toMatch(/no route|\/api\/v2/);
    }
  });
});
