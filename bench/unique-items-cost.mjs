#!/usr/bin/env node
// node bench/unique-items-cost.mjs [--sizes 65536,262144]
//
// What checking a custom event type's `uniqueItems` costs at publish time, per event: an array of
// distinct items (every one must be compared) filling an event of each size (events are at most
// 256 KiB; a 1 MiB batch holds four), checked by Herald's compiled schema (the built one, dist/:
// run `npm run build` first) and, for comparison, by Ajv's own uniqueItems, which compares every
// pair of items unless `items` declares a scalar type. The check runs on the API process's
// thread: while it runs, that process answers nothing else.
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import { compileDataSchema } from '../dist/catalog/custom.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '65536,262144' } } });
const sizes = values.sizes.split(',').map(Number);

/** Distinct items of `item(i)` until their JSON fills `bytes`. */
function arrayOf(bytes, item) {
  const out = [];
  for (let i = 0, size = 2; size < bytes; i++) {
    const v = item(i);
    size += JSON.stringify(v).length + 1;
    out.push(v);
  }
  return out;
}

const cases = [
  ['objects {"a": i}', { type: 'array', uniqueItems: true, items: { type: 'object' } }, (i) => ({ a: i })],
  ['arrays [i]', { type: 'array', uniqueItems: true }, (i) => [i]],
  ['integers, no items type', { type: 'array', uniqueItems: true }, (i) => i],
  ['integers, items: integer', { type: 'array', uniqueItems: true, items: { type: 'integer' } }, (i) => i],
];

const ms = (f) => {
  const t0 = performance.now();
  const result = f();
  return [performance.now() - t0, result];
};

console.log('case                       bytes    items   herald ms    ajv ms');
for (const [label, list, item] of cases) {
  const schema = { type: 'object', properties: { list } };
  const herald = compileDataSchema(schema);
  const ajv = new Ajv({ strict: false }).compile(schema);
  for (const bytes of sizes) {
    const data = { list: arrayOf(bytes, item) };
    const [heraldMs, problem] = ms(() => herald(data));
    const [ajvMs, valid] = ms(() => ajv(data));
    if (problem !== undefined || valid !== true) throw new Error(`${label}: distinct items refused`);
    console.log(`${label.padEnd(24)} ${String(bytes).padStart(8)} ${String(data.list.length).padStart(8)} ${heraldMs.toFixed(1).padStart(11)} ${ajvMs.toFixed(1).padStart(9)}`);
  }
}
