#!/usr/bin/env node
// node bench/store-cost.mjs [--events N] [--claim N] [--repeat-resources] [--handoff] [--stats] [--reserve]
//
// What the embedded SQLite store costs on its own, without HTTP: the built store (dist/, run
// `npm run build` first) on a temporary file, driven directly. Whole bench runs move by up to 2×
// with the machine; this CPU time moves by a few per cent, so a change to the store is measured
// here first, alternating with the previous build (`ROOT=/path/to/other/checkout`).
//
// Default mode: N events (default 40,000) to one endpoint, ingested in batches of 500, then
// claimed 256 at a time (--claim N: N at a time) and settled as succeeded, in the same batches.
// Prints the store's CPU per delivery for each phase (process.cpuUsage, user + system).
//
// --handoff: the deliveries are created leased to the dispatcher by the ingest itself (as when
// the dispatcher of the same process has room, see Dispatcher.offer): no claim, then settled.
//
// --reserve: 5,000 rate-limit reservations (reserveRate, as the dispatcher makes one per attempt
// to a rate-limited endpoint), twice; prints wall and CPU time per reservation. The store runs at
// its default `synchronous: 'full'` here, as `herald serve` does.
//
// --stats: a million synthetic deliveries (3 % pending, 1 % failed, the rest succeeded) over
// three accounts and ten endpoints; prints how long stats() and queueDepth() take per scope.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { events: { type: 'string' }, 'repeat-resources': { type: 'boolean' }, handoff: { type: 'boolean' }, claim: { type: 'string' }, stats: { type: 'boolean' }, reserve: { type: 'boolean' } } });
const claimSize = Number(values.claim ?? 256);
if (!Number.isInteger(claimSize) || claimSize < 1) throw new Error(`--claim must be a whole number ≥ 1, not ${values.claim}`);
const root = process.env.ROOT ?? path.resolve(import.meta.dirname, '..');
const { SqliteStore } = await import(path.join(root, 'dist/store/sqlite/sqlite-store.js'));
const { SecretBox } = await import(path.join(root, 'dist/signing/secretbox.js'));
const { newId } = await import(path.join(root, 'dist/domain/ids.js'));

const dir = mkdtempSync(path.join(tmpdir(), 'herald-store-cost-'));
const store = new SqliteStore({ file: path.join(dir, 'herald.db'), sealer: new SecretBox(randomBytes(32)), synchronous: values.reserve ? 'full' : 'normal' });
try {
  await store.migrate();
  if (values.stats) await statsCost();
  else if (values.reserve) await reserveCost();
  else await deliveryCost(Math.min(1_000_000, Math.max(500, Number(values.events ?? 40_000))));
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function deliveryCost(events) {
  const account = await store.createAccount({ name: 'cost' });
  const now0 = Date.now();
  const endpoint = {
    id: newId('ep'), accountId: account.id, profile: 'standard', url: 'http://127.0.0.1:9/', method: 'POST', description: '',
    eventTypes: ['asset.created'], projectIds: [], userIds: [], secret: `whsec_${randomBytes(24).toString('base64')}`,
    previousSecret: null, previousSecretExpiresAt: null, headers: [], auth: { type: 'none' }, rateLimitPerSecond: null,
    timeoutMs: 10_000, ordering: 'none', disabled: false, disabledReason: null, failingSince: null, profileData: {}, createdAt: now0, updatedAt: now0,
  };
  await store.createEndpoint(endpoint);
  const tail = JSON.stringify({ actor: { id: 'user-42', first_name: 'Ada', last_name: 'Bench' }, data: { filename: 'IMG_1.jpg', mime_type: 'image/jpeg', size: 2_483_122, folder: '/campaigns/2025/spring' } }).slice(1);
  const cpu = { ingest: 0, claim: 0, settle: 0 };
  const leased = [];
  const lease = values.handoff ? { owner: 'cost', until: Date.now() + 60_000 } : undefined;
  for (let i = 0; i < events; i += 500) {
    const items = [];
    for (let j = i; j < Math.min(events, i + 500); j++) {
      const messageId = newId('msg');
      const resource = { type: 'asset', id: `asset-${values['repeat-resources'] ? j % 100 : j}` };
      items.push({ accountId: account.id, messageId, event: { type: 'asset.created', idempotencyKey: `k-${j}`, resource }, endpoints: [{ id: endpoint.id, ordered: false, leased: lease !== undefined }], body: { head: `{"id":"${messageId}","type":"asset.created"`, tail } });
    }
    const t = cpuMicros();
    const out = await store.ingest(items, Date.now(), lease);
    cpu.ingest += cpuMicros() - t;
    // Handed over deliveries are settled as they come, as a dispatcher would: kept until the
    // end, their objects would cost the ingest phase garbage collections a dispatcher never has.
    for (const o of out) for (const d of o.leased ?? []) leased.push(d);
    while (leased.length > 0) await settle(leased.splice(0, 256));
  }
  for (let done = lease ? events : 0; done < events; ) {
    const t = cpuMicros();
    const claimed = await store.claim({ owner: 'cost', limit: claimSize, perEndpointLimit: claimSize, leaseMs: 30_000, now: Date.now() + 1_000, excludeEndpoints: [] });
    cpu.claim += cpuMicros() - t;
    if (claimed.length === 0) throw new Error(`only ${done} of ${events} deliveries could be claimed`);
    await settle(claimed);
    done += claimed.length;
  }

  async function settle(deliveries) {
    const now = Date.now();
    const t = cpuMicros();
    await store.settle(
      deliveries.map((d) => ({
        deliveryId: d.id, owner: 'cost', claimNo: d.claimNo, endpointId: d.endpointId, accountId: d.accountId, outcome: 'succeeded',
        attempt: { attemptNo: 1, startedAt: now, durationMs: 2, statusCode: 200, errorKind: null, errorMessage: null, requestHeaders: { 'webhook-id': d.eventId }, responseBody: null },
      })),
      now,
    );
    cpu.settle += cpuMicros() - t;
  }
  const per = (us) => `${(us / events).toFixed(1)} µs`;
  console.log(`${events.toLocaleString('en')} deliveries, store CPU per delivery: ingest ${per(cpu.ingest)} · claim ${per(cpu.claim)} · settle ${per(cpu.settle)} · total ${per(cpu.ingest + cpu.claim + cpu.settle)}`);
}

async function reserveCost() {
  for (let round = 0; round < 2; round++) {
    const started = performance.now();
    const cpu = cpuMicros();
    for (let i = 0; i < 5_000; i++) await store.reserveRate([{ key: 'endpoint:cost', rate: 1_000_000 }], Date.now());
    console.log(`reserveRate: ${(((performance.now() - started) * 1000) / 5_000).toFixed(1)} µs wall, ${((cpuMicros() - cpu) / 5_000).toFixed(1)} µs CPU per reservation`);
  }
}

async function statsCost() {
  const db = store['db'];
  db.pragma('foreign_keys = OFF');
  db.exec(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 9)
    INSERT INTO endpoints (id, account_id, profile, url, method, description, event_types, project_ids, user_ids, secret, headers, auth, timeout_ms, ordering, disabled, profile_data, created_at, updated_at)
    SELECT 'ep_' || i, 'acc_' || (i % 3), 'standard', 'http://127.0.0.1:9/', 'POST', '', '[]', '[]', '[]', 's', '[]', '{}', 1000, 'none', 0, '{}', 0, 0 FROM c`);
  db.exec(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000000)
    INSERT INTO deliveries (id, account_id, event_id, endpoint_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT printf('dlv_%026d', i), 'acc_' || (i % 10 % 3), 'msg_' || i, 'ep_' || (i % 10), 'asset.created',
           CASE WHEN i % 100 < 3 THEN 'pending' WHEN i % 97 = 0 THEN 'failed' ELSE 'succeeded' END, i % 2, i, i, i FROM c`);
  for (const [account, endpointId] of [[undefined, undefined], ['acc_1', undefined], ['acc_1', 'ep_1']]) {
    const t0 = performance.now();
    const stats = await store.stats(account, endpointId);
    const t1 = performance.now();
    // Builds before queueDepth() existed have only stats().
    await store.queueDepth?.(account, endpointId);
    const t2 = performance.now();
    const depth = store.queueDepth ? `, queueDepth ${(t2 - t1).toFixed(1)} ms` : '';
    console.log(`${account ?? 'whole store'}${endpointId ? ` / ${endpointId}` : ''}: stats ${(t1 - t0).toFixed(1)} ms${depth} (${JSON.stringify(stats)})`);
  }
}
