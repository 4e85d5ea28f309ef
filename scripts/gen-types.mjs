#!/usr/bin/env node
// Regenerates src/signing/payload-types.ts (the receiver SDK's payload types) from the event
// catalog. Reads the compiled catalog, so build first:
//
//   npm run build && node scripts/gen-types.mjs
//
// src/sdk/payload-types.test.ts fails while the checked-in file differs from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';

const { renderPayloadTypes } = await import('../dist/sdk/gen-payload-types.js');
const target = new URL('../src/signing/payload-types.ts', import.meta.url);
const next = renderPayloadTypes();
let current = '';
try {
  current = readFileSync(target, 'utf8');
} catch {
  // first run
}
if (current === next) {
  process.stdout.write('src/signing/payload-types.ts is up to date\n');
} else {
  writeFileSync(target, next);
  process.stdout.write('wrote src/signing/payload-types.ts\n');
}
