import { describe, expect, it } from 'vitest';
import { checkIfMatch, etagOf } from './preconditions.js';

describe('etagOf', () => {
  const view = { id: 'ep_1', description: 'a', failing_since: null, updated_at: '2026-01-01T00:00:00.000Z' };

  it('leaves out the live members: a copy read before failing_since moved still matches', () => {
    expect(etagOf({ ...view, failing_since: '2026-01-02T00:00:00.000Z' }, ['failing_since'])).toBe(etagOf(view, ['failing_since']));
  });

  it('changes with any other member, even within the same updated_at', () => {
    expect(etagOf({ ...view, description: 'b' }, ['failing_since'])).not.toBe(etagOf(view, ['failing_since']));
  });
});

describe('checkIfMatch', () => {
  const etag = '"abc"';
  it('passes without If-Match, with *, or with a list naming the ETag', () => {
    for (const value of [undefined, '*', ' * ', '"abc"', '"x", "abc"', '"x","abc"']) expect(() => checkIfMatch(value, etag, 'endpoint'), String(value)).not.toThrow();
  });

  it('answers 412 with the current ETag when none matches, a weak one included', () => {
    for (const value of ['"x"', 'W/"abc"', '""']) {
      expect(() => checkIfMatch(value, etag, 'endpoint'), value).toThrow(expect.objectContaining({ statusCode: 412, code: 'precondition_failed', field: 'If-Match', headers: { etag } }));
    }
  });

  it('answers 400 naming If-Match for what is not a list of quoted tags', () => {
    for (const value of ['abc', '"abc', '"a", b', '*, "abc"']) {
      expect(() => checkIfMatch(value, etag, 'endpoint'), value).toThrow(expect.objectContaining({ statusCode: 400, field: 'If-Match' }));
    }
  });
});
