// A store's writes refused by its disk or server (full, read-only, out of resources): one episode
// from the first refused write to the first one that goes through again, reported once each way
// however many writes fail between (under load they are thousands a second).

/** `refused`: the first write refused; `resumed`: writes go through again. */
export type WritesReport =
  | { readonly state: 'refused'; readonly err: Error }
  | { readonly state: 'resumed'; readonly failedWrites: number; readonly afterMs: number };

export class WriteRefusals {
  /** Since when, and how often, writes have been refused; undefined while they go through. */
  private refusing: { readonly since: number; failedWrites: number } | undefined;

  constructor(private readonly onWrites?: (report: WritesReport) => void) {}

  /** Whether writes are being refused: the last one was, and none has gone through since. */
  get active(): boolean {
    return this.refusing !== undefined;
  }

  refused(err: Error): void {
    if (this.refusing) {
      this.refusing.failedWrites++;
      return;
    }
    this.refusing = { since: Date.now(), failedWrites: 1 };
    this.onWrites?.({ state: 'refused', err });
  }

  /** A write went through: a refusal, if there was one, is over. */
  resumed(): void {
    if (!this.refusing) return;
    const { since, failedWrites } = this.refusing;
    this.refusing = undefined;
    this.onWrites?.({ state: 'resumed', failedWrites, afterMs: Date.now() - since });
  }
}
