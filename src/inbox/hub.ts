// Live fan-out of captured requests to the streams (SSE) open in this process.
//
// Within one process a capture is published here directly. Across processes (PostgreSQL, several
// `herald api`), every capture is also announced with NOTIFY on the inbox channel; a process with
// streams open for that inbox fetches the request and publishes it here. A request reaches each
// subscriber once: ids already published are remembered (bounded), so the local publish and the
// notification of the same capture do not both go out.
import type { InboxRequest } from './types.js';

export interface InboxSubscriber {
  /** A new capture of the inbox. */
  request(r: InboxRequest): void;
  /** The stream must end (the inbox was deleted, or the server is stopping). */
  close(reason: 'deleted' | 'shutdown'): void;
}

const REMEMBERED_IDS = 10_000;

export class InboxHub {
  private readonly subscribers = new Map<string, Set<InboxSubscriber>>();
  private readonly published = new Set<string>();
  /** Newest request id published per inbox with subscribers: where a catch-up resumes. */
  private readonly lastId = new Map<string, string>();

  subscribe(inboxId: string, subscriber: InboxSubscriber): () => void {
    let set = this.subscribers.get(inboxId);
    if (!set) {
      set = new Set();
      this.subscribers.set(inboxId, set);
    }
    set.add(subscriber);
    return () => {
      const current = this.subscribers.get(inboxId);
      if (!current) return;
      current.delete(subscriber);
      if (current.size === 0) {
        this.subscribers.delete(inboxId);
        this.lastId.delete(inboxId);
      }
    };
  }

  has(inboxId: string): boolean {
    return this.subscribers.has(inboxId);
  }

  /** Inboxes with subscribers and the newest id each has seen (for catch-up after a gap). */
  watched(): [inboxId: string, lastId: string | undefined][] {
    return [...this.subscribers.keys()].map((id) => [id, this.lastId.get(id)]);
  }

  seen(requestId: string): boolean {
    return this.published.has(requestId);
  }

  /** Sends a capture to the inbox's subscribers, once per request id. */
  publish(r: InboxRequest): void {
    if (this.published.has(r.id)) return;
    this.published.add(r.id);
    if (this.published.size > REMEMBERED_IDS) {
      // Sets iterate in insertion order: drop the oldest.
      const oldest = this.published.values().next().value;
      if (oldest !== undefined) this.published.delete(oldest);
    }
    const set = this.subscribers.get(r.inboxId);
    if (!set) return;
    const last = this.lastId.get(r.inboxId);
    if (last === undefined || r.id > last) this.lastId.set(r.inboxId, r.id);
    for (const s of [...set]) {
      try {
        s.request(r);
      } catch {
        // One broken stream never keeps a capture from the others.
      }
    }
  }

  /** Ends the streams of one inbox (deleted) or of all (shutdown). */
  close(inboxId: string | undefined, reason: 'deleted' | 'shutdown'): void {
    const ids = inboxId === undefined ? [...this.subscribers.keys()] : [inboxId];
    for (const id of ids) {
      const set = this.subscribers.get(id);
      this.subscribers.delete(id);
      this.lastId.delete(id);
      for (const s of set ?? []) {
        try {
          s.close(reason);
        } catch {
          // ignore
        }
      }
    }
  }

  /** Open streams, for status snapshots. */
  size(): number {
    let n = 0;
    for (const set of this.subscribers.values()) n += set.size;
    return n;
  }
}
