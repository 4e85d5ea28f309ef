import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { looksMasked, mask, SecretBox, SecretBoxError } from './secretbox.js';
import { generateSecret } from './standard-webhooks.js';

const box = (): SecretBox => new SecretBox(randomBytes(32));

/** Replaces one character of a base64url segment with a different valid one. */
function flipChar(segment: string, index = 0): string {
  const replacement = segment[index] === 'A' ? 'B' : 'A';
  return segment.slice(0, index) + replacement + segment.slice(index + 1);
}

describe('SecretBox', () => {
  it('opens what it sealed, including empty and non-ASCII text', () => {
    const secretBox = box();
    for (const plaintext of [generateSecret(), '', 'pässwörd ☕ 🔑', 'x'.repeat(10_000)]) {
      expect(secretBox.open(secretBox.seal(plaintext))).toBe(plaintext);
    }
  });

  it('produces v1.<iv>.<tag>.<ciphertext> in base64url with a fresh IV each time', () => {
    const secretBox = box();
    const first = secretBox.seal('same text');
    const second = secretBox.seal('same text');

    expect(first).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(first).not.toBe(second);
    expect(first).not.toContain('same text');
  });

  it.each([
    ['iv', 1],
    ['tag', 2],
    ['ciphertext', 3],
  ])('detects a modified %s', (_name, index) => {
    const secretBox = box();
    const parts = secretBox.seal('whsec_topsecret').split('.');
    parts[index] = flipChar(parts[index]!);
    expect(() => secretBox.open(parts.join('.'))).toThrow(SecretBoxError);
  });

  it('refuses to open with the wrong key', () => {
    const sealed = box().seal('hunter2');
    expect(() => box().open(sealed)).toThrow(expect.objectContaining({ code: 'open_failed' }));
  });

  it.each([
    ['not sealed at all', 'plaintext', 'malformed'],
    ['too few parts', 'v1.abc.def', 'malformed'],
    ['an unknown version', 'v9.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AA', 'unsupported_version'],
    ['a short tag', 'v1.AAAAAAAAAAAAAAAA.AAAA.AA', 'malformed'],
    ['characters outside base64url', 'v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.A+/=', 'malformed'],
  ])('rejects %s', (_label, sealed, code) => {
    expect(() => box().open(sealed)).toThrow(expect.objectContaining({ name: 'SecretBoxError', code }));
  });

  it('requires a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(SecretBoxError);
  });
});

describe('SecretBox.parseKey', () => {
  it('accepts 64 hex characters', () => {
    const hex = SecretBox.generateKey();
    expect(hex).toMatch(/^[0-9a-f]{64}$/);
    expect(SecretBox.parseKey(hex)).toEqual(Buffer.from(hex, 'hex'));
    expect(SecretBox.parseKey(hex.toUpperCase())).toEqual(Buffer.from(hex, 'hex'));
  });

  it('accepts base64 and base64url of 32 bytes', () => {
    const key = randomBytes(32);
    expect(SecretBox.parseKey(key.toString('base64'))).toEqual(key);
    expect(SecretBox.parseKey(key.toString('base64url'))).toEqual(key);
  });

  it('ignores surrounding whitespace (a trailing newline in a key file)', () => {
    const hex = SecretBox.generateKey();
    expect(SecretBox.parseKey(`${hex}\n`)).toEqual(Buffer.from(hex, 'hex'));
  });

  it.each([
    ['empty', ''],
    ['63 hex characters', 'a'.repeat(63)],
    ['65 hex characters', 'a'.repeat(65)],
    ['base64 of 16 bytes', randomBytes(16).toString('base64')],
    ['base64 of 48 bytes', randomBytes(48).toString('base64')],
    ['a passphrase', 'correct horse battery staple'],
  ])('rejects %s with a message that says what is expected', (_label, value) => {
    expect(() => SecretBox.parseKey(value)).toThrow(SecretBoxError);
    expect(() => SecretBox.parseKey(value)).toThrow(/64 hex characters or base64 of 32 bytes/);
  });

  it('does not echo the rejected value', () => {
    const value = 'my-secret-passphrase';
    expect(() => SecretBox.parseKey(value)).toThrow(SecretBoxError);
    expect(() => SecretBox.parseKey(value)).not.toThrow(value);
  });

  it('works with keys made by generateKey', () => {
    const secretBox = new SecretBox(SecretBox.parseKey(SecretBox.generateKey()));
    expect(secretBox.open(secretBox.seal('ok'))).toBe('ok');
  });
});

describe('mask', () => {
  it('keeps the whsec_ label and at most 4 characters of the key', () => {
    const secret = generateSecret();
    const masked = mask(secret);
    expect(masked).toBe(`${secret.slice(0, 'whsec_'.length + 4)}…`);
  });

  it('fully masks short values', () => {
    for (const value of ['', 'a', 'hunter2']) {
      expect(mask(value)).toBe('****');
    }
    expect(mask('whsec_abc')).toBe('whsec_****');
  });

  it('reveals at most a quarter of a medium-length value', () => {
    expect(mask('password')).toBe('pa…');
    expect(mask('0123456789ab')).toBe('012…');
  });

  it('never reveals more than 4 characters of any secret, whatever its length', () => {
    for (let length = 0; length <= 200; length += 1) {
      const secret = randomBytes(length).toString('base64url').slice(0, length);
      const revealed = mask(secret).replace(/…$|\*{4}$/, '');
      expect(revealed.length).toBeLessThanOrEqual(4);
      expect(secret.startsWith(revealed)).toBe(true);
      if (length >= 5) expect(mask(secret)).not.toContain(secret);
    }
  });

  it('does not split a multi-byte character', () => {
    expect(mask('🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑')).toBe('🔑🔑🔑🔑…');
  });
});

describe('looksMasked', () => {
  it('recognises every form mask gives, so a masked value sent back can be told from a secret', () => {
    for (const value of ['', 'hunter2', 'password', 'long-secret-value-0123456789', generateSecret(), 'whsec_abc', '🔑🔑🔑🔑🔑🔑🔑🔑']) {
      expect(looksMasked(mask(value)), value).toBe(true);
    }
    for (const value of ['', '*', '***', '*****', 'audience', 'https://api.example/', 'whsec_abc', '…not at the end']) {
      expect(looksMasked(value), value).toBe(false);
    }
  });
});
