import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Settlement } from '../../src/store/contract.js';
import { allSequences, arrivedInOrder, eventsOfResources, startReceiver, startTestHerald, tempDir, eventually, type Receiver } from '../helpers.js';
import { apiCall, freePort, spawnHerald, type HeraldProcess } from '../process.js';

let receiver: Receiver | undefined;
let proc: HeraldProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  proc?.child.kill('SIGKILL');
  await receiver?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Publishes batches until `count` events were accepted or the process dies; returns accepted ids. */
async function publishUntil(url: string, count: number, accepted: Set<string>, stopAt: number): Promise<void> {
  let i = accepted.size;
  while (accepted.size < Math.min(count, stopAt)) {
    const events = Array.from({ length: 20 }, () => ({ type: 'asset.created', resource: { type: 'asset', id: `a${i % 50}` }, data: { n: i++ } }));
    try {
      const res = await apiCall(url, 'POST', '/api/v2/events/batch', { events });
      if (res.status !== 202) continue;
      for (const out of res.body.data) accepted.add(out.id);
    } catch {
      return; // the process was killed: requests without a 202 were not accepted
    }
  }
}

// The sum of its phases' bounds (every accepted event delivered, 30 s) with room for starting Herald twice.
const KILL_AND_RESTART_MS = 50_000;
// The sum of its phases' bounds (20 delivered 10 s, every sequence 30 s) with room for starting Herald twice.
const SEQUENCES_ACROSS_KILL_MS = 60_000;

describe('crash safety', () => {
  it('delivers every accepted event after kill -9 and restart', async () => {
    dir = tempDir();
    // Slow answers keep deliveries in flight at the moment of the kill.
    receiver = await startReceiver((_r, _i, res) => void setTimeout(() => res.writeHead(200).end(), 5));
    const port = await freePort();
    const env = { HERALD_DATA_DIR: dir, HERALD_RETRY_SCHEDULE: '0,0.2,0.2,0.2', HERALD_LEASE_MS: '2000' };
    proc = await spawnHerald('serve', env, port);
    const ep = await apiCall(proc.url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'] });
    expect(ep.status).toBe(201);

    const accepted = new Set<string>();
    await publishUntil(proc.url, 2_000, accepted, 1_000);
    const killedAt = receiver.received.length;
    proc.child.kill('SIGKILL');
    await proc.exited;
    expect(killedAt).toBeLessThan(accepted.size); // the kill happened with work still queued

    proc = await spawnHerald('serve', env, port);
    await publishUntil(proc.url, 2_000, accepted, 2_000);
    const delivered = await eventually(() => {
      const ids = new Set(receiver!.received.map((r) => r.headers['webhook-id'] as string));
      return [...accepted].every((id) => ids.has(id)) ? ids : undefined;
    }, 30_000);
    expect(delivered.size).toBe(accepted.size);
    const duplicates = receiver.received.length - delivered.size;
    // Only deliveries in flight at the kill may arrive twice; a dispatcher has at most `concurrency` in flight.
    expect(duplicates).toBeLessThanOrEqual(256);
  }, KILL_AND_RESTART_MS);

  it('keeps each resource in sequence across kill -9 and restart: only what was in flight comes again, in its place', async () => {
    dir = tempDir();
    receiver = await startReceiver((_r, _i, res) => void setTimeout(() => res.writeHead(200).end(), 10));
    const port = await freePort();
    const env = { HERALD_DATA_DIR: dir, HERALD_LEASE_MS: '2000' };
    proc = await spawnHerald('serve', env, port);
    await apiCall(proc.url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.*'], ordering: 'per_resource' });
    expect((await apiCall(proc.url, 'POST', '/api/v2/events/batch', { events: eventsOfResources('a', 4, 25) })).status).toBe(202);
    await receiver.waitFor(20);
    proc.child.kill('SIGKILL');
    await proc.exited;
    expect(receiver.received.length).toBeLessThan(80); // killed mid-sequence

    proc = await spawnHerald('serve', env, port);
    const arrivals = await allSequences(receiver, 4, 25);
    for (const [id, seqs] of arrivals) expect(arrivedInOrder(seqs, 25), `${id}: ${seqs.join(',')}`).toBe(true);
  }, SEQUENCES_ACROSS_KILL_MS);

  it('finishes in-flight attempts on SIGTERM and exits cleanly', async () => {
    dir = tempDir();
    let answered = 0;
    receiver = await startReceiver((_r, _i, res) =>
      void setTimeout(() => {
        answered++;
        res.writeHead(200).end();
      }, 300),
    );
    proc = await spawnHerald('serve', { HERALD_DATA_DIR: dir });
    await apiCall(proc.url, 'POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['asset.created'] });
    await apiCall(proc.url, 'POST', '/api/v2/events/batch', { events: Array.from({ length: 10 }, () => ({ type: 'asset.created' })) });
    await receiver.waitFor(10);
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    expect(answered).toBe(10);
    // The attempts were settled before exit: a restart has nothing left to send.
    proc = await spawnHerald('serve', { HERALD_DATA_DIR: dir });
    const stats = await apiCall(proc.url, 'GET', '/api/v2/stats');
    expect(stats.body.deliveries).toMatchObject({ succeeded: 10, pending: 0, in_flight: 0 });
    expect(receiver.received).toHaveLength(10);
  });
});

describe("what a final failure owes, after a crash", () => {
  it('raises the events and disables the 410 endpoint when the process died before it could, each once', async () => {
    dir = tempDir();
    receiver = await startReceiver();
    // The process that failed the deliveries: its store writes the settlements as its dispatcher
    // would, and it stops before carrying out what they owe.
    const before = await startTestHerald({}, { dataDir: dir, worker: false });
    const dead = await before.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/dead', event_types: ['asset.*'] });
    const gone = await before.api('POST', '/api/v2/endpoints', { url: 'http://127.0.0.1:9/gone', event_types: ['asset.*'] });
    await before.api('POST', '/api/v2/endpoints', { url: receiver.url, event_types: ['message.attempt.exhausted', 'endpoint.disabled'] });
    await before.api('POST', '/api/v2/events/batch', { events: [{ type: 'asset.created' }, { type: 'asset.deleted' }] });
    const { store } = before.herald.context;
    const now = Date.now();
    const claimed = await store.claim({ owner: 'crashed', limit: 10, leaseMs: 60_000, now, excludeEndpoints: [], perEndpointLimit: 10 });
    expect(claimed).toHaveLength(4);
    const settlements = claimed.map((d): Settlement => {
      const status = d.endpointId === gone.body.id ? 410 : 500;
      const attempt = { attemptNo: 1, startedAt: now, durationMs: 5, statusCode: status, errorKind: 'http_status' as const, errorMessage: `endpoint answered ${status}`, requestHeaders: {}, responseBody: null };
      return { deliveryId: d.id, owner: 'crashed', claimNo: d.claimNo, endpointId: d.endpointId, accountId: d.accountId, attempt, outcome: 'failed', notice: status === 410 ? 'gone' : 'exhausted' };
    });
    await store.settle(settlements, now);
    await before.close();

    const after = await startTestHerald({}, { dataDir: dir });
    try {
      // Two exhausted deliveries, and one disabling for the two that met the same 410.
      await receiver.waitFor(3);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const raised = receiver.received.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });
      expect(raised.map((e) => e.type).sort()).toEqual(['endpoint.disabled', 'message.attempt.exhausted', 'message.attempt.exhausted']);
      expect(raised.filter((e) => e.type === 'message.attempt.exhausted').map((e) => e.data)).toEqual([
        expect.objectContaining({ endpoint_id: dead.body.id, attempts: 1, last_status_code: 500, last_error_kind: 'http_status' }),
        expect.objectContaining({ endpoint_id: dead.body.id, attempts: 1, last_status_code: 500, last_error_kind: 'http_status' }),
      ]);
      const endpoint = await after.api('GET', `/api/v2/endpoints/${gone.body.id}`);
      expect(endpoint.body).toMatchObject({ disabled: true, disabled_reason: 'endpoint answered 410 Gone' });
      expect(await after.herald.context.store.pendingNotices(10)).toEqual([]);
    } finally {
      await after.close();
    }
  });
});
