// Recovers (replay many) run as operations of their own (the store's Recovery). A request records
// one and works it off here, a chunk per transaction, answering with how far it got once it is
// done or ANSWER_WITHIN_MS have passed, whichever comes first; the rest goes on after the
// answer, and GET .../recoveries/:id tells how far it is. Whoever runs one renews its lease every
// chunk; one whose process stopped is taken over where it stopped by a worker's jobs
// (resumeOne). A repeat of the request (its Idempotency-Key, or the same request while it runs)
// is answered with the recovery it repeats, so a client retrying after a timeout re-queues
// nothing twice.
import { setImmediate as yieldNow, setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { newId } from '../domain/ids.js';
import type { FixedRecoverScope, Recovery, Store } from '../store/contract.js';

/** Deliveries per chunk: one short transaction each, so publishing and delivery go on between. */
const CHUNK = 2_000;
/** A runner that has not renewed its lease this long is taken to have stopped. */
export const RECOVERY_LEASE_MS = 30_000;
/** How long a request waits for its recovery before answering with its progress. */
const ANSWER_WITHIN_MS = 2_000;
/** Bounds a runner's loop: 2,000 chunks of 2,000 is more than any store here holds. */
const MAX_CHUNKS = 1_000_000;

export interface RecoveryRequest {
  readonly accountId: string;
  readonly endpointId: string;
  readonly idempotencyKey: string | null;
  /** The request as asked, for recognising a repeat of it (see Recovery.request). */
  readonly request: string;
  readonly scope: FixedRecoverScope;
}

export interface Recoveries {
  /**
   * Begins a recovery, or finds the one the request repeats (`created` false), and answers with
   * it as it stands once done or after the answer wait.
   */
  begin(request: RecoveryRequest): Promise<{ recovery: Recovery; created: boolean }>;
  /** Takes over one recovery whose runner stopped and works it off; whether there was one. */
  resumeOne(): Promise<boolean>;
  /**
   * Runners stop after their current chunk (resolves then); their leases run out and a later
   * process resumes them.
   */
  stop(): Promise<void>;
}

export interface RecoveriesOptions {
  readonly store: Store;
  readonly clock: () => number;
  readonly logger: Logger;
  /** Wakes this process's dispatcher after a chunk re-queued something. */
  readonly notify?: () => void;
  readonly answerWithinMs?: number;
  readonly chunk?: number;
  /**
   * A pause between chunks instead of a bare yield: tests stand it in for the time a chunk of
   * 2,000 takes, so that a small recover is still running when its request answers.
   */
  readonly chunkPauseMs?: number;
}

export function createRecoveries(o: RecoveriesOptions): Recoveries {
  const owner = newId('run');
  const chunk = o.chunk ?? CHUNK;
  let stopped = false;
  const active = new Set<Promise<Recovery>>();
  const lease = () => ({ owner, until: o.clock() + RECOVERY_LEASE_MS });

  /** Works the recovery off while this process holds it; its last state. Never rejects. */
  function run(recovery: Recovery): Promise<Recovery> {
    const work = chunks(recovery);
    active.add(work);
    void work.finally(() => active.delete(work));
    return work;
  }

  async function chunks(recovery: Recovery): Promise<Recovery> {
    let current = recovery;
    try {
      for (let i = 0; i < MAX_CHUNKS && current.status === 'running' && !stopped; i++) {
        const next = await o.store.advanceRecovery(current.id, lease(), chunk, o.clock());
        // Taken over by another runner (this one stalled past its lease).
        if (!next) break;
        if (next.requeued > current.requeued) o.notify?.();
        current = next;
        await (o.chunkPauseMs ? sleep(o.chunkPauseMs) : yieldNow());
      }
    } catch (err) {
      // Its lease runs out and a worker resumes it where the last chunk left it.
      o.logger.error({ err, recovery: current.id }, 'a recover stopped; it resumes once its lease runs out');
    }
    if (current.status === 'done') o.logger.info({ recovery: current.id, endpoint: current.endpointId, requeued: current.requeued }, 'recover done');
    return current;
  }

  async function begin(r: RecoveryRequest): Promise<{ recovery: Recovery; created: boolean }> {
    // A repeat is answered before counting: the count is the costly part of beginning.
    const repeated = await o.store.findRecovery(r.accountId, r.endpointId, r.idempotencyKey, r.request);
    if (repeated) return { recovery: repeated, created: false };
    const total = await o.store.countRecoverable(r.accountId, r.endpointId, r.scope);
    const begun = await o.store.beginRecovery({ ...r, id: newId('rcv'), total, lease: lease() }, o.clock());
    if (!begun.created) return begun;
    const work = run(begun.recovery);
    const answer = await Promise.race([work, sleep(o.answerWithinMs ?? ANSWER_WITHIN_MS, undefined, { ref: false })]);
    const recovery = answer ?? (await o.store.getRecovery(r.accountId, r.endpointId, begun.recovery.id)) ?? begun.recovery;
    return { recovery, created: true };
  }

  return {
    begin,
    async resumeOne() {
      if (stopped) return false;
      const orphan = await o.store.claimRecovery(lease(), o.clock());
      if (!orphan) return false;
      o.logger.warn({ recovery: orphan.id, requeued: orphan.requeued, total: orphan.total }, 'resuming a recover whose runner stopped');
      await run(orphan);
      return true;
    },
    async stop() {
      stopped = true;
      await Promise.all(active);
    },
  };
}
