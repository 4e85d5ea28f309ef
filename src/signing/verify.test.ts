import { createServer, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { decodeSecret, generateSecret, sign, signatureHeader } from './standard-webhooks.js';
import {
  InvalidHeaderError,
  InvalidPayloadError,
  InvalidSecretError,
  InvalidSignatureError,
  MissingHeaderError,
  TimestampTooNewError,
  TimestampTooOldError,
  verify,
  Webhook,
  WebhookVerificationError,
  type VerifyOptions,
} from './verify.js';

const NOW_MS = 1_700_000_000_000;
const NOW_SEC = NOW_MS / 1000;
const now = (): number => NOW_MS;
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BODY = JSON.stringify({ eventType: 'asset.created', asset: { id: 'a1', filename: 'x.png' } });

/** Headers as Herald sends them, signed with `secret` at `timestampSec`. */
function signedHeaders(
  options: { secret?: string; timestampSec?: number; body?: string; id?: string } = {},
): Record<string, string> {
  const { secret = SECRET, timestampSec = NOW_SEC, body = BODY, id = 'msg_1' } = options;
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': sign(decodeSecret(secret), id, timestampSec, body),
  };
}

function verifyAtNow(overrides: Partial<VerifyOptions> = {}): ReturnType<typeof verify> {
  return verify({ headers: signedHeaders(), body: BODY, secret: SECRET, now, ...overrides });
}

describe('verify', () => {
  it('returns id, timestamp and the parsed body of a valid delivery', () => {
    expect(verifyAtNow()).toEqual({
      id: 'msg_1',
      timestamp: new Date(NOW_MS),
      body: JSON.parse(BODY),
    });
  });

  it('accepts the body as string, Buffer, Uint8Array, another typed array view or ArrayBuffer', async () => {
    const bytes = new TextEncoder().encode(BODY);
    // What a fetch handler has: `await request.arrayBuffer()`.
    const arrayBuffer = await new Request('http://localhost/', { method: 'POST', body: BODY }).arrayBuffer();
    const inLargerBuffer = new Uint8Array(bytes.length + 8);
    inLargerBuffer.set(bytes, 4);
    const view = new DataView(inLargerBuffer.buffer, 4, bytes.length);
    for (const body of [BODY, Buffer.from(BODY), bytes, arrayBuffer, view]) {
      expect(verifyAtNow({ body }).id).toBe('msg_1');
    }
    expect(new Webhook(SECRET, { now }).verify(arrayBuffer, signedHeaders())).toEqual(JSON.parse(BODY));
  });

  it('names the mistake when the body is parsed JSON or missing, or the headers are missing', () => {
    const raw = /^body must be the raw request body \(string, Buffer, Uint8Array or ArrayBuffer\), not parsed JSON/;
    // What express.json() leaves in req.body, and a forgotten field; typed as a JavaScript caller sees them.
    for (const body of [JSON.parse(BODY), undefined, null, 42] as unknown as string[]) {
      expect(() => verifyAtNow({ body })).toThrow(TypeError);
      expect(() => verifyAtNow({ body })).toThrow(raw);
    }
    expect(() => verifyAtNow({ body: JSON.parse(BODY) as string })).toThrow(/not parsed JSON; got an object$/);
    for (const headers of [undefined, null, 'webhook-id: msg_1'] as unknown as Record<string, string>[]) {
      expect(() => verifyAtNow({ headers })).toThrow(TypeError);
      expect(() => verifyAtNow({ headers })).toThrow(/^headers must be the request's headers \(Node req\.headers or a fetch Headers\)/);
    }
  });

  it('accepts a signature made by the standardwebhooks library', () => {
    const id = 'msg_lib';
    const timestampSec = Math.floor(Date.now() / 1000);
    const signature = new StandardWebhook(SECRET).sign(id, new Date(timestampSec * 1000), BODY);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestampSec),
      'webhook-signature': signature,
    };
    expect(verify({ headers, body: BODY, secret: SECRET }).body).toEqual(JSON.parse(BODY));
  });

  it('rejects a tampered body', () => {
    const tampered = BODY.replace('a1', 'a2');
    expect(() => verifyAtNow({ body: tampered })).toThrow(InvalidSignatureError);
  });

  it('rejects a signature made with another secret', () => {
    expect(() => verifyAtNow({ secret: generateSecret() })).toThrow(InvalidSignatureError);
  });

  it('rejects a tampered id, since the id is part of the signed content', () => {
    const headers = { ...signedHeaders(), 'webhook-id': 'msg_2' };
    expect(() => verifyAtNow({ headers })).toThrow(InvalidSignatureError);
  });

  it('rejects a timestamp older than the default 5 minute tolerance', () => {
    const headers = signedHeaders({ timestampSec: NOW_SEC - 301 });
    expect(() => verifyAtNow({ headers })).toThrow(TimestampTooOldError);
    expect(verifyAtNow({ headers: signedHeaders({ timestampSec: NOW_SEC - 300 }) }).id).toBe('msg_1');
  });

  it('rejects a timestamp further than the tolerance in the future', () => {
    const headers = signedHeaders({ timestampSec: NOW_SEC + 301 });
    expect(() => verifyAtNow({ headers })).toThrow(TimestampTooNewError);
    expect(verifyAtNow({ headers: signedHeaders({ timestampSec: NOW_SEC + 300 }) }).id).toBe('msg_1');
  });

  it('checks the timestamp even if the signature over it is valid (replay protection)', () => {
    const headers = signedHeaders({ timestampSec: NOW_SEC - 3600 });
    expect(() => verifyAtNow({ headers })).toThrow(
      expect.objectContaining({ code: 'timestamp_too_old', timestamp: new Date((NOW_SEC - 3600) * 1000) }),
    );
  });

  it('honours a configured tolerance', () => {
    const headers = signedHeaders({ timestampSec: NOW_SEC - 60 });
    expect(() => verifyAtNow({ headers, toleranceSeconds: 30 })).toThrow(TimestampTooOldError);
    expect(verifyAtNow({ headers, toleranceSeconds: 60 }).id).toBe('msg_1');
    expect(() => verifyAtNow({ toleranceSeconds: -1 })).toThrow(RangeError);
  });

  it('refuses a clock that gives no time instead of skipping the timestamp check', () => {
    // Signed in 1970: only a tolerance check that never ran would let it through.
    const headers = signedHeaders({ timestampSec: 1 });
    for (const broken of [() => Number.NaN, () => Infinity, () => undefined] as unknown as (() => number)[]) {
      expect(() => verifyAtNow({ headers, now: broken })).toThrow(RangeError);
      expect(() => verifyAtNow({ headers, now: broken })).toThrow(/^now\(\) must return milliseconds since the epoch/);
      expect(() => new Webhook(SECRET, { now: broken }).verify(BODY, headers)).toThrow(RangeError);
    }
  });

  it('refuses a timestamp no Date can hold as a malformed header, whatever the tolerance', () => {
    // 15 digits pass the format; as milliseconds they are past the largest Date (year 275760).
    const headers = signedHeaders({ timestampSec: 999_999_999_999_999 });
    for (const toleranceSeconds of [undefined, 1e16]) {
      expect(() => verifyAtNow({ headers, toleranceSeconds })).toThrow(InvalidHeaderError);
      expect(() => verifyAtNow({ headers, toleranceSeconds })).toThrow(/^webhook-timestamp is out of range$/);
    }
    // The latest second a Date holds is still a timestamp, here too far in the future.
    const latest = signedHeaders({ timestampSec: 8_640_000_000_000 });
    expect(() => verifyAtNow({ headers: latest })).toThrow(
      expect.objectContaining({ code: 'timestamp_too_new', timestamp: new Date(8_640_000_000_000_000) }),
    );
  });

  it('passes when only the second of two signatures is valid (rotation)', () => {
    const other = decodeSecret(generateSecret());
    const header = signatureHeader([other, decodeSecret(SECRET)], 'msg_1', NOW_SEC, BODY);
    const headers = { ...signedHeaders(), 'webhook-signature': header };
    expect(verifyAtNow({ headers }).id).toBe('msg_1');
  });

  it('passes when the second of two configured secrets signed (receiver-side rotation)', () => {
    expect(verifyAtNow({ secret: [generateSecret(), SECRET] }).id).toBe('msg_1');
  });

  it('ignores unknown signature versions and fails if no v1 one matches', () => {
    const valid = signedHeaders()['webhook-signature'];
    const withUnknown = { ...signedHeaders(), 'webhook-signature': `v1a,${valid.slice(3)} ${valid}` };
    expect(verifyAtNow({ headers: withUnknown }).id).toBe('msg_1');
    const onlyUnknown = { ...signedHeaders(), 'webhook-signature': `v2,${valid.slice(3)}` };
    expect(() => verifyAtNow({ headers: onlyUnknown })).toThrow(InvalidSignatureError);
  });

  it('rejects a truncated signature without throwing from timingSafeEqual', () => {
    const valid = signedHeaders()['webhook-signature'];
    const headers = { ...signedHeaders(), 'webhook-signature': valid.slice(0, -4) };
    expect(() => verifyAtNow({ headers })).toThrow(InvalidSignatureError);
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'names the missing header %s',
    (name) => {
      const headers: Record<string, string | undefined> = { ...signedHeaders(), [name]: undefined };
      expect(() => verifyAtNow({ headers })).toThrow(MissingHeaderError);
      expect(() => verifyAtNow({ headers })).toThrow(expect.objectContaining({ header: name }));
    },
  );

  it('treats an empty header as missing', () => {
    const headers = { ...signedHeaders(), 'webhook-signature': '' };
    expect(() => verifyAtNow({ headers })).toThrow(MissingHeaderError);
  });

  it('rejects a non-numeric timestamp header', () => {
    const headers = { ...signedHeaders(), 'webhook-timestamp': '1e9' };
    expect(() => verifyAtNow({ headers })).toThrow(InvalidHeaderError);
  });

  it('matches header names case-insensitively', () => {
    const headers = Object.fromEntries(
      Object.entries(signedHeaders()).map(([name, value]) => [name.toUpperCase(), value]),
    );
    expect(verifyAtNow({ headers }).id).toBe('msg_1');
  });

  it('reads numbers in a hand-built headers object as their decimal text, as standardwebhooks does', () => {
    const { 'webhook-signature': signature } = signedHeaders({ id: '12345' });
    const headers = { 'webhook-id': 12345, 'webhook-timestamp': NOW_SEC, 'webhook-signature': signature };
    expect(verifyAtNow({ headers })).toMatchObject({ id: '12345', timestamp: new Date(NOW_MS) });
    expect(new Webhook(SECRET, { now }).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it('names a header whose value no request can carry (a boolean, an object) with a TypeError', () => {
    const cases: Array<[string, unknown]> = [
      ['webhook-timestamp', true],
      ['webhook-id', { id: 'msg_1' }],
      ['webhook-signature', [signedHeaders()['webhook-signature'], null]],
    ];
    for (const [name, value] of cases) {
      const headers = { ...signedHeaders(), [name]: value } as unknown as VerifyOptions['headers'];
      expect(() => verifyAtNow({ headers }), name).toThrow(TypeError);
      expect(() => verifyAtNow({ headers }), name).toThrow(`headers['${name}'] must be a string, a number or an array of them`);
    }
  });

  it('reads a fetch Headers object', () => {
    expect(verifyAtNow({ headers: new Headers(signedHeaders()) }).id).toBe('msg_1');
  });

  it('accepts svix-* headers', () => {
    const headers = Object.fromEntries(
      Object.entries(signedHeaders()).map(([name, value]) => [name.replace('webhook-', 'Svix-'), value]),
    );
    expect(verifyAtNow({ headers }).id).toBe('msg_1');
  });

  it('joins repeated signature headers given as an array', () => {
    const valid = signedHeaders()['webhook-signature'];
    const headers = { ...signedHeaders(), 'webhook-signature': ['v1,bm90IHZhbGlk', valid] };
    expect(verifyAtNow({ headers }).id).toBe('msg_1');
  });

  it('accepts repeated signature header lines as a Node server and fetch Headers join them (", ")', async () => {
    const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': valid } = signedHeaders();
    const headers = await headersNodeReceives(
      `POST /hooks HTTP/1.1\r\nHost: 127.0.0.1\r\nwebhook-id: ${id}\r\nwebhook-timestamp: ${timestamp}\r\n` +
        `webhook-signature: ${valid}\r\nwebhook-signature: v1,bm90IHZhbGlk\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    expect(headers['webhook-signature']).toBe(`${valid}, v1,bm90IHZhbGlk`);
    expect(verifyAtNow({ headers }).id).toBe('msg_1');

    const fetchHeaders = new Headers({ 'webhook-id': id, 'webhook-timestamp': timestamp });
    fetchHeaders.append('webhook-signature', valid);
    fetchHeaders.append('webhook-signature', 'v1,bm90IHZhbGlk');
    expect(verifyAtNow({ headers: fetchHeaders }).id).toBe('msg_1');
  });

  it('rejects an invalid secret with InvalidSecretError', () => {
    expect(() => verifyAtNow({ secret: 'whsec_%%%' })).toThrow(InvalidSecretError);
    expect(() => verifyAtNow({ secret: [] })).toThrow(InvalidSecretError);
  });

  it('returns undefined for an empty body and rejects a signed non-JSON body', () => {
    expect(verifyAtNow({ headers: signedHeaders({ body: '' }), body: '' }).body).toBeUndefined();
    expect(() => verifyAtNow({ headers: signedHeaders({ body: 'not json' }), body: 'not json' })).toThrow(
      InvalidPayloadError,
    );
  });

  it('throws only WebhookVerificationError subclasses with a code for bad deliveries', () => {
    const failures: Array<Partial<VerifyOptions>> = [
      { body: '{}' },
      { headers: {} },
      { headers: signedHeaders({ timestampSec: 0 }) },
      { secret: 'whsec_!' },
    ];
    for (const overrides of failures) {
      expect(() => verifyAtNow(overrides)).toThrow(WebhookVerificationError);
      expect(() => verifyAtNow(overrides)).toThrow(expect.objectContaining({ code: expect.any(String) }));
    }
  });
});

describe('Webhook (standardwebhooks drop-in)', () => {
  it('verifies what the standardwebhooks library signed and returns the parsed body', () => {
    const timestamp = new Date();
    const headers = {
      'webhook-id': 'msg_a',
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': new StandardWebhook(SECRET).sign('msg_a', timestamp, BODY),
    };
    expect(new Webhook(SECRET).verify(BODY, headers)).toEqual(JSON.parse(BODY));
  });

  it('signs exactly like the standardwebhooks library', () => {
    const date = new Date(1_614_265_330_000);
    expect(new Webhook(SECRET).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', date, '{"test": 2432232314}')).toBe(
      new StandardWebhook(SECRET).sign('msg_p5jXN8AQM9LWM0D4loKWxJek', date, '{"test": 2432232314}'),
    );
  });

  it('supports the raw secret format of the library', () => {
    const date = new Date();
    // Characters past Latin-1 and outside the BMP are read as the library reads them.
    for (const raw of ['a raw shared key', 'clé secrète', 'ключ🔑 key', '🔑']) {
      expect(new Webhook(raw, { format: 'raw' }).sign('msg', date, '{}'), raw).toBe(new StandardWebhook(raw, { format: 'raw' }).sign('msg', date, '{}'));
    }
  });

  it('throws typed errors and honours injected time and tolerance', () => {
    const webhook = new Webhook(SECRET, { now, toleranceSeconds: 10 });
    expect(webhook.verify(BODY, signedHeaders({ timestampSec: NOW_SEC - 10 }))).toEqual(JSON.parse(BODY));
    expect(() => webhook.verify(BODY, signedHeaders({ timestampSec: NOW_SEC - 11 }))).toThrow(
      TimestampTooOldError,
    );
    expect(() => webhook.verify('{}', signedHeaders())).toThrow(InvalidSignatureError);
    expect(() => new Webhook('whsec_')).toThrow(InvalidSecretError);
  });
});

/** The `req.headers` a real node:http server makes of `raw`, sent byte for byte over a socket. */
async function headersNodeReceives(raw: string): Promise<IncomingHttpHeaders> {
  let received: IncomingHttpHeaders | undefined;
  const server = createServer((req, res) => {
    received = req.headers;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.end(raw);
    socket.resume();
    await new Promise((resolve, reject) => socket.on('close', resolve).on('error', reject));
  } finally {
    server.close();
  }
  if (!received) throw new Error('the server received no request');
  return received;
}
