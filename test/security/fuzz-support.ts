// Building blocks of the HTTP fuzz tests: arbitraries that follow a route's JSON Schema (valid
// values, wrong types, edge values, huge and hostile strings), a raw HTTP client that can send
// what fetch refuses to (duplicated headers, invalid UTF-8, any content-type), and the checks
// every answer must pass.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import fc from 'fast-check';

export type Schema = Record<string, any>;

// ---- strings ---------------------------------------------------------------------------------

const WEIRD = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\r\n',
  '\t',
  '../../../../etc/passwd',
  '%00',
  '%',
  '${jndi:ldap://127.0.0.1/x}',
  '<script>alert(1)</script>',
  "' OR '1'='1' --",
  '"; DROP TABLE endpoints; --',
  '__proto__',
  'constructor',
  'prototype',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  '\u202e\u202d',
  '\ufeff',
  '\u0301\u0301\u0301',
  'e\u0301',
  '😀'.repeat(40),
  '𝕳𝖊𝖗𝖆𝖑𝖉',
  '\ud800',
  '\udfff',
  'a\udc00b',
  '😀\ud800',
  '\\',
  '\\u0000',
  '{}',
  '[]',
  '*',
  '.*',
  'asset.*.*',
];

/** Strings of every kind: ASCII, any code point, lone surrogates, control characters, long and huge. */
export function anyString(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
    { weight: 3, arbitrary: fc.constantFrom(...WEIRD) },
    { weight: 1, arbitrary: fc.integer({ min: 101, max: 5_000 }).map((n) => 'y'.repeat(n)) },
    { weight: 1, arbitrary: fc.integer({ min: 100_000, max: 300_000 }).map((n) => 'z'.repeat(n)) },
  );
}

const EDGE_DATES = [
  '2016-12-31T23:59:60Z', // a leap second: valid date-time, but Date.parse says NaN
  '2020-02-30T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999+23:59',
  '1969-12-31T23:59:59Z',
  '2020-01-01T00:00:00',
  '2020-01-01',
  '+275760-09-13T00:00:00.000Z',
  '2020-13-01T00:00:00Z',
  '2024-05-01T12:00:00-00:00',
];

/** Values of the wrong type, whatever the schema asked for. */
export function wrongValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    anyString(),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.object({ maxDepth: 1, maxKeys: 3 }),
    fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0),
  );
}

/** `arb` one time in `outOf`, else null (fc.option's `freq` is the other way round: 1/freq is null). */
export function sometimes<T>(arb: fc.Arbitrary<T>, outOf: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: outOf - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

/**
 * `clean`: values that follow the schema (lengths, ranges, required keys), so requests get past
 * validation into the handlers; `dirty`: wrong types, missing and unknown keys, hostile strings.
 */
export type Mode = 'clean' | 'dirty';

export interface GenContext {
  /** Destinations that never need DNS (IP literals, localhost, malformed): no fuzz run asks a resolver. */
  readonly urls: readonly string[];
  /** Those of `urls` an endpoint may have. */
  readonly goodUrls: readonly string[];
  readonly eventTypes: readonly string[];
  /** Those of `eventTypes` that exist. */
  readonly goodEventTypes: readonly string[];
  /** Ids of existing resources, for id-like fields. */
  readonly ids: () => readonly string[];
  readonly components: Record<string, Schema>;
}

function deref(s: Schema | undefined, ctx: GenContext): Schema | undefined {
  if (s && typeof s.$ref === 'string') {
    const name = s.$ref.split('/').pop()!;
    return ctx.components[name];
  }
  return s;
}

const HEADER_TOKEN = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/);

function stringFor(name: string, s: Schema, ctx: GenContext, mode: Mode): fc.Arbitrary<string> {
  const n = name.toLowerCase();
  const fitting = fc.string({ minLength: Math.min(s.minLength ?? 0, 30), maxLength: Math.max(Math.min(s.maxLength ?? 30, 30), Math.min(s.minLength ?? 0, 30)) });
  const generic = mode === 'clean' ? fitting : fc.oneof({ weight: 3, arbitrary: fitting }, { weight: 2, arbitrary: anyString() });
  if (/url$/.test(n)) return mode === 'clean' ? fc.constantFrom(...ctx.goodUrls) : fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ctx.urls) }, { weight: 1, arbitrary: generic });
  if (s.format === 'date-time') {
    const dates = fc.date({ min: new Date(0), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
    return fc.oneof({ weight: 2, arbitrary: dates }, { weight: 2, arbitrary: fc.constantFrom(...EDGE_DATES) }, { weight: 1, arbitrary: generic });
  }
  if (['type', 'event_types', 'eventtypes', 'events', 'trigger_events'].includes(n)) {
    if (mode === 'clean') return fc.constantFrom(...ctx.goodEventTypes);
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ctx.eventTypes) }, { weight: 1, arbitrary: generic });
  }
  // Names (of headers, accounts, inboxes, …): a token is valid everywhere.
  if (mode === 'clean' && (n === 'name' || n === 'key' || n === 'username' || n === 'client_id')) return HEADER_TOKEN;
  if (n.includes('secret')) {
    return fc.oneof(fc.constantFrom('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_', 'whsec_!!!', 'whsec_' + 'A'.repeat(500)), generic);
  }
  if (n === 'id' || n.endsWith('_id') || n === 'cursor' || n === 'iterator' || n === 'after' || n.endsWith('id')) {
    return fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...ctx.ids()) }, { weight: 2, arbitrary: generic });
  }
  if (typeof s.pattern === 'string') {
    return fc.oneof({ weight: 2, arbitrary: fc.stringMatching(new RegExp(s.pattern), { maxLength: 40 }) }, { weight: 1, arbitrary: generic });
  }
  return generic;
}

function typed(t: string, s: Schema, name: string, depth: number, ctx: GenContext, mode: Mode): fc.Arbitrary<unknown> {
  switch (t) {
    case 'string':
      return stringFor(name, s, ctx, mode);
    case 'integer': {
      const min = typeof s.minimum === 'number' ? s.minimum : -1000;
      const max = typeof s.maximum === 'number' ? s.maximum : 1_000_000;
      const fitting = fc.integer({ min, max });
      if (mode === 'clean') return fitting;
      return fc.oneof({ weight: 3, arbitrary: fitting }, { weight: 1, arbitrary: fc.constantFrom(min - 1, max + 1, 0, -1, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308) });
    }
    case 'number':
      return fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(0, -0, 1e308, -1e-308));
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const min = typeof s.minItems === 'number' ? Math.min(s.minItems, 4) : 0;
      const normal = fc.array(valueArb(s.items, name, depth + 1, ctx, mode), { minLength: min, maxLength: Math.max(min, Math.min(s.maxItems ?? 4, 4)) });
      if (mode === 'clean' || typeof s.maxItems !== 'number') return normal;
      const tooMany = fc.array(validish(s.items, name, depth + 1, ctx, 'clean'), { minLength: s.maxItems + 1, maxLength: s.maxItems + 1 });
      return fc.oneof({ weight: 8, arbitrary: normal }, { weight: 1, arbitrary: tooMany });
    }
    case 'object':
      return objectArb(s, depth, ctx, mode);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectArb(s: Schema, depth: number, ctx: GenContext, mode: Mode): fc.Arbitrary<unknown> {
  const props: Record<string, Schema> = s.properties ?? {};
  const required: string[] = s.required ?? [];
  const free = s.patternProperties ? Object.values(s.patternProperties)[0] : typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
  const base =
    Object.keys(props).length > 0
      ? fc.record(Object.fromEntries(Object.entries(props).map(([k, v]) => [k, valueArb(v, k, depth + 1, ctx, mode)])), { requiredKeys: required.filter((k) => k in props) })
      : free
        ? fc.dictionary(mode === 'clean' ? HEADER_TOKEN : fc.string({ maxLength: 12 }), valueArb(free as Schema, 'value', depth + 1, ctx, mode), { maxKeys: 4 })
        : fc.object({ maxDepth: 1, maxKeys: 3 });
  if (mode === 'clean') return base;
  // Sometimes a required key is missing, sometimes there is one nobody asked for.
  return fc
    .tuple(base, sometimes(fc.constantFrom(...(required.length > 0 ? required : ['-'])), 3), sometimes(fc.tuple(fc.string({ maxLength: 12 }), wrongValue()), 3))
    .map(([value, drop, extra]) => {
      const out = { ...(value as Record<string, unknown>) };
      if (drop !== null) delete out[drop];
      if (extra !== null) out[extra[0]] = extra[1];
      return out;
    });
}

/** A value that follows the schema, with edge values (and, when dirty, broken parts). */
export function validish(raw: Schema | undefined, name: string, depth: number, ctx: GenContext, mode: Mode = 'dirty'): fc.Arbitrary<unknown> {
  const s = deref(raw, ctx);
  if (!s || depth > 5) return fc.jsonValue({ maxDepth: 2 });
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const alternatives: Schema[] | undefined = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((a) => validish(a, name, depth, ctx, mode)));
  const types: string[] = Array.isArray(s.type) ? s.type : typeof s.type === 'string' ? [s.type] : s.properties ? ['object'] : [];
  if (types.length === 0) return fc.jsonValue({ maxDepth: 3 });
  return fc.oneof(...types.map((t) => typed(t, s, name, depth, ctx, mode)));
}

/** Clean: follows the schema. Dirty: mostly, and sometimes the wrong type. */
export function valueArb(s: Schema | undefined, name: string, depth: number, ctx: GenContext, mode: Mode = 'dirty'): fc.Arbitrary<unknown> {
  if (mode === 'clean') return validish(s, name, depth, ctx, 'clean');
  return fc.oneof({ weight: 10, arbitrary: validish(s, name, depth, ctx, 'dirty') }, { weight: 1, arbitrary: wrongValue() });
}

// ---- bodies ----------------------------------------------------------------------------------

const DEEP_MARK = '"__herald_fuzz_deep__"';

function deepText(kind: 'array' | 'object', depth: number): string {
  return kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Serialises `value`, optionally replacing one of its fields (or itself) by a deeply nested value. */
function withDeep(value: unknown, kind: 'array' | 'object', depth: number, fieldPick: number): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return deepText(kind, depth);
  const keys = Object.keys(value as object);
  const key = keys.length > 0 ? keys[fieldPick % keys.length] : 'data';
  return JSON.stringify({ ...(value as object), [key]: '__herald_fuzz_deep__' }).replace(DEEP_MARK, deepText(kind, depth));
}

/** Replaces the first string in a JSON text with bytes that are not UTF-8 (a lone surrogate encoded raw, 0xFF). */
function invalidUtf8(text: string, pick: number): Buffer {
  const bytes = [Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff, 0xfe]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xf4, 0x90, 0x80, 0x80])][pick % 4];
  const at = text.indexOf('"');
  if (at < 0) return Buffer.concat([Buffer.from(text), bytes]);
  return Buffer.concat([Buffer.from(text.slice(0, at + 1)), bytes, Buffer.from(text.slice(at + 1))]);
}

export type Body = { readonly kind: string; readonly bytes: Buffer };

/** Bodies for a route that takes JSON: schema-shaped, random JSON, malformed, deep, huge, not UTF-8. */
export function jsonBodyArb(schema: Schema | undefined, ctx: GenContext): fc.Arbitrary<Body> {
  const shaped = valueArb(schema, 'body', 0, ctx, 'dirty');
  const text = (v: unknown) => JSON.stringify(v) ?? 'null';
  return fc.oneof(
    { weight: 8, arbitrary: validish(schema, 'body', 0, ctx, 'clean').map((v) => ({ kind: 'valid', bytes: Buffer.from(text(v)) })) },
    { weight: 8, arbitrary: shaped.map((v) => ({ kind: 'schema-shaped', bytes: Buffer.from(text(v)) })) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => ({ kind: 'random json', bytes: Buffer.from(text(v)) })) },
    {
      weight: 2,
      arbitrary: fc.tuple(shaped, fc.nat(), fc.constantFrom('', '}', ',', '"', "'", '\u0000', 'garbage', '{"a":1}')).map(([v, cut, tail]) => {
        const t = text(v);
        return { kind: 'malformed json', bytes: Buffer.from(t.slice(0, cut % (t.length + 1)) + tail) };
      }),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(shaped, fc.constantFrom<'array' | 'object'>('array', 'object'), fc.integer({ min: 500, max: 100_000 }), fc.nat()).map(([v, kind, depth, pick]) => ({
        kind: `deep ${kind} ${depth}`,
        bytes: Buffer.from(withDeep(v, kind, depth, pick)),
      })),
    },
    { weight: 1, arbitrary: fc.tuple(shaped, fc.nat()).map(([v, pick]) => ({ kind: 'invalid utf-8', bytes: invalidUtf8(text(v), pick) })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('', 'null', '""', '0', '[]', '{}', 'true', '{"a":1', '\ufeff{}', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '{"a":1,"a":2}', '[{}]', '1e999')
        .map((t) => ({ kind: 'edge json', bytes: Buffer.from(t) })),
    },
  );
}

/** Content-types, mostly JSON: a route must refuse the others with a 4xx that says so. */
export const jsonContentTypeArb: fc.Arbitrary<string | string[] | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string | string[] | undefined>(
      undefined,
      '',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'APPLICATION/JSON',
      'application/vnd.api+json',
      'application/xml',
      'application/octet-stream',
      ['application/json', 'text/plain'],
      'application/json, text/plain',
      ';;;',
    ),
  },
);

// ---- paths and queries -------------------------------------------------------------------------

/** Percent-encodes any string, even one with lone surrogates (encoded as their raw, invalid bytes). */
export function encodeAny(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
  }
}

const RAW_SEGMENTS = ['%', '%zz', '%ED%A0%80', '%00', '..', '.', '%2F', '%2e%2e', '%C0%AF', 'a%20b', '%F0%9F%98%80', '%FF', '%E2%80%AE', 'x'.repeat(101), 'y'.repeat(3000), '0', '-1', '1e3', '999999999999999999999', '01'];

/** Path parameters: existing ids, invalid ones, raw percent junk. */
export function idParamArb(validIds: () => readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...validIds()).map(encodeAny) },
    { weight: 2, arbitrary: anyString().filter((s) => s.length < 4_000).map(encodeAny) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    { weight: 1, arbitrary: fc.integer({ min: -5, max: 2 ** 48 }).map(String) },
  );
}

/** A query string from the route's parameters (valid-ish, wrong, duplicated) and unknown ones. */
export function queryArb(params: { name: string; schema: Schema }[], ctx: GenContext): fc.Arbitrary<string> {
  const pair = (name: string, schema: Schema | undefined) =>
    fc
      .oneof({ weight: 3, arbitrary: validish(schema, name, 0, ctx, 'clean') }, { weight: 1, arbitrary: validish(schema, name, 0, ctx, 'dirty') }, { weight: 1, arbitrary: wrongValue() })
      .map((v) => `${encodeAny(name)}=${encodeAny(typeof v === 'string' ? v : JSON.stringify(v) ?? '')}`);
  const known = params.map((p) => fc.option(pair(p.name, p.schema), { freq: 2 }));
  return fc
    .tuple(
      fc.tuple(...known),
      sometimes(fc.constantFrom(...(params.length > 0 ? params.map((p) => p.name) : ['limit'])), 8),
      sometimes(fc.tuple(fc.string({ maxLength: 10 }), anyString().filter((s) => s.length < 2_000)), 8),
      sometimes(fc.constantFrom('%', '&&&', '=', 'a=%ZZ', 'limit[]=1', 'limit[a]=1', '__proto__[x]=1', 'constructor.prototype.x=1'), 8),
    )
    .map(([pairs, dup, extra, raw]) => {
      const parts = pairs.filter((p): p is string => p !== null);
      if (dup !== null) parts.push(`${encodeAny(dup)}=1`, `${encodeAny(dup)}=2`);
      if (extra !== null) parts.push(`${encodeAny(extra[0])}=${encodeAny(extra[1])}`);
      if (raw !== null) parts.push(raw);
      return parts.length > 0 ? `?${parts.join('&')}` : '';
    });
}

// ---- sending -----------------------------------------------------------------------------------

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: Buffer;
  /** Send the body chunked (no content-length). */
  readonly chunked?: boolean;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

// A fresh connection per request: a server that answers an unparseable request and closes the
// connection must not make the next, unrelated request fail on a reused socket.
const agent = new Agent({ keepAlive: false });

/** Sends one request as given; a Server-Sent Events answer is cut after its headers. */
export function send(base: URL, r: RawRequest, timeoutMs = 20_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[] | number> = { ...r.headers };
    if (r.body !== undefined && !r.chunked) headers['content-length'] = r.body.length;
    const req = httpRequest({ host: base.hostname, port: base.port, method: r.method, path: r.path, headers, agent }, (res) => {
      if (String(res.headers['content-type'] ?? '').includes('text/event-stream')) {
        res.destroy();
        return resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' });
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (r.body !== undefined) req.end(r.body);
    else req.end();
  });
}

export function closeAgent(): void {
  agent.destroy();
}

// ---- checks ------------------------------------------------------------------------------------

const STACK_TRACE = /\bat [^\n]*\((?:file:|node:|\/)[^)]*:\d+:\d+\)|\n\s+at [\w.<>]+ \(|\.(?:ts|js|mjs):\d+:\d+/;

export interface CheckContext {
  /** Strings no answer may contain: credentials, the encryption key. */
  readonly secrets: readonly string[];
  /** Internal paths no answer may contain: the repository, the data directory. */
  readonly paths: readonly string[];
}

/** What is wrong with an answer, or undefined. */
export function problemOf(res: RawResponse, ctx: CheckContext): string | undefined {
  if (res.status >= 500) return `answered ${res.status}: ${res.text.slice(0, 300)}`;
  if (STACK_TRACE.test(res.text)) return `stack trace in the answer: ${res.text.slice(0, 300)}`;
  for (const p of ctx.paths) if (res.text.includes(p)) return `internal path ${p} in the answer`;
  for (const s of ctx.secrets) if (res.text.includes(s)) return `a secret (${s.slice(0, 6)}…) in the answer`;
  if (res.status < 400) return undefined;
  if (res.text.trim() === '') return `${res.status} with an empty body`;
  if (!String(res.headers['content-type'] ?? '').includes('json')) return undefined; // HTML pages and text say it in words
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    return `${res.status} with a body that claims JSON but is not: ${res.text.slice(0, 200)}`;
  }
  const message = typeof body?.message === 'string' ? body.message : typeof body?.error === 'string' ? body.error : undefined;
  if (!message || message.trim() === '') return `${res.status} without a message: ${res.text.slice(0, 200)}`;
  // A schema validation failure about a field names it, in `field` and in the message.
  if (res.status === 400 && body.error === 'invalid_request' && /field "/.test(String(body.message))) {
    if (typeof body.field !== 'string' || !String(body.message).includes(`"${body.field}"`)) return `validation failure without its field: ${res.text.slice(0, 200)}`;
  }
  return undefined;
}
