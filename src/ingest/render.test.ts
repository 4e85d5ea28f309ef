import { describe, expect, it } from 'vitest';
import { withSequence } from '../domain/canonical-body.js';
import { renderCanonical } from './render.js';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

describe('renderCanonical + withSequence', () => {
  it('puts the sequence right after the timestamp, in the canonical key order', () => {
    const body = renderCanonical('msg_1', 'asset.created', { type: 'asset.created', projectId: 'p1', resource: { type: 'asset', id: 'a1' }, data: { n: 1 } }, AT);
    const text = withSequence(body, 7);
    expect(Object.keys(JSON.parse(text))).toEqual(['id', 'type', 'timestamp', 'sequence', 'project_id', 'resource', 'data']);
    expect(JSON.parse(text)).toEqual({
      id: 'msg_1',
      type: 'asset.created',
      timestamp: '2026-01-02T03:04:05.000Z',
      sequence: 7,
      project_id: 'p1',
      resource: { type: 'asset', id: 'a1' },
      data: { n: 1 },
    });
  });

  it('leaves the sequence out when the event names no resource, and defaults data to {}', () => {
    const text = withSequence(renderCanonical('msg_2', 'asset.deleted', { type: 'asset.deleted' }, AT), null);
    expect(text).toBe('{"id":"msg_2","type":"asset.deleted","timestamp":"2026-01-02T03:04:05.000Z","data":{}}');
  });

  it('escapes what JSON escapes in every part', () => {
    const text = withSequence(renderCanonical('msg_"3', 'asset.updated', { type: 'asset.updated', data: { s: '",\n}' } }, AT), 1);
    expect(JSON.parse(text)).toMatchObject({ id: 'msg_"3', sequence: 1, data: { s: '",\n}' } });
  });
});
