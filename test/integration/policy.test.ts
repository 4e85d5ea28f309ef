import { createHmac } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

const open: { close(): Promise<void> }[] = [];
async function herald(env: Record<string, string> = {}, clock?: () => number): Promise<TestHerald> {
  const h = await startTestHerald(env, { clock });
  open.push(h);
  return h;
}
async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  open.push(r);
  return r;
}
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

const DAY = 86_400_000;

async function deliveries(h: TestHerald, endpointId: string, status?: string) {
  return (await h.api('GET', `/api/v2/endpoints/${endpointId}/deliveries${status ? `?status=${status}` : ''}`)).body.data;
}

describe('backoff signals', () => {
  it('disables the endpoint at once on 410 Gone and raises endpoint.disabled', async () => {
    const h = await herald();
    const gone = await receiver((_r, _i, res) => void res.writeHead(410).end());
    const watcher = await receiver();
    const ep = await h.api('POST', '/api/v2/endpoints', { url: gone.url, event_types: ['asset.created'] });
    await h.api('POST', '/api/v2/endpoints', { url: watcher.url, event_types: ['endpoint.*'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [note] = await watcher.waitFor(1);
    expect(JSON.parse(note.body)).toMatchObject({ type: 'endpoint.disabled', data: { endpoint_id: ep.body.id, reason: 'endpoint answered 410 Gone' } });
    const after = await h.api('GET', `/api/v2/endpoints/${ep.body.id}`);
    expect(after.body).toMatchObject({ disabled: true, disabled_reason: 'endpoint answered 410 Gone' });
    expect(gone.received).toHaveLength(1);
  });

  it.each([
    ['seconds', () => '120'],
    ['an HTTP date', () => new Date(Date.now() + 120_000).toUTCString()],
  ])('postpones the next attempt by Retry-After given in %s on 429 and 503', async (_label, value) => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0,1,1' });
    const r = await receiver((_req, i, res) => void res.writeHead(i === 0 ? 429 : 503, { 'retry-after': value() }).end());
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [d] = await eventually(async () => {
      const list = await deliveries(h, ep.body.id, 'pending');
      return list.length === 1 && list[0].attempts === 1 ? list : undefined;
    });
    const delay = Date.parse(d.next_attempt_at) - Date.parse(d.attempt_log[0].started_at);
    expect(delay).toBeGreaterThanOrEqual(118_000);
    expect(delay).toBeLessThan(125_000);
  });
});

describe('endpoint health', () => {
  const HOUR = 3_600_000;

  /** An endpoint whose receiver answers 500 until `up`, on a Herald whose clock runs `offset` ahead. */
  async function failingEndpoint(env: Record<string, string>) {
    const state = { offset: 0, up: false };
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0', ...env }, () => Date.now() + state.offset);
    const r = await receiver((_req, _i, res) => void res.writeHead(state.up ? 200 : 500).end());
    const id = (await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] })).body.id as string;
    const endpoint = async () => (await h.api('GET', `/api/v2/endpoints/${id}`)).body;
    let failed = 0;
    /** One event at `offset` from now, failed once (one attempt on this schedule); the endpoint afterwards. */
    const failAt = async (offset: number) => {
      state.offset = offset;
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      failed++;
      await eventually(async () => ((await deliveries(h, id, 'failed')).length === failed ? true : undefined));
      // The disabling, if any, follows the settle: give it time to show.
      await new Promise((r) => setTimeout(r, 300));
      return endpoint();
    };
    return { h, id, state, failAt, endpoint };
  }

  // The sum of the phases' bounds of four failures (each failed 10 s, then 0.3 s for a disabling to show).
  const FOUR_FAILURES_MS = 50_000;
  // The sum of the phases' bounds of eight failures (each failed 10 s, then 0.3 s) and the recovered deliveries (10 s).
  const EIGHT_FAILURES_MS = 100_000;

  it('does not count a quiet spell as failing: one failure after it begins a new failing period (1 hour threshold)', async () => {
    const { failAt } = await failingEndpoint({ HERALD_DISABLE_AFTER_HOURS: '1' });
    const first = await failAt(0);
    expect(first.failing_since).not.toBeNull();
    // Two quiet hours, then one failure: not an hour of failing, and no retry made.
    const after = await failAt(2 * HOUR);
    expect(after).toMatchObject({ disabled: false, disabled_reason: null });
    expect(Date.parse(after.failing_since)).toBeGreaterThan(Date.parse(first.failing_since) + HOUR);
    // Failures 40 minutes apart are one period: past the hour, the endpoint is disabled.
    expect((await failAt(2 * HOUR + 40 * 60_000)).disabled).toBe(false);
    const disabled = await failAt(2 * HOUR + 80 * 60_000);
    expect(disabled.disabled).toBe(true);
    expect(disabled.disabled_reason).toBe(`every attempt failed for 1 hour (since ${after.failing_since})`);
  }, FOUR_FAILURES_MS);

  it('disables an endpoint whose every attempt failed for 5 days, not one that failed once before 5 quiet days, and re-enabling resumes delivery', async () => {
    const { h, id, state, failAt } = await failingEndpoint({});
    await failAt(0);
    const restarted = await failAt(5 * DAY + 60_000);
    expect(restarted).toMatchObject({ disabled: false, disabled_reason: null });
    // From then on a failure every 20 hours (under the 25-hour gap): disabled once 5 days have passed.
    for (let i = 1; i <= 5; i++) expect((await failAt(5 * DAY + 60_000 + i * 20 * HOUR)).disabled).toBe(false);
    const disabled = await failAt(10 * DAY + 2 * 60_000);
    expect(disabled.disabled).toBe(true);
    expect(disabled.disabled_reason).toBe(`every attempt failed for 5 days (since ${restarted.failing_since})`);

    // While disabled, new events are not delivered; failed ones stay replayable.
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    state.up = true;
    const enabled = await h.api('PATCH', `/api/v2/endpoints/${id}`, { disabled: false });
    expect(enabled.body).toMatchObject({ disabled: false, disabled_reason: null, failing_since: null });
    const rec = await h.api('POST', `/api/v2/endpoints/${id}/recover`, { since: new Date(Date.now() - DAY).toISOString() });
    expect(rec.body.requeued).toBe(8);
    await eventually(async () => ((await deliveries(h, id, 'succeeded')).length === 8 ? true : undefined));
  }, EIGHT_FAILURES_MS);
});

describe('secret rotation', () => {
  it('signs with the new and the previous secret during the overlap, then with the new one only', async () => {
    let offset = 0;
    const h = await herald({}, () => Date.now() + offset);
    const r = await receiver();
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    const rotated = await h.api('POST', `/api/v2/endpoints/${ep.body.id}/secret/rotate`);
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [during] = await r.waitFor(1);
    const sigs = (during.headers['webhook-signature'] as string).split(' ');
    expect(sigs).toHaveLength(2);
    // Both the receiver still on the old secret and the one already on the new secret accept it.
    const headers = during.headers as unknown as Record<string, string>;
    expect(() => new Webhook(ep.body.secret, {}).verify(during.body, headers)).not.toThrow();
    expect(() => new Webhook(rotated.body.secret).verify(during.body, headers)).not.toThrow();

    offset = DAY + 1_000;
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [, after] = await r.waitFor(2);
    expect((after.headers['webhook-signature'] as string).split(' ')).toHaveLength(1);
    const verifyAt = (secret: string) => {
      const wh = new Webhook(secret);
      // The signature carries the shifted clock's timestamp; verify against it.
      const realNow = Date.now;
      Date.now = () => realNow() + offset;
      try {
        return wh.verify(after.body, after.headers as Record<string, string>);
      } finally {
        Date.now = realNow;
      }
    };
    expect(() => verifyAt(rotated.body.secret)).not.toThrow();
    expect(() => verifyAt(ep.body.secret)).toThrow();
  });
});

describe('per-resource ordering', () => {
  it('delivers events of one resource strictly in sequence under random failures, other resources in parallel', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: ['0', ...Array.from({ length: 29 }, () => '0.01')].join(',') });
    const inFlight = new Map<string, number>();
    let overlap = false;
    const r = await receiver((req, _i, res) => {
      const body = JSON.parse(req.body);
      const key = body.resource.id;
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      if (inFlight.get(key)! > 1) overlap = true;
      setTimeout(() => {
        inFlight.set(key, inFlight.get(key)! - 1);
        res.writeHead(Math.random() < 0.3 ? 500 : 200).end();
      }, 2);
    });
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.*'], ordering: 'per_resource' });
    expect(ep.body.ordering).toBe('per_resource');
    const events = Array.from({ length: 120 }, (_, i) => ({ type: 'asset.metadata.updated', resource: { type: 'asset', id: `a${i % 4}` }, data: { i } }));
    await h.api('POST', '/api/v2/events/batch', { events });
    await eventually(async () => ((await h.api('GET', '/api/v2/stats')).body.deliveries.succeeded === 120 ? true : undefined), 30_000);
    // Attempts of one resource never overlapped, and the successful ones came in sequence order.
    expect(overlap).toBe(false);
    for (const d of (await h.api('GET', `/api/v2/endpoints/${ep.body.id}/deliveries?limit=250`)).body.data) {
      expect(d.status).toBe('succeeded');
    }
    const seqByResource = new Map<string, number[]>();
    for (const req of r.received) {
      const body = JSON.parse(req.body);
      const list = seqByResource.get(body.resource.id) ?? [];
      if (list.at(-1) !== body.sequence) list.push(body.sequence);
      seqByResource.set(body.resource.id, list);
    }
    for (const [, seqs] of seqByResource) expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});

describe('restrictions', () => {
  it('delivers only events of the endpoint’s projects and acting users', async () => {
    const h = await herald();
    const byProject = await receiver();
    const byUser = await receiver();
    await h.api('POST', '/api/v2/endpoints', { url: byProject.url, event_types: ['*'], project_ids: ['p1'] });
    await h.api('POST', '/api/v2/endpoints', { url: byUser.url, event_types: ['*'], user_ids: ['u1'] });
    await h.api('POST', '/api/v2/events/batch', {
      events: [
        { type: 'asset.created', project_id: 'p1', actor: { id: 'u2' }, data: { n: 1 } },
        { type: 'asset.created', project_id: 'p2', actor: { id: 'u1' }, data: { n: 2 } },
        { type: 'asset.created', data: { n: 3 } },
      ],
    });
    await byProject.waitFor(1);
    await byUser.waitFor(1);
    await new Promise((res) => setTimeout(res, 200));
    expect(byProject.received.map((x) => JSON.parse(x.body).data.n)).toEqual([1]);
    expect(byUser.received.map((x) => JSON.parse(x.body).data.n)).toEqual([2]);
  });
});

describe('endpoint auth', () => {
  const BASIC_AUTHORIZATION = `Basic ${Buffer.from('dam:pa55word-xyz').toString('base64')}`;
  /** An endpoint of `url` for asset.created with basic auth dam:pa55word-xyz and `headers`. */
  const basicEndpoint = (h: TestHerald, url: string, headers: { name: string; value: string; type: string }[]) =>
    h.api('POST', '/api/v2/endpoints', { url, event_types: ['asset.created'], auth: { type: 'basic', username: 'dam', password: 'pa55word-xyz' }, headers });

  it('sends basic auth and custom headers, and masks credentials in the attempt log', async () => {
    const h = await herald();
    const r = await receiver();
    const ep = await basicEndpoint(h, r.url, [
      { name: 'X-Api-Key', value: 'header-secret-123', type: 'hidden' },
      { name: 'X-Team', value: 'media', type: 'plain' },
    ]);
    expect(JSON.stringify(ep.body)).not.toContain('pa55word');
    expect(JSON.stringify(ep.body)).not.toContain('header-secret-123');
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [req] = await r.waitFor(1);
    expect(req.headers.authorization).toBe(BASIC_AUTHORIZATION);
    expect(req.headers['x-api-key']).toBe('header-secret-123');
    expect(req.headers['x-team']).toBe('media');
    const [d] = await eventually(async () => {
      const list = await deliveries(h, ep.body.id, 'succeeded');
      return list.length ? list : undefined;
    });
    const logged = JSON.stringify(d.attempt_log[0].request_headers);
    expect(logged).not.toContain('pa55word');
    expect(logged).not.toContain(Buffer.from('dam:pa55word-xyz').toString('base64'));
    expect(logged).not.toContain('header-secret-123');
    expect(d.attempt_log[0].request_headers['x-team']).toBe('media');
  });

  it('keeps a header given without a type hidden in the attempt log, in either form', async () => {
    const h = await herald();
    const r = await receiver();
    const mapForm = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], headers: { 'X-Api-Key': 'map-form-secret-1' } });
    const listForm = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], headers: [{ name: 'X-Token', value: 'list-form-secret-2' }] });
    expect(mapForm.body.headers).toMatchObject([{ name: 'X-Api-Key', type: 'hidden' }]);
    expect(listForm.body.headers).toMatchObject([{ name: 'X-Token', type: 'hidden' }]);
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const sent = await r.waitFor(2);
    expect(sent.map((q) => q.headers['x-api-key'] ?? q.headers['x-token']).sort()).toEqual(['list-form-secret-2', 'map-form-secret-1']);
    for (const ep of [mapForm, listForm]) {
      const [d] = await eventually(async () => {
        const list = await deliveries(h, ep.body.id, 'succeeded');
        return list.length ? list : undefined;
      });
      const logged = JSON.stringify(d.attempt_log[0].request_headers);
      expect(logged).not.toContain('map-form-secret-1');
      expect(logged).not.toContain('list-form-secret-2');
    }
  });

  it('keeps a basic password and header values sent back as read, refuses other masked values naming the field, and delivers with the originals', async () => {
    const h = await herald();
    const r = await receiver();
    const ep = await basicEndpoint(h, r.url, [
      { name: 'X-Api-Key', value: 'header-secret-1234567', type: 'hidden' },
      { name: 'X-Short', value: 'k1', type: 'hidden' },
      { name: 'X-Team', value: 'media', type: 'plain' },
      { name: 'X-Signature', value: 'hmac-key-abcdefghijklmnop', type: 'hmac' },
    ]);
    expect(ep.status, JSON.stringify(ep.body)).toBe(201);
    const route = `/api/v2/endpoints/${ep.body.id}`;
    const read = (await h.api('GET', route)).body;
    expect(read.auth).toEqual({ type: 'basic', username: 'dam', password: '****' });
    expect(read.headers.map((x: { value: string }) => x.value)).toEqual(['head…', '****', '****', 'hmac…']);

    const patched = await h.api('PATCH', route, { auth: read.auth, headers: read.headers });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);

    const refusals: [Record<string, unknown>, string][] = [
      [{ auth: { ...read.auth, password: 'pa55…' } }, 'auth.password'],
      [{ auth: { type: 'oauth2_client_credentials', token_url: 'http://127.0.0.1:9/token', client_id: 'c', client_secret: '****' } }, 'auth.client_secret'],
      [{ headers: [...read.headers, { name: 'X-New', value: '****' }] }, 'headers'],
      [{ headers: [{ name: 'X-Api-Key', value: 'abcd…', type: 'hidden' }] }, 'headers'],
      [{ headers: [{ name: 'X-Signature', value: 'k1ab…', type: 'hmac' }] }, 'headers'],
      // A secret header turned plain with its mask would show the kept secret.
      [{ headers: [{ name: 'X-Short', value: '****', type: 'plain' }] }, 'headers'],
    ];
    for (const [body, field] of refusals) {
      const refused = await h.api('PATCH', route, body);
      expect([refused.status, refused.body.field], JSON.stringify(body)).toEqual([422, field]);
    }
    for (const body of [{ auth: { type: 'basic', username: 'dam', password: '****' } }, { headers: { 'X-Api-Key': '****' } }]) {
      const created = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], ...body });
      expect([created.status, created.body.field], JSON.stringify(body)).toEqual([422, Object.hasOwn(body, 'auth') ? 'auth.password' : 'headers']);
    }

    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [req] = await r.waitFor(1);
    expect(req.headers.authorization).toBe(BASIC_AUTHORIZATION);
    expect([req.headers['x-api-key'], req.headers['x-short'], req.headers['x-team']]).toEqual(['header-secret-1234567', 'k1', 'media']);
    expect(req.headers['x-signature']).toBe(createHmac('sha256', 'hmac-key-abcdefghijklmnop').update(req.body).digest('hex'));
  });

  it('Media Pocket webhook_headers and the CMP secret sent back as read keep the stored values; other masked values are refused', async () => {
    const h = await herald();
    const r = await receiver();
    const mp = (
      await h.api('POST', '/api/v2/admin/webhooks', {
        name: 'round trip',
        http_url: `${r.url}/mp`,
        http_method: 'POST',
        trigger_events: ['ASSET_ADDED'],
        webhook_headers: [{ key: 'X-Short', value: 'k1', type: 'hidden' }],
      })
    ).body.webhook;
    const mpRoute = `/api/v2/admin/webhooks/${mp.id}`;
    const mpRead = (await h.api('GET', mpRoute)).body.webhook.webhook_headers;
    expect(mpRead).toEqual([{ key: 'X-Short', value: '****', type: 'hidden' }]);
    expect((await h.api('PUT', mpRoute, { webhook_headers: mpRead })).status).toBe(200);
    const mpRefused = await h.api('PUT', mpRoute, { webhook_headers: [...mpRead, { key: 'X-New', value: '****', type: 'hidden' }] });
    expect(mpRefused.status).toBe(422);
    expect(mpRefused.body.error).toMatch(/^Invalid parameter 'webhook_headers' .*the value of "X-New" is a masked value/);

    const cmp = (await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${r.url}/cmp`, events: ['asset_added'], secret: 'cb-1' })).body;
    expect(cmp.secret).toBe('****');
    const cmpRoute = `/cmp/v3/webhooks/${cmp.id}`;
    expect((await h.api('PATCH', cmpRoute, { secret: cmp.secret })).status).toBe(200);
    const cmpRefused = await h.api('POST', '/cmp/v3/webhooks', { callback_url: `${r.url}/cmp`, events: ['asset_added'], secret: '****' });
    expect([cmpRefused.status, cmpRefused.body.field]).toEqual([422, 'secret']);

    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const sent = await r.waitFor(2);
    const at = (path: string) => sent.find((q) => q.url === path)!;
    expect(at('/mp').headers['x-short']).toBe('k1');
    expect(at('/cmp').headers['callback-secret']).toBe('cb-1');
  });

  describe('OAuth2 client credentials', () => {
    let oauth: OAuth2Server;
    async function startOAuth(): Promise<string> {
      oauth = new OAuth2Server();
      await oauth.issuer.keys.generate('RS256');
      await oauth.start(0, '127.0.0.1');
      open.push({ close: () => oauth.stop() });
      return `${oauth.issuer.url}/token`;
    }
    /** startOAuth, and the form fields of every token request it answers. */
    async function startRecordingOAuth(): Promise<{ tokenUrl: string; tokenRequests: Record<string, string>[] }> {
      const tokenUrl = await startOAuth();
      const tokenRequests: Record<string, string>[] = [];
      oauth.service.on('beforeTokenSigning', (_token, req) => void tokenRequests.push({ ...(req.body as Record<string, string>) }));
      return { tokenUrl, tokenRequests };
    }

    it('fetches a token with client id, secret, scope and extra params, caches it, and refreshes once on a 401', async () => {
      const tokenUrl = await startOAuth();
      const tokenRequests: Record<string, string>[] = [];
      oauth.service.on('beforeTokenSigning', (token, req) => {
        tokenRequests.push({ ...(req.body as Record<string, string>) });
        token.payload.n = tokenRequests.length;
      });
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      let rejectNext = false;
      const r = await receiver((req, _i, res) => {
        const payload = JSON.parse(Buffer.from((req.headers.authorization ?? '').split('.')[1] ?? '', 'base64url').toString() || '{}');
        if (rejectNext && payload.n === 1) return void res.writeHead(401).end();
        res.writeHead(200).end();
      });
      const ep = await h.api('POST', '/api/v2/endpoints', {
        url: r.url,
        event_types: ['asset.created'],
        auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'herald-client', client_secret: 'oauth-secret-456', scope: 'webhooks:write', extra_params: { audience: 'http://dam.example' } },
      });
      expect(JSON.stringify(ep.body)).not.toContain('oauth-secret-456');
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await r.waitFor(2);
      expect(tokenRequests).toHaveLength(1);
      expect(tokenRequests[0]).toMatchObject({ grant_type: 'client_credentials', client_id: 'herald-client', client_secret: 'oauth-secret-456', scope: 'webhooks:write', audience: 'http://dam.example' });
      expect(r.received[0].headers.authorization).toMatch(/^Bearer ey/);

      rejectNext = true;
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await r.waitFor(4);
      expect(tokenRequests).toHaveLength(2);
      await eventually(async () => ((await deliveries(h, ep.body.id, 'succeeded')).length === 3 ? true : undefined));
    });

    it('keeps an extra param sent back masked as shown, and refuses any other masked value instead of storing it', async () => {
      const { tokenUrl, tokenRequests } = await startRecordingOAuth();
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const assertion = 'long-secret-value-of-a-client-assertion-0123456789';
      const auth = { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: 's-1', extra_params: { client_assertion: assertion, audience: 'dam' } };
      const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], auth });
      expect(ep.status, JSON.stringify(ep.body)).toBe(201);
      const route = `/api/v2/endpoints/${ep.body.id}`;
      const read = (await h.api('GET', route)).body.auth;
      expect(read.extra_params).toEqual({ client_assertion: 'long…', audience: '****' });

      // What was read, sent back with a new client secret and one more param.
      const patched = await h.api('PATCH', route, { auth: { ...read, client_secret: 's-2', extra_params: { ...read.extra_params, resource: 'https://dam.example/api' } } });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      expect(patched.body.auth.extra_params).toEqual({ client_assertion: 'long…', audience: '****', resource: 'http…' });

      // A masked value that is not the one shown for its name (another value's, or under a new name) is refused.
      for (const extra of [{ client_assertion: 'abcd…' }, { client_assertion: 'long…', audience: 'long…' }, { client_assertion: 'long…', scope_key: '****' }]) {
        const refused = await h.api('PATCH', route, { auth: { ...auth, extra_params: extra } });
        expect([refused.status, refused.body.field], JSON.stringify(extra)).toEqual([422, 'auth.extra_params']);
      }
      const created = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], auth: { ...auth, extra_params: { client_assertion: 'long…' } } });
      expect([created.status, created.body.field]).toEqual([422, 'auth.extra_params']);

      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await r.waitFor(1);
      expect(tokenRequests).toEqual([{ grant_type: 'client_credentials', client_id: 'c', client_secret: 's-2', client_assertion: assertion, audience: 'dam', resource: 'https://dam.example/api' }]);
    });

    it('keeps a client secret sent back as read for the same token URL, refuses it for another or on create, and delivers with the original', async () => {
      const { tokenUrl, tokenRequests } = await startRecordingOAuth();
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const assertion = 'long-secret-value-of-a-client-assertion-0123456789';
      const auth = { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: 'oauth-secret-original-1', extra_params: { client_assertion: assertion } };
      const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], auth });
      expect(ep.status, JSON.stringify(ep.body)).toBe(201);
      const route = `/api/v2/endpoints/${ep.body.id}`;
      const read = (await h.api('GET', route)).body.auth;
      expect(read).toEqual({ type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: '****', extra_params: { client_assertion: 'long…' }, token_endpoint_auth_method: 'client_secret_post' });

      // The auth block read, sent back as it is and with a scope added.
      for (const sent of [read, { ...read, scope: 'webhooks:write' }]) {
        const patched = await h.api('PATCH', route, { description: 'round trip', auth: sent });
        expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      }

      // Another masked value, the mask with another token URL (the stored secrets would go there), or on create: refused.
      const otherTokenUrl = tokenUrl.replace('/token', '/other-token');
      const refusals: [unknown, string][] = [
        [{ ...read, client_secret: 'oaut…' }, 'auth.client_secret'],
        [{ ...read, token_url: otherTokenUrl }, 'auth.client_secret'],
        [{ ...read, token_url: otherTokenUrl, client_secret: 'new-secret-for-the-other-url' }, 'auth.extra_params'],
      ];
      for (const [sent, field] of refusals) {
        const refused = await h.api('PATCH', route, { auth: sent });
        expect([refused.status, refused.body.field], JSON.stringify(sent)).toEqual([422, field]);
        expect(refused.body.message).toMatch(/is a masked value; send the value itself/);
      }
      const created = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], auth: { ...auth, client_secret: '****' } });
      expect([created.status, created.body.field]).toEqual([422, 'auth.client_secret']);

      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      const [req] = await r.waitFor(1);
      expect(req.headers.authorization).toMatch(/^Bearer ey/);
      expect(tokenRequests).toEqual([{ grant_type: 'client_credentials', client_id: 'c', client_secret: 'oauth-secret-original-1', scope: 'webhooks:write', client_assertion: assertion }]);
      await eventually(async () => ((await deliveries(h, ep.body.id, 'succeeded')).length === 1 ? true : undefined));
    });

    it('Tenovos PUT oauth: a clientSecret sent back masked keeps the stored one for the same tokenUrl; other masked values are refused naming clientSecret', async () => {
      const { tokenUrl, tokenRequests } = await startRecordingOAuth();
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const { id } = (await h.api('POST', '/webhooks/endpoint', [{ description: 'tenovos oauth', eventTypes: ['asset.created'], url: r.url }])).body;
      const route = `/webhooks/endpoint/oauth/${id}`;
      const body = { clientId: 'tenovos-client', tokenUrl, clientSecret: 'tenovos-secret-original-1', extraParams: { audience: 'dam' } };
      expect((await h.api('PUT', route, body)).status).toBe(204);
      const shown = (await h.api('GET', `/webhooks/endpoint/${id}`)).body.oauth;
      expect(shown.extraParams).toEqual({ audience: '****' });
      // What the native answer shows for the secret, with the extra params as Tenovos shows them.
      const again = await h.api('PUT', route, { ...body, clientSecret: '****', extraParams: shown.extraParams, scope: ['read'] });
      expect(again.status, JSON.stringify(again.body)).toBe(204);
      for (const sent of [{ ...body, clientSecret: 'tenovos…' }, { ...body, clientSecret: '****', tokenUrl: tokenUrl.replace('/token', '/other-token') }]) {
        const refused = await h.api('PUT', route, sent);
        expect([refused.status, refused.body.field], JSON.stringify(sent)).toEqual([422, 'clientSecret']);
        expect(refused.body.message).toMatch(/^clientSecret is a masked value/);
      }

      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await r.waitFor(1);
      expect(tokenRequests).toEqual([{ grant_type: 'client_credentials', client_id: 'tenovos-client', client_secret: 'tenovos-secret-original-1', scope: 'read', audience: 'dam' }]);
    });

    /**
     * startOAuth as a provider that authenticates clients only with HTTP Basic (Okta's default):
     * the pair base64-decoded, split at its ':' and each half form-decoded (RFC 6749 §2.3.1) must be
     * `clientId` and the secret `secret()` names, and the body must not carry the secret; otherwise
     * 401 invalid_client. Records each request's Authorization header and form fields.
     */
    async function startBasicOnlyOAuth(clientId: string, secret: () => string) {
      const tokenUrl = await startOAuth();
      const tokenRequests: { authorization: string | undefined; form: Record<string, string> }[] = [];
      const formDecoded = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));
      oauth.service.on('beforeResponse', (response, req) => {
        const form = { ...(req.body as Record<string, string>) };
        tokenRequests.push({ authorization: req.headers.authorization, form });
        const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
        const pair = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8').split(':') : [];
        if (pair.length === 2 && formDecoded(pair[0]) === clientId && formDecoded(pair[1]) === secret() && !('client_secret' in form)) return;
        response.statusCode = 401;
        response.body = { error: 'invalid_client' };
      });
      return { tokenUrl, tokenRequests };
    }

    it('client_secret_basic: a token server that accepts only Basic gets the id and secret form-urlencoded in the header, and the delivery carries its Bearer token', async () => {
      const secret = 'sec:ret+wörd ✓';
      const { tokenUrl, tokenRequests } = await startBasicOnlyOAuth('herald:client', () => secret);
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const ep = await h.api('POST', '/api/v2/endpoints', {
        url: r.url,
        event_types: ['asset.created'],
        auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'herald:client', client_secret: secret, scope: 'hooks', token_endpoint_auth_method: 'client_secret_basic' },
      });
      expect(ep.status, JSON.stringify(ep.body)).toBe(201);
      expect(ep.body.auth).toMatchObject({ client_secret: '****', token_endpoint_auth_method: 'client_secret_basic' });
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      const [req] = await r.waitFor(1);
      expect(req.headers.authorization).toMatch(/^Bearer ey/);
      // ':' → %3A, '+' → %2B, ' ' → '+', and UTF-8 percent-encoded, each before they are joined and base64-encoded.
      const pair = 'herald%3Aclient:sec%3Aret%2Bw%C3%B6rd+%E2%9C%93';
      expect(tokenRequests).toEqual([{ authorization: `Basic ${Buffer.from(pair).toString('base64')}`, form: { grant_type: 'client_credentials', scope: 'hooks' } }]);
      await eventually(async () => ((await deliveries(h, ep.body.id, 'succeeded')).length === 1 ? true : undefined));
    });

    it('token_endpoint_auth_method defaults to client_secret_post: answers show it, and the id and secret go in the form body without an Authorization header', async () => {
      const tokenUrl = await startOAuth();
      const tokenRequests: { authorization: string | undefined; form: Record<string, string> }[] = [];
      oauth.service.on('beforeTokenSigning', (_token, req) => void tokenRequests.push({ authorization: req.headers.authorization, form: { ...(req.body as Record<string, string>) } }));
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: 's:1+' } });
      expect(ep.body.auth).toEqual({ type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: '****', token_endpoint_auth_method: 'client_secret_post' });
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      const [req] = await r.waitFor(1);
      expect(req.headers.authorization).toMatch(/^Bearer ey/);
      expect(tokenRequests).toEqual([{ authorization: undefined, form: { grant_type: 'client_credentials', client_id: 'c', client_secret: 's:1+' } }]);
    });

    it('refuses a token_endpoint_auth_method it does not know with 400 naming the field, on create and on PATCH', async () => {
      const h = await herald();
      const auth = { type: 'oauth2_client_credentials', token_url: 'http://127.0.0.1:9/token', client_id: 'c', client_secret: 's' };
      const ep = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/hook', event_types: ['asset.created'], auth });
      expect(ep.status).toBe(201);
      for (const bad of ['private_key_jwt', 'basic', 'CLIENT_SECRET_BASIC', '', 1, null]) {
        const created = await h.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/hook', event_types: ['asset.created'], auth: { ...auth, token_endpoint_auth_method: bad } });
        const patched = await h.api('PATCH', `/api/v2/endpoints/${ep.body.id}`, { auth: { ...auth, client_secret: '****', token_endpoint_auth_method: bad } });
        for (const res of [created, patched]) {
          expect([res.status, res.body.field], JSON.stringify(bad)).toEqual([400, 'auth.token_endpoint_auth_method']);
          if (typeof bad === 'string') expect(res.body.message).toBe('body field "auth.token_endpoint_auth_method" must be one of: client_secret_post, client_secret_basic');
        }
      }
      expect((await h.api('GET', `/api/v2/endpoints/${ep.body.id}`)).body.auth.token_endpoint_auth_method).toBe('client_secret_post');
    });

    it('client_secret_basic: the auth block read and sent back keeps the secret and the method, a PATCH without the method keeps it, and the delivery authenticates with the original secret', async () => {
      const { tokenUrl, tokenRequests } = await startBasicOnlyOAuth('c', () => 'basic-secret-original-1');
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const auth = { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: 'basic-secret-original-1', token_endpoint_auth_method: 'client_secret_basic' };
      const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], auth });
      const route = `/api/v2/endpoints/${ep.body.id}`;
      const read = (await h.api('GET', route)).body.auth;
      expect(read).toEqual({ type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: '****', token_endpoint_auth_method: 'client_secret_basic' });

      // Sent back as read; then without the method (as the admin UI form and the Tenovos PUT send it), with a scope added.
      const { token_endpoint_auth_method: _method, ...withoutMethod } = read;
      for (const sent of [read, { ...withoutMethod, scope: 'webhooks:write' }]) {
        const patched = await h.api('PATCH', route, { description: 'round trip', auth: sent });
        expect(patched.status, JSON.stringify(patched.body)).toBe(200);
        expect(patched.body.auth).toMatchObject({ client_secret: '****', token_endpoint_auth_method: 'client_secret_basic' });
      }

      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      const [req] = await r.waitFor(1);
      expect(req.headers.authorization).toMatch(/^Bearer ey/);
      expect(tokenRequests).toEqual([{ authorization: `Basic ${Buffer.from('c:basic-secret-original-1').toString('base64')}`, form: { grant_type: 'client_credentials', scope: 'webhooks:write' } }]);
      await eventually(async () => ((await deliveries(h, ep.body.id, 'succeeded')).length === 1 ? true : undefined));
    });

    it('Tenovos: client_secret_basic set with the native PATCH stays when the OAuth PUT changes the client secret', async () => {
      let secret = 'tenovos-secret-1';
      const { tokenUrl, tokenRequests } = await startBasicOnlyOAuth('tenovos-client', () => secret);
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const { id } = (await h.api('POST', '/webhooks/endpoint', [{ description: 'tenovos basic oauth', eventTypes: ['asset.created'], url: r.url }])).body;
      const put = (clientSecret: string) => h.api('PUT', `/webhooks/endpoint/oauth/${id}`, { clientId: 'tenovos-client', tokenUrl, clientSecret, scope: ['read'] });
      expect((await put(secret)).status).toBe(204);
      const read = (await h.api('GET', `/api/v2/endpoints/${id}`)).body.auth;
      expect(read.token_endpoint_auth_method).toBe('client_secret_post');
      const patched = await h.api('PATCH', `/api/v2/endpoints/${id}`, { auth: { ...read, token_endpoint_auth_method: 'client_secret_basic' } });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);

      secret = 'tenovos-secret-2';
      expect((await put(secret)).status).toBe(204);
      expect((await h.api('GET', `/api/v2/endpoints/${id}`)).body.auth).toMatchObject({ scope: 'read', token_endpoint_auth_method: 'client_secret_basic' });
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      const [req] = await r.waitFor(1);
      expect(req.headers.authorization).toMatch(/^Bearer ey/);
      expect(tokenRequests).toEqual([{ authorization: `Basic ${Buffer.from('tenovos-client:tenovos-secret-2').toString('base64')}`, form: { grant_type: 'client_credentials', scope: 'read' } }]);
    });

    it('fetches a new token once the cached one is about to expire', async () => {
      const tokenUrl = await startOAuth();
      let requests = 0;
      oauth.service.on('beforeResponse', (response) => {
        requests++;
        // 31 s lifetime: Herald drops tokens 30 s before expiry, so this one is good for 1 s.
        (response.body as Record<string, unknown>).expires_in = 31;
      });
      let offset = 0;
      const h = await herald({}, () => Date.now() + offset);
      const r = await receiver();
      await h.api('POST', '/api/v2/endpoints', {
        url: r.url,
        event_types: ['asset.created'],
        auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: 's' },
      });
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await r.waitFor(1);
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await r.waitFor(2);
      expect(requests).toBe(1);
      offset = 2_000;
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      await r.waitFor(3);
      expect(requests).toBe(2);
    });

    it('records a token failure as an attempt with error kind oauth', async () => {
      const tokenUrl = await startOAuth();
      oauth.service.on('beforeResponse', (response) => {
        response.statusCode = 401;
        response.body = { error: 'invalid_client' };
      });
      const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
      const r = await receiver();
      const ep = await h.api('POST', '/api/v2/endpoints', {
        url: r.url,
        event_types: ['asset.created'],
        auth: { type: 'oauth2_client_credentials', token_url: tokenUrl, client_id: 'c', client_secret: 'wrong-secret' },
      });
      await h.api('POST', '/api/v2/events', { type: 'asset.created' });
      const [d] = await eventually(async () => {
        const list = await deliveries(h, ep.body.id, 'failed');
        return list.length ? list : undefined;
      });
      expect(d.attempt_log[0]).toMatchObject({ error_kind: 'oauth', status_code: null });
      expect(d.attempt_log[0].error_message).toMatch(/token endpoint answered 401 \(invalid_client\)/);
      expect(r.received).toHaveLength(0);
    });
  });
});

describe('limits', () => {
  it('reads at most 64 KiB of a huge response, logs its first 4 KiB, and still counts the 2xx', async () => {
    const h = await herald();
    const r = await receiver((_req, _i, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'y'.repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 160 && res.write(chunk)) sent++;
        if (sent < 160) res.once('drain', pump);
        else res.end();
      };
      res.on('error', () => {});
      pump();
    });
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'] });
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [d] = await eventually(async () => {
      const list = await deliveries(h, ep.body.id, 'succeeded');
      return list.length ? list : undefined;
    });
    expect(d.attempt_log[0].response_body).toHaveLength(4096);
  });

  it('times out an endpoint that does not answer within its timeout', async () => {
    const h = await herald({ HERALD_RETRY_SCHEDULE: '0' });
    const r = await receiver(() => {
      /* never answers */
    });
    const ep = await h.api('POST', '/api/v2/endpoints', { url: r.url, event_types: ['asset.created'], timeout_ms: 1000 });
    await h.api('POST', '/api/v2/events', { type: 'asset.created' });
    const [d] = await eventually(async () => {
      const list = await deliveries(h, ep.body.id, 'failed');
      return list.length ? list : undefined;
    });
    expect(d.attempt_log[0].error_kind).toBe('timeout');
  });
});
