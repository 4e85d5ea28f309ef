// A create form is sent once. Reloading the "created" page, or a double click, posts it again;
// each new-endpoint form carries a random id, and a form id seen before (or still being
// created) leads to what it created instead of creating it twice.
import { randomBytes } from 'node:crypto';

/** Form ids remembered, the oldest forgotten first: far more than forms open at once. */
const REMEMBERED = 10_000;

export class SubmittedForms {
  private readonly created = new Map<string, Promise<string>>();

  /** A fresh id for a form about to be shown. */
  newId(): string {
    return randomBytes(16).toString('base64url');
  }

  /**
   * Runs `create` for the first sending of form `formId` and answers the id it created; a form
   * sent again gets that id with `first` false, waiting for the first sending if it is still
   * under way. A failed creation is forgotten, so the form can be corrected and sent again.
   */
  async once(formId: string, create: () => Promise<string>): Promise<{ readonly id: string; readonly first: boolean }> {
    const earlier = formId ? this.created.get(formId) : undefined;
    if (earlier) return { id: await earlier, first: false };
    const creating = create();
    if (formId) {
      if (this.created.size >= REMEMBERED) this.created.delete(this.created.keys().next().value!);
      this.created.set(formId, creating);
      creating.catch(() => this.created.delete(formId));
    }
    return { id: await creating, first: true };
  }
}
