import { randomFillSync } from 'node:crypto';

// Crockford base32: ids sort by creation time (a cursor is just the last id seen)
// and carry 80 random bits, so they cannot be guessed across tenants.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

let lastTime = 0;
let lastRandom: Buffer = Buffer.alloc(10);

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function encodeRandom(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

// Randomness is drawn 4 KiB at a time: one call per id cost ~2 µs, a noticeable share of a
// delivery's CPU (two ids each).
const POOL = Buffer.alloc(4096);
let poolUsed = POOL.length;

function randomBytes(n: number): Buffer {
  if (poolUsed + n > POOL.length) {
    randomFillSync(POOL);
    poolUsed = 0;
  }
  // A copy: the pool is overwritten on the next refill.
  const out = Buffer.from(POOL.subarray(poolUsed, poolUsed + n));
  poolUsed += n;
  return out;
}

/** Increment so ids made within one millisecond still sort in creation order. */
function increment(bytes: Buffer): Buffer {
  const next = Buffer.from(bytes);
  for (let i = next.length - 1; i >= 0; i--) {
    if (next[i] < 255) {
      next[i]++;
      return next;
    }
    next[i] = 0;
  }
  return randomBytes(10);
}

/** A monotonic ULID-style id: 10 chars of time, 16 of randomness. */
export function newId(prefix: string, now: number = Date.now()): string {
  if (now <= lastTime) {
    lastRandom = increment(lastRandom);
  } else {
    lastTime = now;
    lastRandom = randomBytes(10);
  }
  return `${prefix}_${encodeTime(lastTime)}${encodeRandom(lastRandom)}`;
}

/**
 * The lowest id `newId(prefix, t)` can produce for any t >= ms: ids carry the largest time
 * their process has seen, never less than the `now` they were made with, so
 * `id >= idFloor(prefix, since)` holds for everything created at or after `since`.
 */
export function idFloor(prefix: string, ms: number): string {
  return `${prefix}_${encodeTime(Math.max(0, Math.floor(ms)))}`;
}

export function isId(prefix: string, value: string): boolean {
  return value.length === prefix.length + 27 && value.startsWith(`${prefix}_`) && /^[0-9a-z]+$/.test(value.slice(prefix.length + 1));
}
