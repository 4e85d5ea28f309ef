import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  decodeSecret,
  generateSecret,
  hmacHex,
  InvalidSecretError,
  sign,
  signatureHeader,
  WebhookVerificationError,
} from './standard-webhooks.js';

const nowSec = (): number => Math.floor(Date.now() / 1000);

describe('generateSecret', () => {
  it('is whsec_ followed by base64 of 24 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(decodeSecret(secret)).toHaveLength(24);
    expect(generateSecret()).not.toBe(secret);
  });
});

describe('decodeSecret', () => {
  it('strips the whsec_ prefix and decodes the base64 key', () => {
    const key = Buffer.from('0123456789abcdef01234567');
    expect(decodeSecret(`whsec_${key.toString('base64')}`)).toEqual(key);
  });

  it('accepts the bare base64 like the standardwebhooks library', () => {
    const key = Buffer.from('another key of 24 bytes!');
    expect(decodeSecret(key.toString('base64'))).toEqual(key);
  });

  it.each([
    ['empty', ''],
    ['prefix only', 'whsec_'],
    ['characters outside base64', 'whsec_not base64!'],
    ['broken padding', 'whsec_abc=='],
  ])('rejects %s with InvalidSecretError', (_label, secret) => {
    expect(() => decodeSecret(secret)).toThrow(InvalidSecretError);
  });

  it('never echoes the secret in the error message', () => {
    const secret = 'whsec_s3cr3t!value';
    try {
      decodeSecret(secret);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(WebhookVerificationError);
      expect((error as InvalidSecretError).code).toBe('invalid_secret');
      expect((error as Error).message).not.toContain('s3cr3t');
    }
  });
});

describe('sign', () => {
  it('matches the Standard Webhooks reference vector', () => {
    // From the standard-webhooks repository's library tests.
    const key = decodeSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const signature = sign(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('signs a Buffer body exactly like the same string body', () => {
    const key = decodeSecret(generateSecret());
    const body = JSON.stringify({ eventType: 'asset.created', name: 'café ☕' });
    expect(sign(key, 'msg_1', 1700000000, Buffer.from(body))).toBe(sign(key, 'msg_1', 1700000000, body));
  });

  it('produces signatures the standardwebhooks library accepts', () => {
    const secret = generateSecret();
    const body = JSON.stringify({ eventType: 'asset.created', asset: { id: 'a1' } });
    const timestamp = nowSec();
    const headers = {
      'webhook-id': 'msg_2bQ4',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': sign(decodeSecret(secret), 'msg_2bQ4', timestamp, Buffer.from(body)),
    };
    expect(new StandardWebhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('agrees with the standardwebhooks library for the same inputs', () => {
    const secret = generateSecret();
    const date = new Date(1_700_000_123_000);
    const body = '{"a":1}';
    expect(sign(decodeSecret(secret), 'msg_x', 1_700_000_123, body)).toBe(
      new StandardWebhook(secret).sign('msg_x', date, body),
    );
  });

  it.each([1.5, -1, Number.NaN])('rejects the non-integer timestamp %s', (timestamp) => {
    expect(() => sign(Buffer.from('k'), 'msg', timestamp, '{}')).toThrow(RangeError);
  });
});

describe('signatureHeader', () => {
  it('signs with every key, space separated, and the library accepts either secret', () => {
    const current = generateSecret();
    const previous = generateSecret();
    const timestamp = nowSec();
    const body = '{"eventType":"asset.updated"}';
    const keys = [decodeSecret(current), decodeSecret(previous)];
    const header = signatureHeader(keys, 'msg_r', timestamp, body);

    expect(header.split(' ')).toHaveLength(2);
    expect(header.split(' ').every((part) => part.startsWith('v1,'))).toBe(true);
    const headers = {
      'webhook-id': 'msg_r',
      'webhook-timestamp': String(timestamp),
      'webhook-signature': header,
    };
    expect(new StandardWebhook(current).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new StandardWebhook(previous).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('refuses to produce an empty header', () => {
    expect(() => signatureHeader([], 'msg', 1, '{}')).toThrow(InvalidSecretError);
  });
});

describe('hmacHex', () => {
  // Expected values from `echo -n <body> | openssl dgst -sha256 -hmac <key>`.
  it('matches openssl for the RFC-style fox vector', () => {
    expect(hmacHex('key', 'The quick brown fox jumps over the lazy dog')).toBe(
      'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    );
  });

  it('matches openssl for a Media Pocket style JSON body, as string or Buffer', () => {
    const body = '{"event":"ASSET_ADDED","id":42}';
    const expected = 'b5e30db34afae9d8bb14b53a4d726a4bb9a82b751625d566725ba36f875e640b';
    expect(hmacHex('media-pocket-key', body)).toBe(expected);
    expect(hmacHex(Buffer.from('media-pocket-key'), Buffer.from(body))).toBe(expected);
  });
});
