import { describe, expect, it } from 'vitest';
import { compileDataSchema, couldBeCustomName, couldBeginCustomName, customNameProblem, SchemaError } from './custom.js';

describe('customNameProblem', () => {
  it('takes lower-case dotted names outside the catalog', () => {
    for (const name of ['acme.widget.built', 'asset.watermarked', 'a1.b_2']) expect(customNameProblem(name), name).toBeUndefined();
  });

  it('refuses a catalog name in any profile, Herald topics and other shapes', () => {
    expect(customNameProblem('asset.created')).toMatch(/in the event catalog \(asset\.created\)/);
    for (const name of ['message.acme', 'endpoint.acme.done']) expect(customNameProblem(name), name).toMatch(/raised by Herald itself/);
    for (const name of ['acme', 'Acme.widget', 'acme.*', 'acme..x', 'acme.widget.', '1acme.x', 'ASSET_ADDED', 'asset_added', `a.${'x'.repeat(199)}`]) {
      expect(customNameProblem(name), name).toMatch(/lower-case words/);
    }
  });
});

describe('couldBeCustomName, couldBeginCustomName', () => {
  it('take what a custom name may be or begin with, and nothing under Herald topics', () => {
    for (const name of ['acme.widget.built', 'asset.watermarked', 'inbox.request']) expect(couldBeCustomName(name), name).toBe(true);
    for (const name of ['message.acme', 'endpoint.acme.done', 'acme', 'Acme.widget', 'acme..x']) expect(couldBeCustomName(name), name).toBe(false);
    for (const prefix of ['acme', 'acme.widget', 'asset']) expect(couldBeginCustomName(prefix), prefix).toBe(true);
    for (const prefix of ['message', 'endpoint.acme', 'Acme', 'acme.', 'acme..x', '']) expect(couldBeginCustomName(prefix), prefix).toBe(false);
  });
});

describe('compileDataSchema', () => {
  const check = compileDataSchema({
    type: 'object',
    required: ['size', 'tags'],
    additionalProperties: false,
    properties: {
      size: { type: 'integer', minimum: 1 },
      tags: { type: 'array', items: { type: 'object', properties: { 'label/x': { type: 'string' } } } },
      url: { type: 'string', format: 'uri' },
    },
  });

  it('passes data that matches', () => {
    expect(check({ size: 3, tags: [{ 'label/x': 'a' }], url: 'https://example.com/a' })).toBeUndefined();
  });

  it('names the path of the first mismatch below data', () => {
    expect(check({ size: 'big', tags: [] })).toEqual({ path: 'data.size', message: 'data.size must be integer' });
    expect(check({ size: 1, tags: [{}, { 'label/x': 5 }] })).toEqual({ path: 'data.tags[1]["label/x"]', message: 'data.tags[1]["label/x"] must be string' });
    expect(check({ size: 1 })).toEqual({ path: 'data.tags', message: 'data.tags is required' });
    expect(check({ size: 1, tags: [], colour: 'red' })).toEqual({ path: 'data.colour', message: 'data.colour is not allowed' });
    expect(check({ size: 1, tags: [], url: 'not a uri' })).toEqual({ path: 'data.url', message: 'data.url must match format "uri"' });
    expect(check(undefined)).toEqual({ path: 'data', message: 'data must be object' });
  });

  const refusal = (schema: Record<string, unknown>) => {
    try {
      compileDataSchema(schema);
    } catch (err) {
      return err instanceof SchemaError ? err.problem : err;
    }
    return undefined;
  };

  it('refuses what is not a draft-07 schema, naming the part at fault', () => {
    expect(refusal({ type: 'object', properties: { size: { type: 'int' } } })).toMatchObject({ path: 'schema.properties.size.type' });
    expect(refusal({ type: 'object', required: 'size' })).toMatchObject({ path: 'schema.required' });
    expect(refusal({ type: 'object', propertiez: {} })).toMatchObject({ path: 'schema', message: expect.stringMatching(/unknown keyword: "propertiez"/) });
    expect(refusal({ $ref: 'https://example.com/schema.json' })).toMatchObject({ path: 'schema', message: expect.stringMatching(/resolve reference/) });
    expect(refusal({ $async: true, type: 'object' })).toMatchObject({ path: 'schema.$async' });
  });

  it('refuses regular expressions a publisher could not stop, but not properties of that name', () => {
    expect(refusal({ type: 'string', pattern: '^(a+)+$' })).toMatchObject({ path: 'schema', message: expect.stringMatching(/^pattern is not supported/) });
    expect(refusal({ type: 'object', patternProperties: { '^x': {} } })).toMatchObject({ message: expect.stringMatching(/^patternProperties is not supported/) });
    expect(refusal({ type: 'object', properties: { pattern: { type: 'string' } } })).toBeUndefined();
  });

  it('uniqueItems without maxItems: names the item that repeats an earlier one, equal as JSON Schema says', () => {
    const unique = compileDataSchema({ type: 'object', properties: { parts: { type: 'array', uniqueItems: true }, tags: { type: 'array', uniqueItems: true, items: { type: 'string' } } } });
    expect(unique({ parts: [{ a: 1, b: [1, 2] }, { b: [1, 2], a: 1.0 }] })).toEqual({ path: 'data.parts[1]', message: 'data.parts[1] must not repeat item 0' });
    expect(unique({ parts: [1, '1', [1], { a: 1 }, { a: 1, b: null }, [1, 2], [2, 1], null, true, 0, -0] })).toEqual({ path: 'data.parts[10]', message: 'data.parts[10] must not repeat item 9' });
    expect(unique({ tags: ['a', 'b', 'c', 'b'] })).toEqual({ path: 'data.tags[3]', message: 'data.tags[3] must not repeat item 1' });
    // A member named __proto__ is a member: these differ.
    expect(unique({ parts: JSON.parse('[{"__proto__": 1}, {"__proto__": 2}, {}]') })).toBeUndefined();
    expect(compileDataSchema({ type: 'array', uniqueItems: false })([1, 1])).toBeUndefined();
  });

  it('keeps the $id of one schema from meeting another', () => {
    const schema = { $id: 'https://acme.example/widget', type: 'object' };
    compileDataSchema(schema);
    expect(() => compileDataSchema(schema)).not.toThrow();
  });
});
