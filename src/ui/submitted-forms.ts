// A create form is sent once. Reloading the "created" page, or a double click, posts it again;
// each new-endpoint form carries a random id, and a form id seen before (or still being
// created) leads to what it created instead of creating it twice. The id is remembered for the
// signed-in API key that sent it: the same id sent with another key (another account's, say)
// is another form, and creates its own object rather than leading to the first key's.
import { randomBytes } from 'node:crypto';
import { hashKey } from '../api/middleware/auth.js';

/** Form ids remembered, the oldest forgotten first: far more than forms open at once. */
const REMEMBERED = 10_000;

export class SubmittedForms {
  /** Created ids by sender and form id; the sender's key only as a hash, never kept itself. */
  private readonly created = new Map<string, Promise<string>>();

  /** A fresh id for a form about to be shown. */
  newId(): string {
    return randomBytes(16).toString('base64url');
  }

  /**
   * Runs `create` for the first sending of form `formId` with the API key `key` and answers the
   * id it created; the form sent again with that key gets that id with `first` false, waiting
   * for the first sending if it is still under way. A failed creation is forgotten, so the form
   * can be corrected and sent again.
   */
  async once(key: string, formId: string, create: () => Promise<string>): Promise<{ readonly id: string; readonly first: boolean }> {
    const entry = formId ? `${hashKey(key)} ${formId}` : '';
    const earlier = entry ? this.created.get(entry) : undefined;
    if (earlier) return { id: await earlier, first: false };
    const creating = create();
    if (entry) {
      if (this.created.size >= REMEMBERED) this.created.delete(this.created.keys().next().value!);
      this.created.set(entry, creating);
      creating.catch(() => this.created.delete(entry));
    }
    return { id: await creating, first: true };
  }
}
