// What the admin UI reads and does through the public API, against a real Herald and real
// receivers: the account-wide delivery log and its filters, endpoint health, per-minute
// activity, recover's dry run, test sends and revealing the signing secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/signing/verify.js';
import { ADMIN_KEY, eventually, startReceiver, startTestHerald, type Receiver, type TestHerald } from '../helpers.js';

interface Delivery {
  id: string;
  endpoint_id: string;
  event_type: string;
  status: string;
  created_at: string;
  attempt_log: { status_code: number | null }[];
}

interface Minute {
  at: string;
  succeeded: number;
  retried: number;
  failed: number;
  latency_avg_ms: number | null;
  latency_max_ms: number | null;
}

const sum = (rows: readonly Minute[], key: 'succeeded' | 'retried' | 'failed') => rows.reduce((n, r) => n + r[key], 0);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('one endpoint answering 200, one answering 500 until its retries run out', () => {
  let h: TestHerald;
  let ok: Receiver;
  let bad: Receiver;
  let okId: string;
  let badId: string;
  let between: string;

  beforeAll(async () => {
    // Three attempts: two retried failures, then the final one.
    h = await startTestHerald({ HERALD_RETRY_SCHEDULE: '0,0.05,0.05' });
    ok = await startReceiver();
    bad = await startReceiver((_req, _i, res) => void res.writeHead(500).end('down'));
    okId = (await h.api('POST', '/api/v2/endpoints', { url: ok.url, event_types: ['asset.*'] })).body.id;
    badId = (await h.api('POST', '/api/v2/endpoints', { url: bad.url, event_types: ['asset.*'] })).body.id;
    await h.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 'a1' } });
    await h.api('POST', '/api/v2/events', { type: 'asset.created', resource: { type: 'asset', id: 'a2' } });
    await pause(20);
    between = new Date().toISOString();
    await pause(20);
    await h.api('POST', '/api/v2/events', { type: 'asset.deleted', resource: { type: 'asset', id: 'a1' } });
    await ok.waitFor(3);
    await bad.waitFor(9);
    await eventually(async () => ((await h.api('GET', `/api/v2/deliveries?endpoint_id=${badId}&status=failed`)).body.data.length === 3 ? true : undefined));
  });
  afterAll(async () => {
    await h.close();
    await ok.close();
    await bad.close();
  });

  it('lists every endpoint\'s deliveries newest first, each with its event type and attempt log, with cursor paging', async () => {
    const all = await h.api('GET', '/api/v2/deliveries');
    expect(all.status).toBe(200);
    const data = all.body.data as Delivery[];
    expect(data).toHaveLength(6);
    expect(all.body.next_cursor).toBeNull();
    expect(data.map((d) => d.id)).toEqual(data.map((d) => d.id).sort().reverse());
    expect(data.map((d) => d.event_type).sort()).toEqual(['asset.created', 'asset.created', 'asset.created', 'asset.created', 'asset.deleted', 'asset.deleted']);
    const badLog = data.find((d) => d.endpoint_id === badId)!;
    expect(badLog.attempt_log.map((a) => a.status_code)).toEqual([500, 500, 500]);
    expect((await h.api('GET', `/api/v2/deliveries/${badLog.id}`)).body).toMatchObject({ id: badLog.id, event_type: badLog.event_type });

    const first = await h.api('GET', '/api/v2/deliveries?limit=4');
    const second = await h.api('GET', `/api/v2/deliveries?limit=4&cursor=${first.body.next_cursor}`);
    expect([...first.body.data, ...second.body.data].map((d: Delivery) => d.id)).toEqual(data.map((d) => d.id));
    expect(second.body.next_cursor).toBeNull();
  });

  it('filters by endpoint, event type, status and creation time, alone and combined, on both logs', async () => {
    const ids = async (query: string) => ((await h.api('GET', query)).body.data as Delivery[]).map((d) => `${d.endpoint_id === okId ? 'ok' : 'bad'} ${d.event_type} ${d.status}`);
    expect(await ids(`/api/v2/deliveries?endpoint_id=${badId}`)).toEqual(['bad asset.deleted failed', 'bad asset.created failed', 'bad asset.created failed']);
    expect(await ids('/api/v2/deliveries?event_type=asset.deleted')).toEqual(expect.arrayContaining(['ok asset.deleted succeeded', 'bad asset.deleted failed']));
    expect(await ids('/api/v2/deliveries?event_type=ASSET_REMOVED')).toHaveLength(2);
    expect(await ids('/api/v2/deliveries?status=succeeded')).toHaveLength(3);
    expect(await ids(`/api/v2/deliveries?since=${between}`)).toHaveLength(2);
    expect(await ids(`/api/v2/deliveries?until=${between}`)).toHaveLength(4);
    expect(await ids(`/api/v2/deliveries?until=${between}&status=failed&event_type=asset.created&endpoint_id=${badId}`)).toEqual(['bad asset.created failed', 'bad asset.created failed']);
    expect(await ids(`/api/v2/endpoints/${okId}/deliveries?event_type=asset.created&until=${between}`)).toEqual(['ok asset.created succeeded', 'ok asset.created succeeded']);
    expect(await ids(`/api/v2/endpoints/${okId}/deliveries?since=${between}`)).toEqual(['ok asset.deleted succeeded']);
    expect(await ids('/api/v2/deliveries?event_type=collection.created')).toEqual([]);
    // Wildcards, as in an endpoint's filter.
    expect(await ids('/api/v2/deliveries?event_type=asset.*')).toHaveLength(6);
    expect(await ids(`/api/v2/deliveries?event_type=*&endpoint_id=${badId}`)).toHaveLength(3);
    expect(await ids('/api/v2/deliveries?event_type=collection.*')).toEqual([]);
  });

  it('answers 400 naming the field for bad filters, and 404 for an unknown endpoint', async () => {
    for (const [query, field] of [
      ['status=done', 'status'],
      ['since=yesterday', 'since'],
      ['until=2026-13-01T00:00:00Z', 'until'],
      ['limit=0', 'limit'],
      ['limit=251', 'limit'],
      // Names no event type could have: any lower-case dotted name may be a custom type's,
      // deleted or not, and selects what was logged under it.
      ['event_type=Asset.Exploded', 'event_type'],
      ['event_type=nope*', 'event_type'],
    ]) {
      const res = await h.api('GET', `/api/v2/deliveries?${query}`);
      expect([res.status, res.body.field]).toEqual([400, field]);
    }
    expect((await h.api('GET', '/api/v2/deliveries?endpoint_id=ep_unknown')).status).toBe(404);
  });

  it('activity: one entry per minute, oldest first, with the attempts of each outcome', async () => {
    const res = await h.api('GET', '/api/v2/stats/activity?hours=1');
    expect(res.status).toBe(200);
    const { from, to, bucket_seconds: bucket, data } = res.body as { from: string; to: string; bucket_seconds: number; data: Minute[] };
    expect(bucket).toBe(60);
    expect(data).toHaveLength(60);
    expect(data[0].at).toBe(from);
    expect(Date.parse(to) - Date.parse(data[59].at)).toBe(60_000);
    expect(data.every((m, i) => i === 0 || Date.parse(m.at) - Date.parse(data[i - 1].at) === 60_000)).toBe(true);
    expect(Date.parse(data[59].at)).toBe(Math.floor(Date.now() / 60_000) * 60_000);
    // 3 successes on ok; on bad 3 deliveries x (2 retried + 1 final failure).
    expect([sum(data, 'succeeded'), sum(data, 'retried'), sum(data, 'failed')]).toEqual([3, 6, 3]);
    const busy = data.filter((m) => m.succeeded + m.retried + m.failed > 0);
    expect(busy.every((m) => m.latency_avg_ms !== null && m.latency_max_ms! >= m.latency_avg_ms)).toBe(true);
    expect(data.filter((m) => m.succeeded + m.retried + m.failed === 0).every((m) => m.latency_avg_ms === null && m.latency_max_ms === null)).toBe(true);

    const badOnly = (await h.api('GET', `/api/v2/stats/activity?hours=2&endpoint_id=${badId}`)).body.data as Minute[];
    expect(badOnly).toHaveLength(120);
    expect([sum(badOnly, 'succeeded'), sum(badOnly, 'retried'), sum(badOnly, 'failed')]).toEqual([0, 6, 3]);
    expect((await h.api('GET', '/api/v2/stats/activity')).body.data).toHaveLength(360);
    const tooLong = await h.api('GET', '/api/v2/stats/activity?hours=25');
    expect([tooLong.status, tooLong.body.field]).toEqual([400, 'hours']);
    expect((await h.api('GET', '/api/v2/stats/activity?endpoint_id=ep_unknown')).status).toBe(404);
  });

  it('endpoint stats: attempts by outcome, success rate, last attempt and latency; the batch form for a list page', async () => {
    const good = await h.api('GET', `/api/v2/endpoints/${okId}/stats`);
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({
      endpoint_id: okId,
      window_hours: 24,
      queue: { pending: 0, retrying: 0, in_flight: 0 },
      attempts: { succeeded: 3, retried: 0, failed: 0 },
      success_rate: 1,
      latency_ms: { avg: expect.any(Number), max: expect.any(Number) },
    });
    expect(Date.now() - Date.parse(good.body.last_attempt_at)).toBeLessThan(60_000);
    const failing = await h.api('GET', `/api/v2/endpoints/${badId}/stats?hours=1`);
    expect(failing.body).toMatchObject({ window_hours: 1, attempts: { succeeded: 0, retried: 6, failed: 3 }, success_rate: 0 });

    const batch = await h.api('GET', `/api/v2/stats/endpoints?ids=${okId},ep_unknown,${badId}&hours=2`);
    expect(batch.status).toBe(200);
    const byId = new Map((batch.body.data as { endpoint_id: string }[]).map((s) => [s.endpoint_id, s]));
    expect([...byId.keys()].sort()).toEqual([okId, badId].sort());
    expect(byId.get(badId)).toEqual({ ...failing.body, window_hours: 2 });

    for (const [query, field] of [
      ['ids=', 'ids'],
      [`ids=${Array.from({ length: 101 }, (_, i) => `ep_${i}`).join(',')}`, 'ids'],
      [`ids=${okId}&hours=169`, 'hours'],
      ['hours=2', 'ids'],
    ]) {
      const res = await h.api('GET', `/api/v2/stats/endpoints?${query}`);
      expect([res.status, res.body.field]).toEqual([400, field]);
    }
    expect((await h.api('GET', `/api/v2/endpoints/${okId}/stats?hours=0`)).body.field).toBe('hours');
    expect((await h.api('GET', '/api/v2/endpoints/ep_unknown/stats')).status).toBe(404);
  });

  it('recover dry run counts what the real recover then re-queues, changing nothing', async () => {
    const since = '2000-01-01T00:00:00Z';
    const dry = await h.api('POST', `/api/v2/endpoints/${badId}/recover`, { since, dry_run: true });
    expect(dry).toMatchObject({ status: 200, body: { would_requeue: 3 } });
    expect((await h.api('POST', `/api/v2/endpoints/${badId}/recover`, { since: between, dry_run: true })).body).toMatchObject({ would_requeue: 1 });
    await pause(100);
    expect(bad.received).toHaveLength(9);
    expect((await h.api('GET', `/api/v2/deliveries?endpoint_id=${badId}&status=failed`)).body.data).toHaveLength(3);

    const real = await h.api('POST', `/api/v2/endpoints/${badId}/recover`, { since });
    expect(real).toMatchObject({ status: 202, body: { requeued: dry.body.would_requeue } });
    await bad.waitFor(12);
    expect((await h.api('POST', `/api/v2/endpoints/${badId}/recover`, { since, dry_run: false })).status).toBe(202);
  });
});

describe('an endpoint whose receiver is down', () => {
  it('shows its retries waiting in the queue, failed attempts and no success rate above 0', async () => {
    const h = await startTestHerald({ HERALD_RETRY_SCHEDULE: '0,3600' });
    try {
      const gone = await startReceiver();
      const url = gone.url;
      await gone.close();
      const id = (await h.api('POST', '/api/v2/endpoints', { url, event_types: ['asset.created'] })).body.id as string;
      const fresh = await h.api('GET', `/api/v2/endpoints/${id}/stats`);
      expect(fresh.body).toEqual({
        endpoint_id: id,
        window_hours: 24,
        queue: { pending: 0, retrying: 0, in_flight: 0 },
        attempts: { succeeded: 0, retried: 0, failed: 0 },
        success_rate: null,
        last_attempt_at: null,
        latency_ms: null,
      });
      await h.api('POST', '/api/v2/events/batch', { events: [{ type: 'asset.created' }, { type: 'asset.created' }] });
      const stats = await eventually(async () => {
        const res = await h.api('GET', `/api/v2/endpoints/${id}/stats`);
        return res.body.queue.retrying === 2 ? res.body : undefined;
      });
      expect(stats).toMatchObject({ queue: { pending: 0, retrying: 2, in_flight: 0 }, attempts: { succeeded: 0, retried: 2, failed: 0 }, success_rate: 0 });
      expect(stats.last_attempt_at).not.toBeNull();
      expect((await h.api('GET', `/api/v2/deliveries?endpoint_id=${id}`)).body.data.map((d: Delivery) => d.status)).toEqual(['pending', 'pending']);
    } finally {
      await h.close();
    }
  });
});

describe('test sends and the signing secret', () => {
  let h: TestHerald;
  let target: Receiver;
  let bystander: Receiver;
  let targetId: string;
  let createdSecret: string;

  beforeAll(async () => {
    h = await startTestHerald();
    target = await startReceiver();
    bystander = await startReceiver();
    const created = await h.api('POST', '/api/v2/endpoints', { url: target.url, event_types: ['collection.created'] });
    targetId = created.body.id;
    createdSecret = created.body.secret;
    await h.api('POST', '/api/v2/endpoints', { url: bystander.url, event_types: ['*'] });
  });
  afterAll(async () => {
    await h.close();
    await target.close();
    await bystander.close();
  });

  // The sum of its phases' bounds (four test events received, 10 s each, the first logged 10 s, the bystander's pause 0.2 s).
  const TEST_SENDS_MS = 60_000;

  it('delivers a test event to that endpoint only, whatever its filter, logged like any delivery', async () => {
    const sent = await h.api('POST', `/api/v2/endpoints/${targetId}/test`);
    expect(sent.status).toBe(202);
    expect(sent.body).toEqual({ message_id: expect.stringMatching(/^msg_/), delivery_id: expect.stringMatching(/^dlv_/) });
    const [got] = await target.waitFor(1);
    expect(got.headers['webhook-id']).toBe(sent.body.message_id);
    expect(JSON.parse(got.body)).toMatchObject({ id: sent.body.message_id, type: 'asset.created' });
    const delivery = await eventually(async () => {
      const res = await h.api('GET', `/api/v2/deliveries/${sent.body.delivery_id}`);
      return res.body.status === 'succeeded' ? res.body : undefined;
    });
    expect(delivery).toMatchObject({ endpoint_id: targetId, event_type: 'asset.created', attempts: 1 });

    const custom = await h.api('POST', `/api/v2/endpoints/${targetId}/test`, { event_type: 'asset.deleted', data: { filename: 'logo.png' } });
    expect(custom.status).toBe(202);
    const [, second] = await target.waitFor(2);
    expect(JSON.parse(second.body)).toMatchObject({ type: 'asset.deleted', data: { filename: 'logo.png' } });
    // The test resource is of the kind the type is about, as a publisher would send it.
    for (const [n, type, subject] of [[3, 'rm.project.created', 'project'], [4, 'asset.renditions.created', 'asset']] as const) {
      expect((await h.api('POST', `/api/v2/endpoints/${targetId}/test`, { event_type: type })).status).toBe(202);
      const got = (await target.waitFor(n))[n - 1];
      expect(JSON.parse(got.body)).toMatchObject({ type, resource: { type: subject, id: 'herald-test' } });
    }
    await pause(200);
    expect(bystander.received).toHaveLength(0);
    expect(target.received).toHaveLength(4);
  }, TEST_SENDS_MS);

  it('refuses an unknown type (422 naming event_type), data past the event limits (400, 413), a disabled endpoint (409) and non-admin keys (403)', async () => {
    const unknown = await h.api('POST', `/api/v2/endpoints/${targetId}/test`, { event_type: 'asset.exploded' });
    expect([unknown.status, unknown.body.field]).toEqual([422, 'event_type']);
    const extra = await h.api('POST', `/api/v2/endpoints/${targetId}/test`, { event_type: 'asset.created', resource: {} });
    expect([extra.status, extra.body.field]).toEqual([400, 'resource']);
    // The limits of every published event: 64 levels of nesting and 256 KiB.
    // Sent as text: the test's own JSON.stringify would overflow its stack on the deeper one.
    for (const depth of [100, 5_000]) {
      const res = await fetch(`${h.url}/api/v2/endpoints/${targetId}/test`, {
        method: 'POST',
        headers: { 'x-api-key': ADMIN_KEY, 'content-type': 'application/json' },
        body: `{"data":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      });
      expect([res.status, (await res.json()).field], `depth ${depth}`).toEqual([400, 'data']);
    }
    const large = await h.api('POST', `/api/v2/endpoints/${targetId}/test`, { data: { blob: 'x'.repeat(300 * 1024) } });
    expect([large.status, large.body.error]).toEqual([413, 'event_too_large']);
    const off = await h.api('POST', '/api/v2/endpoints', { url: target.url, event_types: ['asset.created'], disabled: true });
    expect((await h.api('POST', `/api/v2/endpoints/${off.body.id}/test`, {})).status).toBe(409);
    const viewer = (await h.api('POST', '/api/v2/api-keys', { name: 'viewer', role: 'viewer' })).body.key as string;
    expect((await h.api('POST', `/api/v2/endpoints/${targetId}/test`, {}, viewer)).status).toBe(403);
    expect((await h.api('GET', `/api/v2/endpoints/${targetId}/secret`, undefined, viewer)).status).toBe(403);
    expect((await h.api('POST', '/api/v2/endpoints/ep_unknown/test', {})).status).toBe(404);
  });

  it('reveals the secret that signs real deliveries, and the rotated-out one\'s expiry', async () => {
    const revealed = await h.api('GET', `/api/v2/endpoints/${targetId}/secret`);
    expect(revealed.status).toBe(200);
    expect(revealed.headers.get('cache-control')).toBe('no-store');
    expect(revealed.body).toEqual({ secret: createdSecret, previous_secret_expires_at: null });
    const before = target.received.length;
    await h.api('POST', `/api/v2/endpoints/${targetId}/test`);
    const delivered = (await target.waitFor(before + 1))[before];
    expect(verify({ headers: delivered.headers, body: delivered.body, secret: revealed.body.secret }).id).toBe(delivered.headers['webhook-id']);

    const rotated = await h.api('POST', `/api/v2/endpoints/${targetId}/secret/rotate`);
    const after = await h.api('GET', `/api/v2/endpoints/${targetId}/secret`);
    expect(after.body).toEqual({ secret: rotated.body.secret, previous_secret_expires_at: rotated.body.previous_secret_expires_at });
    expect(JSON.stringify((await h.api('GET', `/api/v2/endpoints/${targetId}`)).body)).not.toContain(rotated.body.secret);
    expect((await h.api('GET', '/api/v2/endpoints/ep_unknown/secret')).status).toBe(404);
  });
});
