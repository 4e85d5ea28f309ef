import { describe, expect, it } from 'vitest';
import { mediaPocketTriggerEvents } from '../../catalog/index.js';
import { invalidParam, MediaPocketError, rubyInspect, validateWebhookParams } from './validation.js';

const valid = { name: 'Sample Webhook', http_url: 'https://example.website.com', http_method: 'POST', trigger_events: ['ASSET_ADDED'] };

function errorOf(body: unknown, mode: 'create' | 'update' = 'create'): { status: number; error: string } {
  try {
    validateWebhookParams(body, mode);
  } catch (err) {
    if (err instanceof MediaPocketError) return { status: err.statusCode, error: err.message };
    throw err;
  }
  throw new Error('expected a validation error');
}

describe('Media Pocket parameter validation (Apipie style)', () => {
  it("answers the seed's message for a null http_url", () => {
    expect(errorOf({ ...valid, http_url: null })).toEqual({ status: 422, error: "Invalid parameter 'http_url' value nil: Must be a String" });
  });

  it('reports the first failing param in the documented order', () => {
    expect(errorOf({ ...valid, name: 5, http_url: null }).error).toBe("Invalid parameter 'name' value 5: Must be a String");
  });

  it('reports a missing required param on create but not on update', () => {
    const { http_url: _u, ...rest } = valid;
    expect(errorOf(rest)).toEqual({ status: 422, error: 'Missing parameter http_url' });
    expect(validateWebhookParams({ name: 'x' }, 'update')).toEqual({ name: 'x' });
    expect(errorOf(null)).toEqual({ status: 422, error: 'Missing parameter name' });
    expect(errorOf([1])).toEqual({ status: 422, error: "Invalid parameter 'webhook' value [1]: Must be a Hash" });
  });

  it('lists the allowed trigger events for an unknown one', () => {
    const { error } = errorOf({ ...valid, trigger_events: ['ASSET_ADDED', 'NOPE'] });
    expect(error.startsWith(`Invalid parameter 'trigger_events' value ["ASSET_ADDED", "NOPE"]: Must be an array of ["ASSET_REMOVED_FAVORITE", `)).toBe(true);
    expect(error.endsWith('"UPDATED_DAG_ACTION_RUN"]')).toBe(true);
  });

  it('accepts every seed trigger event and normalises the method', () => {
    const out = validateWebhookParams({ ...valid, http_method: 'put', trigger_events: [...mediaPocketTriggerEvents] }, 'create');
    expect(out.http_method).toBe('PUT');
    expect(errorOf({ ...valid, http_method: 'GET' }).error).toBe(`Invalid parameter 'http_method' value "GET": Must be one of: POST, PUT`);
  });

  it('never echoes header values', () => {
    const { error } = errorOf({ ...valid, webhook_headers: [{ key: 'X-Token', value: 's3cret', type: 'secret' }] });
    expect(error).toContain('[FILTERED]');
    expect(error).not.toContain('s3cret');
  });

  it('never echoes header values sent in another shape, nor a password in http_url', () => {
    for (const headers of [{ 'X-Token': 's3cret' }, [['X-Token', 's3cret']], 's3cret']) {
      const { error } = errorOf({ ...valid, webhook_headers: headers });
      expect(error).toMatch(/^Invalid parameter 'webhook_headers' value .*\[FILTERED\]/);
      expect(error).not.toContain('s3cret');
    }
    const url = invalidParam('http_url', 'http://user:s3cret@10.0.0.1/hook', 'is refused').message;
    expect(url).toBe(`Invalid parameter 'http_url' value "http://user:[FILTERED]@10.0.0.1/hook": is refused`);
  });

  it("accepts Rails' wrapped form", () => {
    expect(validateWebhookParams({ webhook: valid }, 'create')).toMatchObject(valid);
  });

  it('inspects values like Ruby', () => {
    expect([null, 'a"b', 1.5, true, ['x', null], { k: [1] }].map((v) => rubyInspect(v))).toEqual(['nil', '"a\\"b"', '1.5', 'true', '["x", nil]', '{"k"=>[1]}']);
  });
});
