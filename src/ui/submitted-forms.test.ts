import { describe, expect, it } from 'vitest';
import { SubmittedForms } from './submitted-forms.js';

const KEY = 'hk_admin_of_account_a';

describe('SubmittedForms', () => {
  it('creates once per form id, sent again at once (a double click) or later (a reload)', async () => {
    const forms = new SubmittedForms();
    const id = forms.newId();
    let creations = 0;
    let finish: (value: string) => void = () => undefined;
    const create = () => {
      creations++;
      return new Promise<string>((resolve) => (finish = resolve));
    };
    const first = forms.once(KEY, id, create);
    const second = forms.once(KEY, id, create);
    finish('ep_1');
    expect(await Promise.all([first, second])).toEqual([{ id: 'ep_1', first: true }, { id: 'ep_1', first: false }]);
    expect(await forms.once(KEY, id, create)).toEqual({ id: 'ep_1', first: false });
    expect(creations).toBe(1);
    // Another form, or one without an id, creates its own.
    expect((await forms.once(KEY, forms.newId(), async () => 'ep_2')).first).toBe(true);
    expect((await forms.once(KEY, '', async () => 'ep_3')).first).toBe(true);
  });

  it("creates again for the same form id sent with another key, and never answers with the first key's id", async () => {
    const forms = new SubmittedForms();
    const id = forms.newId();
    let finish: (value: string) => void = () => undefined;
    const first = forms.once(KEY, id, () => new Promise<string>((resolve) => (finish = resolve)));
    // Another account's key sends the same id while the first is still being created, then again.
    const other = forms.once('hk_admin_of_account_b', id, async () => 'ep_b');
    finish('ep_a');
    expect(await Promise.all([first, other])).toEqual([{ id: 'ep_a', first: true }, { id: 'ep_b', first: true }]);
    expect(await forms.once('hk_admin_of_account_b', id, async () => 'ep_b2')).toEqual({ id: 'ep_b', first: false });
    expect(await forms.once(KEY, id, async () => 'ep_a2')).toEqual({ id: 'ep_a', first: false });
  });

  it('forgets a creation that failed, so the corrected form can be sent', async () => {
    const forms = new SubmittedForms();
    const id = forms.newId();
    await expect(forms.once(KEY, id, async () => Promise.reject(new Error('422')))).rejects.toThrow('422');
    expect(await forms.once(KEY, id, async () => 'ep_1')).toEqual({ id: 'ep_1', first: true });
  });
});
