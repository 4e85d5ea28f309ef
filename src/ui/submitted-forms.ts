// A create form is sent once. Reloading the "created" page (or a double click) posts it again;
// each new-endpoint form carries a random id, and a form id seen before leads to what it
// created instead of creating it twice.
import { randomBytes } from 'node:crypto';

/** Form ids remembered, the oldest forgotten first: far more than forms open at once. */
const REMEMBERED = 10_000;

export class SubmittedForms {
  private readonly created = new Map<string, string>();

  /** A fresh id for a form about to be shown. */
  newId(): string {
    return randomBytes(16).toString('base64url');
  }

  /** What a form with this id created before, if it was sent already. */
  createdBy(formId: string): string | undefined {
    return formId ? this.created.get(formId) : undefined;
  }

  remember(formId: string, createdId: string): void {
    if (!formId) return;
    if (this.created.size >= REMEMBERED) this.created.delete(this.created.keys().next().value!);
    this.created.set(formId, createdId);
  }
}
