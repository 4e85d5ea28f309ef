// The error codes of the API against the README's table of them and /openapi.json: the table lists
// every code the API may answer, with its statuses, and nothing else; real requests that provoke
// each client error a route can answer get the code and status the table gives it, a status the
// route's operation declares, and, for a 409 or 422, a code the operation's description names
// (clients branch on the code, and the document is where they look it up).
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUSES } from '../../src/api/error-codes.js';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README's table of error codes: code → statuses, read from the table after "Errors answer". */
function documentedCodes(): Map<string, number[]> {
  const rest = README.slice(README.indexOf('Errors answer `{error, message, field}`'));
  const table = rest.slice(rest.indexOf('\n|'), rest.indexOf('\n\n', rest.indexOf('\n|')));
  const codes = new Map<string, number[]>();
  for (const [, status, names] of table.matchAll(/^\| (\d{3}) \| ([^|]+) \|/gm)) {
    for (const [, code] of names!.matchAll(/`([a-z_]+)`/g)) codes.set(code!, [...(codes.get(code!) ?? []), Number(status)]);
  }
  return codes;
}

interface Operation {
  responses: Record<string, { description: string }>;
}
type Doc = { paths: Record<string, Record<string, Operation>> };

describe('error codes', () => {
  it('the README lists every code the API answers, with its statuses, and only those', () => {
    const documented = documentedCodes();
    expect(documented.size).toBeGreaterThan(25);
    const sorted = (m: Iterable<[string, readonly number[]]>) => Object.fromEntries([...m].map(([c, s]) => [c, [...s].sort()]).sort(([a], [b]) => String(a).localeCompare(String(b))));
    expect(sorted(documented)).toEqual(sorted(Object.entries(ERROR_STATUSES)));
  });
});

describe('errors the API answers', () => {
  let h: TestHerald;
  let doc: Doc;
  let receiver: Receiver;
  const held: ServerResponse[] = [];
  beforeAll(async () => {
    h = await startTestHerald();
    doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as Doc;
    // /hold never answers until the test ends: its delivery stays in flight.
    receiver = await startReceiver((req, _i, res) => {
      if (req.url === '/hold') held.push(res);
      else res.writeHead(200).end();
    });
  });
  afterAll(async () => {
    for (const res of held) res.writeHead(200).end();
    await receiver.close();
    await h.close();
  });

  /** The document's operation for a concrete request: `/api/v2/endpoints/ep_1` matches `/api/v2/endpoints/{id}`. */
  function operationOf(method: string, route: string): Operation {
    const path = route.split('?')[0]!;
    for (const [template, methods] of Object.entries(doc.paths)) {
      const operation = methods[method.toLowerCase()];
      if (operation && new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path)) return operation;
    }
    throw new Error(`${method} ${path} is not in /openapi.json`);
  }

  async function send(method: string, route: string, body?: unknown, options: { key?: string; headers?: Record<string, string>; raw?: string } = {}) {
    const res = await fetch(h.url + route, {
      method,
      headers: { 'x-api-key': options.key ?? ADMIN_KEY, ...(body === undefined && options.raw === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
      body: options.raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Sends the request and holds its error to the README's table and to the route's operation. */
  async function refused(expected: { status: number; error: string }, method: string, route: string, body?: unknown, options?: Parameters<typeof send>[3]) {
    const res = await send(method, route, body, options);
    const what = `${method} ${route}`;
    expect({ status: res.status, error: res.body?.error }, what).toEqual(expected);
    expect(documentedCodes().get(expected.error), `${expected.error} in the README's table`).toContain(expected.status);
    const operation = operationOf(method, route);
    expect(Object.keys(operation.responses), `${what}: /openapi.json declares ${expected.status}`).toContain(String(expected.status));
    if (expected.status === 409 || expected.status === 422) {
      expect(operation.responses[expected.status]!.description, `${what}: /openapi.json names ${expected.error}`).toContain(`\`${expected.error}\``);
    }
    return res;
  }

  const created = async (route: string, body: unknown) => {
    const res = await send('POST', route, body);
    expect(res.status, `POST ${route}`).toBeLessThan(300);
    return res.body;
  };

  it("every 409 and 422 /openapi.json declares names the codes it carries, each one of that status", () => {
    let checked = 0;
    for (const [path, operations] of Object.entries(doc.paths)) {
      // Media Pocket's routes answer {error} alone, without codes.
      if (path.startsWith('/api/v2/admin/')) continue;
      for (const [method, { responses }] of Object.entries(operations)) {
        for (const status of ['409', '422']) {
          const description = responses[status]?.description;
          if (description === undefined) continue;
          const codes = [...description.matchAll(/`([a-z]+(?:_[a-z]+)+|[a-z]+)`/g)].map((m) => m[1]!).filter((c) => c in ERROR_STATUSES);
          expect(codes, `${method.toUpperCase()} ${path} ${status}: ${description}`).not.toEqual([]);
          for (const code of codes) expect(ERROR_STATUSES[code as keyof typeof ERROR_STATUSES] as readonly number[], `${method.toUpperCase()} ${path} ${status} ${code}`).toContain(Number(status));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('input every route refuses: 400, 401, 403, 404, 413, 415', async () => {
    await refused({ status: 400, error: 'invalid_request' }, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/a` });
    await refused({ status: 401, error: 'unauthorized' }, 'GET', '/api/v2/endpoints', undefined, { key: 'not-a-key' });
    const viewer = await created('/api/v2/api-keys', { name: 'viewer', role: 'viewer' });
    await refused({ status: 403, error: 'forbidden' }, 'POST', '/api/v2/events', { type: 'asset.created' }, { key: viewer.key });
    await refused({ status: 404, error: 'not_found' }, 'GET', '/api/v2/endpoints/ep_missing');
    await refused({ status: 413, error: 'event_too_large' }, 'POST', '/api/v2/events', { type: 'asset.created', data: { blob: 'x'.repeat(300 * 1024) } });
    await refused({ status: 413, error: 'payload_too_large' }, 'POST', '/api/v2/events/batch', undefined, { raw: JSON.stringify({ events: [{ type: 'asset.created', data: { blob: 'x'.repeat(1100 * 1024) } }] }) });
    await refused({ status: 415, error: 'unsupported_media_type' }, 'POST', '/api/v2/events', undefined, { raw: '{}', headers: { 'content-type': 'text/plain' } });
  });

  it('endpoints: 422 invalid_endpoint and ssrf_blocked, 409 managed_by_inbox, stale_copy and endpoint_disabled, 412 precondition_failed, test sends refused', async () => {
    await refused({ status: 422, error: 'invalid_endpoint' }, 'POST', '/api/v2/endpoints', { url: `${receiver.url}/a`, event_types: ['nope.nope'] });
    await refused({ status: 422, error: 'invalid_endpoint' }, 'POST', '/api/v2/endpoints', { url: 'ftp://example.com/a', event_types: ['*'] });
    await refused({ status: 422, error: 'ssrf_blocked' }, 'POST', '/api/v2/endpoints', { url: 'http://10.0.0.1/a', event_types: ['*'] });
    // Herald's own host under a name this resolver may not know: refused by the guard all the same.
    await refused({ status: 422, error: 'ssrf_blocked' }, 'POST', '/api/v2/endpoints', { url: `http://localhost.:${new URL(h.url).port}/api/v2/events`, event_types: ['*'] });
    const ep = await created('/api/v2/endpoints', { url: `${receiver.url}/a`, event_types: ['asset.*'] });
    await refused({ status: 422, error: 'invalid_endpoint' }, 'PATCH', `/api/v2/endpoints/${ep.id}`, { auth: { type: 'basic', username: 'u', password: '****' } });
    await refused({ status: 422, error: 'unknown_event_type' }, 'POST', `/api/v2/endpoints/${ep.id}/test`, { event_type: 'nope.nope' });
    await refused({ status: 422, error: 'reserved_event_type' }, 'POST', `/api/v2/endpoints/${ep.id}/test`, { event_type: 'endpoint.disabled', data: { a: 1 } });
    await refused({ status: 409, error: 'stale_copy' }, 'PATCH', `/api/v2/endpoints/${ep.id}`, { description: 'stale', updated_at: '2020-01-01T00:00:00Z' });
    await refused({ status: 412, error: 'precondition_failed' }, 'PATCH', `/api/v2/endpoints/${ep.id}`, { description: 'stale' }, { headers: { 'if-match': '"not-its-etag"' } });
    await refused({ status: 412, error: 'precondition_failed' }, 'DELETE', `/api/v2/endpoints/${ep.id}`, undefined, { headers: { 'if-match': '"not-its-etag"' } });
    expect((await send('PATCH', `/api/v2/endpoints/${ep.id}`, { disabled: true })).status).toBe(200);
    await refused({ status: 409, error: 'endpoint_disabled' }, 'POST', `/api/v2/endpoints/${ep.id}/test`, {});

    const inbox = await created('/api/v2/inboxes', { name: 'relay', forward_url: `${receiver.url}/relayed` });
    await refused({ status: 409, error: 'managed_by_inbox' }, 'PATCH', `/api/v2/endpoints/${inbox.forward_endpoint_id}`, { description: 'mine now' });
    await refused({ status: 409, error: 'managed_by_inbox' }, 'DELETE', `/api/v2/endpoints/${inbox.forward_endpoint_id}`);
  });

  it('events and custom event types: 422 unknown_event_type, reserved_event_type, invalid_event_data, invalid_event_type, invalid_schema; 409 conflict and event_type_in_use', async () => {
    await refused({ status: 422, error: 'unknown_event_type' }, 'POST', '/api/v2/events', { type: 'nope.nope' });
    await refused({ status: 422, error: 'reserved_event_type' }, 'POST', '/api/v2/events/batch', { events: [{ type: 'endpoint.disabled' }] });
    const schema = { type: 'object', required: ['size'], properties: { size: { type: 'integer' } } };
    await created('/api/v2/event-types', { name: 'acme.widget.built', schema });
    await refused({ status: 422, error: 'invalid_event_data' }, 'POST', '/api/v2/events', { type: 'acme.widget.built', data: { size: 'big' } });
    await refused({ status: 409, error: 'conflict' }, 'POST', '/api/v2/event-types', { name: 'acme.widget.built' });
    await refused({ status: 422, error: 'invalid_event_type' }, 'POST', '/api/v2/event-types', { name: 'asset.created' });
    await refused({ status: 422, error: 'invalid_schema' }, 'POST', '/api/v2/event-types', { name: 'acme.widget.sold', schema: { type: 'string', pattern: 'a+' } });
    await refused({ status: 422, error: 'invalid_event_type' }, 'PATCH', '/api/v2/event-types/asset.created', { description: 'mine' });
    await refused({ status: 422, error: 'invalid_event_type' }, 'DELETE', '/api/v2/event-types/asset.created');
    await created('/api/v2/endpoints', { url: `${receiver.url}/widgets`, event_types: ['acme.widget.built'] });
    await refused({ status: 409, error: 'event_type_in_use' }, 'DELETE', '/api/v2/event-types/acme.widget.built');
  });

  it('deliveries and recovers: 409 in_flight, 422 idempotency_key_reused', async () => {
    const ep = await created('/api/v2/endpoints', { url: `${receiver.url}/hold`, event_types: ['asset.created'] });
    await created('/api/v2/events', { type: 'asset.created' });
    const delivery = await eventually(async () => (await send('GET', `/api/v2/endpoints/${ep.id}/deliveries?status=in_flight`)).body.data[0]);
    await refused({ status: 409, error: 'in_flight' }, 'POST', `/api/v2/deliveries/${delivery.id}/retry`);

    const since = new Date(Date.now() - 60_000).toISOString();
    const headers = { 'idempotency-key': 'docs-errors' };
    expect((await send('POST', `/api/v2/endpoints/${ep.id}/recover`, { since }, { headers })).status).toBe(202);
    await refused({ status: 422, error: 'idempotency_key_reused' }, 'POST', `/api/v2/endpoints/${ep.id}/recover`, { since, statuses: ['succeeded'] }, { headers });
  });

  it('accounts, projects, API keys and inboxes: 422 invalid_account and invalid_inbox, 409 conflict and operator_key', async () => {
    await refused({ status: 422, error: 'invalid_account' }, 'POST', '/api/v2/accounts', { name: 'acme', link_base_url: 'ftp://api.example.com' });
    const account = await created('/api/v2/accounts', { name: 'acme' });
    await refused({ status: 422, error: 'invalid_account' }, 'PATCH', `/api/v2/accounts/${account.id}`, { link_base_url: 'https://u:p@api.example.com' });
    await created('/api/v2/projects', { id: 'p1', name: 'one' });
    await refused({ status: 409, error: 'conflict' }, 'POST', '/api/v2/projects', { id: 'p1', name: 'again' });
    const operator = (await send('GET', '/api/v2/api-keys/current')).body;
    await refused({ status: 409, error: 'operator_key' }, 'DELETE', `/api/v2/api-keys/${operator.id}`);
    await refused({ status: 422, error: 'invalid_inbox' }, 'POST', '/api/v2/inboxes', { name: 'x', forward_url: 'ftp://example.com/x' });
    await refused({ status: 422, error: 'ssrf_blocked' }, 'POST', '/api/v2/inboxes', { name: 'x', forward_url: 'http://10.0.0.1/x' });
    const inbox = await created('/api/v2/inboxes', { name: 'x' });
    await refused({ status: 422, error: 'invalid_inbox' }, 'PATCH', `/api/v2/inboxes/${inbox.id}`, { signing_secret: 'not-a-secret' });
  });

  it('the Tenovos and CMP routes: 422 invalid_endpoint, invalid_subscription, ssrf_blocked, idempotency_key_reused', async () => {
    await refused({ status: 422, error: 'invalid_endpoint' }, 'POST', '/webhooks/endpoint', [{ description: 'unknown type', eventTypes: ['nope.nope'], url: `${receiver.url}/t` }]);
    await refused({ status: 422, error: 'ssrf_blocked' }, 'POST', '/webhooks/endpoint', [{ description: 'private url', eventTypes: ['asset.created'], url: 'http://10.0.0.1/t' }]);
    const { id } = await created('/webhooks/endpoint', [{ description: 'tenovos', eventTypes: ['asset.created'], url: `${receiver.url}/t` }]);
    await refused({ status: 422, error: 'invalid_endpoint' }, 'PATCH', `/webhooks/endpoint/${id}`, { eventTypes: ['nope.nope'] });
    await refused({ status: 422, error: 'invalid_endpoint' }, 'PUT', `/webhooks/endpoint/oauth/${id}`, { clientId: 'c', clientSecret: '****', tokenUrl: `${receiver.url}/token` });
    const headers = { 'idempotency-key': 'docs-errors-tenovos' };
    expect((await send('POST', `/webhooks/endpoint/${id}/recover`, { since: new Date(Date.now() - 60_000).toISOString() }, { headers })).status).toBe(202);
    await refused({ status: 422, error: 'idempotency_key_reused' }, 'POST', `/webhooks/endpoint/${id}/recover`, { since: new Date(Date.now() - 120_000).toISOString() }, { headers });
    await refused({ status: 422, error: 'invalid_subscription' }, 'POST', '/cmp/v3/webhooks', { callback_url: 'ftp://example.com/c', events: ['asset_added'] });
    const cmp = await created('/cmp/v3/webhooks', { callback_url: `${receiver.url}/c`, events: ['asset_added'] });
    await refused({ status: 422, error: 'ssrf_blocked' }, 'PATCH', `/cmp/v3/webhooks/${cmp.id}`, { callback_url: 'http://10.0.0.1/c' });
  });
});
