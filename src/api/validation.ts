// Request validation. A JSON body is checked as sent: a string is never taken for a number, a
// list for a string or `true` for 1, so a wrong type is a 400 naming the field. Query strings,
// path parameters and headers are text, and are read as their schemas' types.
import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

// ajv-formats is CommonJS: under NodeNext its types see the plugin as the module's `default`,
// while Node hands over module.exports, the plugin itself.
const addFormats = formats as unknown as typeof formats.default;

function validatorWith(coerceTypes: false | 'array'): Ajv {
  // As Fastify's default: defaults filled in, every error past the first skipped; plus `auth`'s
  // discriminator. Unknown fields are refused by the schemas, never removed.
  const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, discriminator: true, addUsedSchema: false, strict: false });
  return addFormats(ajv);
}

export function registerValidation(app: FastifyInstance): void {
  const body = validatorWith(false);
  const text = validatorWith('array');
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? body : text).compile(schema));
}
