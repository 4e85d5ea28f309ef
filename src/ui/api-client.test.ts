// The admin UI's API client against a server on 127.0.0.1 that answers 5xx: whether the answer
// carried the API's `{error, message, field}` body decides whether its message is shown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiCallError, HeraldApi } from './api-client.js';

let server: Server;
let api: HeraldApi;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/api/v2/explained') {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
      return void res.end(JSON.stringify({ error: 'store_unavailable', message: 'the store cannot be reached; retry shortly', field: null }));
    }
    if (req.url === '/api/v2/retry-at-a-date') return void res.writeHead(503, { 'retry-after': 'Fri, 31 Dec 1999 23:59:59 GMT' }).end();
    res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = new HeraldApi(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'key');
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function failureOf(path: string): Promise<ApiCallError> {
  const err = await api.get(path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApiCallError);
  return err as ApiCallError;
}

describe('HeraldApi, answered 5xx', () => {
  it("keeps the API's message, and says it is the API's own, when the body is the API's error shape", async () => {
    const err = await failureOf('/api/v2/explained');
    expect([err.status, err.code, err.message, err.field, err.explained]).toEqual([503, 'store_unavailable', 'the store cannot be reached; retry shortly', undefined, true]);
  });

  it('keeps the Retry-After the API sent, in seconds, and nothing else in its place', async () => {
    expect((await failureOf('/api/v2/explained')).retryAfter).toBe('5');
    expect((await failureOf('/api/v2/proxy-page')).retryAfter).toBeUndefined();
    expect((await failureOf('/api/v2/retry-at-a-date')).retryAfter).toBeUndefined();
  });

  it('says only the status, and that nothing was explained, when the body is not the API’s (a proxy page)', async () => {
    const err = await failureOf('/api/v2/proxy-page');
    expect([err.status, err.code, err.message, err.explained]).toEqual([502, 'error', 'the API answered 502', false]);
  });
});
