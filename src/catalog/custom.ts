// Custom event types, which an account registers beside the catalog: the rules for their names,
// and the JSON Schema (draft-07) their events' `data` must match. Pure: no store, no I/O.
import { Ajv, type ErrorObject } from 'ajv';
import formats from 'ajv-formats';
import type { JsonSchema } from '../domain/types.js';
import { findEventType, topics } from './index.js';
import { validateUniqueItems } from './unique-items.js';

// ajv-formats is CommonJS: under NodeNext its types see the plugin as the module's `default`,
// while Node hands over module.exports, the plugin itself.
const addFormats = formats as unknown as typeof formats.default;

/** Lower-case dotted, as canonical names are, with at least two segments: `acme.widget.built`. */
const CUSTOM_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
/** The leading words of such a name (one or more): what a `prefix.*` wildcard over them may be. */
const CUSTOM_PREFIX = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
export const MAX_CUSTOM_NAME_LENGTH = 200;

/** Herald raises the events of these topics itself; receivers trust that nobody else does. */
const HERALD_TOPICS: ReadonlySet<string> = new Set(['message', 'endpoint']);

/** True when `name` has the shape of a custom type's name, whether or not it may be one. */
function hasCustomNameShape(name: string): boolean {
  return name.length <= MAX_CUSTOM_NAME_LENGTH && CUSTOM_NAME.test(name);
}

/** The first word of a dotted name or prefix: its topic. */
const topicOf = (name: string): string => name.split('.', 1)[0]!;

/**
 * True when a custom type may have, or may once have had, `name`: its shape, outside Herald's
 * topics (refused since custom types exist). A catalog name is the caller's to tell apart.
 */
export function couldBeCustomName(name: string): boolean {
  return hasCustomNameShape(name) && !HERALD_TOPICS.has(topicOf(name));
}

/** True when `prefix` could begin such a name, whole words of it. */
export function couldBeginCustomName(prefix: string): boolean {
  return CUSTOM_PREFIX.test(prefix) && !HERALD_TOPICS.has(topicOf(prefix));
}

/** Why `name` cannot be a custom event type's, or undefined when it can. */
export function customNameProblem(name: string): string | undefined {
  if (!hasCustomNameShape(name)) {
    return `name must be lower-case words of letters, digits and _ joined by dots, at least two (acme.widget.built), and at most ${MAX_CUSTOM_NAME_LENGTH} characters`;
  }
  const def = findEventType(name);
  if (def) return `name ${name} is in the event catalog (${def.name}); a custom type needs a name of its own`;
  const topic = topicOf(name);
  if (HERALD_TOPICS.has(topic)) return `name: ${topic}.* events are raised by Herald itself (${topics.find((t) => t.id === topic)?.title})`;
  return undefined;
}

/** What is wrong with a schema or with data, and where: a dotted path below its root. */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

/** Checks an event's `data`; undefined when it matches. */
export type DataCheck = (data: unknown) => Problem | undefined;

/**
 * Keywords refused in a custom schema. Their regular expressions would be chosen by one account
 * and run by every API process on every event it publishes: one that backtracks badly (`(a+)+$`)
 * stops the process for minutes. Ajv calls a keyword's compile only where it is a keyword, so a
 * property of that name is left alone.
 */
const REFUSED_KEYWORDS: Readonly<Record<string, string>> = {
  pattern: 'pattern is not supported: a regular expression chosen by the schema would run on every event published (use enum, format, minLength and maxLength)',
  patternProperties: 'patternProperties is not supported: a regular expression chosen by the schema would run on every event published (use properties or additionalProperties)',
};

function newAjv(): Ajv {
  // Every error past the first skipped: the answer names one path. strict refuses unknown
  // keywords (a typo would otherwise validate nothing), but not the looser typing rules.
  const ajv = new Ajv({ allErrors: false, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, addUsedSchema: false, logger: false });
  addFormats(ajv, { mode: 'fast' });
  // Ajv's own compares every pair of items: seconds of a shared process for one large array.
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate: validateUniqueItems });
  for (const [keyword, message] of Object.entries(REFUSED_KEYWORDS)) {
    ajv.removeKeyword(keyword);
    ajv.addKeyword({
      keyword,
      compile: () => {
        throw new Error(message);
      },
    });
  }
  return ajv;
}

/**
 * Compiles a custom type's schema into its data check. Throws a SchemaError naming the part of
 * the schema at fault (`schema.properties.size.type`) when it is not a draft-07 JSON Schema
 * Herald can run. A fresh Ajv each time: a schema's `$id` then never meets another account's.
 */
export function compileDataSchema(schema: JsonSchema): DataCheck {
  const ajv = newAjv();
  if (!ajv.validateSchema(schema)) {
    const err = ajv.errors![0]!;
    throw new SchemaError({ path: pathOf('schema', err.instancePath), message: err.message ?? 'is not valid' });
  }
  // An asynchronous schema compiles to a validation that answers with a promise.
  if (schema.$async === true) throw new SchemaError({ path: 'schema.$async', message: 'asynchronous schemas are not supported' });
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    throw new SchemaError({ path: 'schema', message: err instanceof Error ? err.message : String(err) });
  }
  return (data) => (validate(data) ? undefined : problemOf(validate.errors![0]!));
}

export class SchemaError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.path}: ${problem.message}`);
    this.name = 'SchemaError';
  }
}

/** The error as a path below `data` and a sentence about it. */
function problemOf(err: ErrorObject): Problem {
  const path = pathOf('data', err.instancePath);
  const params = err.params as Record<string, unknown>;
  const missing = params.missingProperty ?? params.additionalProperty ?? params.unevaluatedProperty ?? params.propertyName;
  if (typeof missing !== 'string') return { path, message: `${path} ${err.message ?? 'is not valid'}` };
  const at = `${path}${segment(missing)}`;
  if (err.keyword === 'additionalProperties' || err.keyword === 'unevaluatedProperties') return { path: at, message: `${at} is not allowed` };
  if (err.keyword === 'propertyNames') return { path: at, message: `${at}: the name ${err.message ?? 'is not valid'}` };
  return { path: at, message: `${at} is required` };
}

/** A JSON Pointer (`/sizes/0/a~1b`) below `root` as a path a reader knows: `data.sizes[0]["a/b"]`. */
function pathOf(root: string, pointer: string): string {
  if (pointer === '') return root;
  return root + pointer.slice(1).split('/').map((s) => segment(s.replace(/~1/g, '/').replace(/~0/g, '~'))).join('');
}

function segment(key: string): string {
  if (/^(0|[1-9]\d*)$/.test(key)) return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
