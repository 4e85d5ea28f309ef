import { describe, expect, it } from 'vitest';
import { requestIdFrom } from './request-id.js';

describe('requestIdFrom', () => {
  it('keeps a short id of plain characters', () => {
    for (const id of ['abc', '3f2c9a1e-8b1d-4c7e-9f00-2a5b6c7d8e9f', 'Root=1-67891233-abcdef/1', 'a'.repeat(128)]) expect(requestIdFrom(id)).toBe(id);
  });

  it('replaces a missing, repeated, long or unsafe id with a fresh one', () => {
    for (const header of [undefined, '', ['a', 'b'], 'a'.repeat(129), 'with space', 'line\nbreak', '"quote"', '{"json":1}', 'ünïcode', 'semi;colon']) {
      expect(requestIdFrom(header)).toMatch(/^req_[0-9a-z]+$/);
    }
  });
});
