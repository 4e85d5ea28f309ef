import { describe, expect, it } from 'vitest';
import { SubmittedForms } from './submitted-forms.js';

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
    const first = forms.once(id, create);
    const second = forms.once(id, create);
    finish('ep_1');
    expect(await Promise.all([first, second])).toEqual([{ id: 'ep_1', first: true }, { id: 'ep_1', first: false }]);
    expect(await forms.once(id, create)).toEqual({ id: 'ep_1', first: false });
    expect(creations).toBe(1);
    // Another form, or one without an id, creates its own.
    expect((await forms.once(forms.newId(), async () => 'ep_2')).first).toBe(true);
    expect((await forms.once('', async () => 'ep_3')).first).toBe(true);
  });

  it('forgets a creation that failed, so the corrected form can be sent', async () => {
    const forms = new SubmittedForms();
    const id = forms.newId();
    await expect(forms.once(id, async () => Promise.reject(new Error('422')))).rejects.toThrow('422');
    expect(await forms.once(id, async () => 'ep_1')).toEqual({ id: 'ep_1', first: true });
  });
});
