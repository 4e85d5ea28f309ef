import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  classifyError,
  classifyStatus,
  DeliveryError,
  RETRYABLE_KINDS,
  successStatuses,
  toDeliveryError,
  type ErrorKind,
} from './errors.js';

const servers: http.Server[] = [];
const agents: Agent[] = [];

async function listen(handler?: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

/** The error a real request fails with (the body is read, so body-phase errors surface too). */
async function failureOf(url: string, options: Parameters<typeof request>[1] = {}): Promise<unknown> {
  try {
    const res = await request(url, options);
    await res.body.text();
  } catch (err) {
    return err;
  }
  throw new Error(`expected ${url} to fail`);
}

function agent(options: ConstructorParameters<typeof Agent>[0]): Agent {
  const a = new Agent(options);
  agents.push(a);
  return a;
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
});

describe('classifyError on real undici failures against 127.0.0.1', () => {
  it('calls a refused connection (nothing listening on the port) connect', async () => {
    const { server, url } = await listen();
    servers.splice(servers.indexOf(server), 1);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await failureOf(`${url}/hook`);
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(classifyError(err)).toEqual({ kind: 'connect', message: expect.stringContaining('ECONNREFUSED') });
  });

  it('calls a connection the receiver resets connect', async () => {
    const { server, url } = await listen();
    server.on('connection', (socket) => socket.destroy());
    const err = await failureOf(`${url}/hook`);
    expect((err as { code?: string }).code).toBe('UND_ERR_SOCKET');
    expect(classifyError(err).kind).toBe('connect');
  });

  it('calls an answer that is not HTTP at all connect', async () => {
    const { server, url } = await listen();
    server.on('connection', (socket) => socket.end('\x00\x01 this is not HTTP \xff\xfe\r\n\r\n'));
    const err = await failureOf(`${url}/hook`);
    expect((err as { name?: string }).name).toBe('HTTPParserError');
    expect(classifyError(err).kind).toBe('connect');
  });

  it('calls a receiver that never answers within headersTimeout a timeout', async () => {
    const { url } = await listen(() => {
      /* never answers */
    });
    const err = await failureOf(`${url}/hook`, { headersTimeout: 50 });
    expect((err as { code?: string }).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(classifyError(err)).toEqual({ kind: 'timeout', message: 'Headers Timeout Error' });
  });

  it('calls a receiver that stalls mid-body past bodyTimeout a timeout', async () => {
    const { url } = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    const err = await failureOf(`${url}/hook`, { bodyTimeout: 50 });
    expect((err as { code?: string }).code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(classifyError(err).kind).toBe('timeout');
  });

  it('calls an AbortSignal.timeout abort a timeout', async () => {
    const { url } = await listen(() => {
      /* never answers */
    });
    const err = await failureOf(`${url}/hook`, { signal: AbortSignal.timeout(50) });
    expect((err as Error).name).toBe('TimeoutError');
    expect(classifyError(err).kind).toBe('timeout');
  });

  it('calls a body larger than maxResponseSize response_too_large (Content-Length and chunked)', async () => {
    const { url } = await listen((req, res) => {
      if (req.url === '/length') {
        res.setHeader('content-length', 10_000);
        res.end('x'.repeat(10_000));
      } else {
        res.write('x'.repeat(5_000));
        res.end('x'.repeat(5_000));
      }
    });
    const dispatcher = agent({ maxResponseSize: 1024 });
    for (const path of ['/length', '/chunked']) {
      const err = await failureOf(`${url}${path}`, { dispatcher });
      expect((err as { code?: string }).code, path).toBe('UND_ERR_RES_EXCEEDED_MAX_SIZE');
      expect(classifyError(err).kind, path).toBe('response_too_large');
    }
  });

  it('calls an unresolvable .invalid host dns (lookup injected, no real DNS)', async () => {
    const lookups: string[] = [];
    const dispatcher = agent({
      connect: {
        lookup: ((hostname, _options, callback) => {
          lookups.push(hostname);
          const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
            code: 'ENOTFOUND',
            errno: -3008,
            syscall: 'getaddrinfo',
            hostname,
          });
          process.nextTick(() => callback(err, '', 4));
        }) satisfies LookupFunction,
      },
    });
    const err = await failureOf('http://receiver.herald-test.invalid/hook', { dispatcher });
    expect(lookups).toEqual(['receiver.herald-test.invalid']);
    expect(classifyError(err)).toEqual({ kind: 'dns', message: 'getaddrinfo ENOTFOUND receiver.herald-test.invalid' });
  });

  it('calls a TLS handshake with a plain-HTTP receiver tls', async () => {
    const { url } = await listen((_req, res) => res.end('plain'));
    const err = await failureOf(url.replace('http:', 'https:'));
    expect((err as { code?: string }).code).toMatch(/^ERR_SSL_/);
    expect(classifyError(err).kind).toBe('tls');
  });

  it('calls a URL that does not parse invalid_url', async () => {
    const err = await failureOf('not a url');
    expect(classifyError(err).kind).toBe('invalid_url');
  });
});

describe('classifyError by code, class and kind (never message text)', () => {
  const withCode = (code: string, message = 'boom'): Error => Object.assign(new Error(message), { code });

  it.each<[string, ErrorKind]>([
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
    ['UND_ERR_BODY_TIMEOUT', 'timeout'],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
    ['ETIMEDOUT', 'timeout'],
    ['ENOTFOUND', 'dns'],
    ['EAI_AGAIN', 'dns'],
    ['ECONNREFUSED', 'connect'],
    ['ECONNRESET', 'connect'],
    ['EPIPE', 'connect'],
    ['UND_ERR_SOCKET', 'connect'],
    ['EHOSTUNREACH', 'connect'],
    ['ENETUNREACH', 'connect'],
    ['HPE_INVALID_CONSTANT', 'connect'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls'],
    ['CERT_HAS_EXPIRED', 'tls'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls'],
    ['UND_ERR_RES_EXCEEDED_MAX_SIZE', 'response_too_large'],
    ['ERR_INVALID_URL', 'invalid_url'],
    ['ERR_SOMETHING_ELSE', 'internal'],
  ])('%s → %s', (code, kind) => {
    expect(classifyError(withCode(code)).kind).toBe(kind);
  });

  it('ignores message text: "timeout" or "ECONNREFUSED" in a message alone is internal', () => {
    expect(classifyError(new Error('connect ECONNREFUSED 10.0.0.1:443 timeout')).kind).toBe('internal');
  });

  it('recognises undici error classes by name and DOM timeouts/aborts', () => {
    const named = (name: string): Error => Object.assign(new Error('x'), { name });
    expect(classifyError(named('HeadersTimeoutError')).kind).toBe('timeout');
    expect(classifyError(named('BodyTimeoutError')).kind).toBe('timeout');
    expect(classifyError(named('ConnectTimeoutError')).kind).toBe('timeout');
    expect(classifyError(new DOMException('timed out', 'TimeoutError')).kind).toBe('timeout');
    expect(classifyError(new DOMException('aborted', 'AbortError')).kind).toBe('timeout');
  });

  it('takes kind ssrf_blocked / oauth from the error itself, even over a recognised cause', () => {
    const ssrf = Object.assign(new Error('127.0.0.1 is a loopback address'), { kind: 'ssrf_blocked' });
    expect(classifyError(ssrf)).toEqual({ kind: 'ssrf_blocked', message: '127.0.0.1 is a loopback address' });
    const oauth = Object.assign(new Error('token endpoint unreachable', { cause: withCode('ECONNREFUSED') }), {
      kind: 'oauth',
    });
    expect(classifyError(oauth).kind).toBe('oauth');
    expect(classifyError(new DeliveryError('oauth', 'token rejected')).kind).toBe('oauth');
  });

  it('walks cause chains and AggregateError members', () => {
    const fetchStyle = new TypeError('fetch failed', { cause: new Error('wrapper', { cause: withCode('ENOTFOUND', 'getaddrinfo ENOTFOUND x.invalid') }) });
    expect(classifyError(fetchStyle)).toEqual({ kind: 'dns', message: 'getaddrinfo ENOTFOUND x.invalid' });
    const happyEyeballs = new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'all failed');
    expect(classifyError(happyEyeballs).kind).toBe('connect');
  });

  it('survives cyclic causes and non-Error throwables', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(classifyError(a)).toEqual({ kind: 'internal', message: 'a' });
    expect(classifyError('just a string')).toEqual({ kind: 'internal', message: 'just a string' });
    expect(classifyError(undefined)).toEqual({ kind: 'internal', message: 'unknown error' });
    expect(classifyError(null)).toEqual({ kind: 'internal', message: 'null' });
    expect(classifyError({ code: 'ECONNRESET' })).toEqual({ kind: 'connect', message: 'ECONNRESET' });
  });
});

describe('DeliveryError', () => {
  it('derives retryable from the kind: only ssrf_blocked and invalid_url are final', () => {
    const final = (Object.keys(RETRYABLE_KINDS) as ErrorKind[]).filter((k) => !RETRYABLE_KINDS[k]);
    expect(final.sort()).toEqual(['invalid_url', 'ssrf_blocked']);
    expect(new DeliveryError('timeout', 't').retryable).toBe(true);
    expect(new DeliveryError('ssrf_blocked', 's').retryable).toBe(false);
    expect(new DeliveryError('internal', 'i', { retryable: false }).retryable).toBe(false);
  });

  it('toDeliveryError normalises any throwable and keeps the original as cause', () => {
    const original = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const normalised = toDeliveryError(original);
    expect(normalised).toBeInstanceOf(DeliveryError);
    expect(normalised.kind).toBe('connect');
    expect(normalised.retryable).toBe(true);
    expect(normalised.cause).toBe(original);
    const already = new DeliveryError('http_status', 'HTTP 500', { status: 500 });
    expect(toDeliveryError(already)).toBe(already);
    expect(already.status).toBe(500);
  });
});

describe('classifyStatus', () => {
  const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

  it.each<[number, string]>([
    [200, 'success'],
    [201, 'success'],
    [202, 'success'],
    [204, 'success'],
    [299, 'success'],
    [100, 'retry'],
    [301, 'retry'],
    [302, 'retry'],
    [304, 'retry'],
    [307, 'retry'],
    [308, 'retry'],
    [400, 'retry'],
    [401, 'retry'],
    [404, 'retry'],
    [410, 'gone'],
    [429, 'retry'],
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
  ])('%i → %s', (status, outcome) => {
    expect(classifyStatus(status, {}, NOW).outcome).toBe(outcome);
  });

  it('passes the Retry-After of a 429 or 503 along, in seconds or as a date', () => {
    expect(classifyStatus(429, { 'retry-after': '120' }, NOW)).toEqual({ outcome: 'retry', retryAfterMs: 120_000 });
    expect(classifyStatus(503, { 'Retry-After': 'Wed, 15 Jan 2025 12:05:00 GMT' }, NOW)).toEqual({
      outcome: 'retry',
      retryAfterMs: 300_000,
    });
    expect(classifyStatus(503, { 'retry-after': ['30', '60'] }, NOW)).toEqual({ outcome: 'retry', retryAfterMs: 30_000 });
  });

  it('drops an unparseable Retry-After and ignores it on other statuses', () => {
    expect(classifyStatus(429, { 'retry-after': 'later' }, NOW)).toEqual({ outcome: 'retry' });
    expect(classifyStatus(500, { 'retry-after': '120' }, NOW)).toEqual({ outcome: 'retry' });
  });

  it('lets a profile narrow success to "200 or 202 only"', () => {
    const isSuccess = successStatuses(200, 202);
    expect(classifyStatus(200, {}, NOW, { isSuccess })).toEqual({ outcome: 'success' });
    expect(classifyStatus(202, {}, NOW, { isSuccess })).toEqual({ outcome: 'success' });
    expect(classifyStatus(201, {}, NOW, { isSuccess })).toEqual({ outcome: 'retry' });
    expect(classifyStatus(204, {}, NOW, { isSuccess })).toEqual({ outcome: 'retry' });
    expect(classifyStatus(410, {}, NOW, { isSuccess })).toEqual({ outcome: 'gone' });
    expect(classifyStatus(201, {}, NOW, isSuccess)).toEqual({ outcome: 'retry' }); // predicate alone
    expect(classifyStatus(202, {}, NOW, isSuccess)).toEqual({ outcome: 'success' });
  });
});
