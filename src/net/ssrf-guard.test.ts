import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { Agent, request } from 'undici';
import { AllowList } from './cidr.js';
import {
  DnsLookupError,
  InvalidUrlError,
  SsrfBlockedError,
  SsrfGuard,
  createGuardedConnector,
  type ResolvedAddress,
  type Resolver,
} from './ssrf-guard.js';

// Every name a test may resolve. Nothing here is ever connected to unless it is 127.0.0.1:
// blocked destinations are refused before any socket is opened.
const PUBLIC_V4 = '93.184.215.14';
const PUBLIC_V6 = '2606:4700:4700::1111';

function fakeResolver(table: Record<string, ResolvedAddress[] | (() => ResolvedAddress[])>): Resolver {
  return async (hostname) => {
    const entry = table[hostname];
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return typeof entry === 'function' ? entry() : entry;
  };
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

/** First resolution answers public, every later one answers `then` (DNS rebinding). */
function rebinding(then: string): () => ResolvedAddress[] {
  let calls = 0;
  return () => (calls++ === 0 ? [v4(PUBLIC_V4)] : [v4(then)]);
}

const resolver = fakeResolver({
  'public.test': [v4(PUBLIC_V4), v6(PUBLIC_V6)],
  'evil.test': [v4('10.0.0.1')],
  'metadata.test': [v4('169.254.169.254')],
  'mixed.test': [v4(PUBLIC_V4), v4('192.168.1.1')],
  'mapped.test': [v6('::ffff:127.0.0.1')],
  'empty.test': [],
  'garbage.test': [v4('not-an-ip')],
  localhost: [v4('127.0.0.1')],
});

function guardWith(allow: string, resolve: Resolver = resolver, alwaysAllowHosts?: string[]): SsrfGuard {
  return new SsrfGuard({ allow: AllowList.fromString(allow), resolve, alwaysAllowHosts });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * undici 7.30 rejects with the connector's error unchanged; walking the cause chain keeps the
 * tests meaningful should a later version wrap it.
 */
function findSsrfError(error: unknown): SsrfBlockedError | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof SsrfBlockedError) return e;
  }
  return undefined;
}

describe('SsrfGuard.checkUrl', () => {
  const guard = guardWith('');

  it('accepts http(s) URLs that resolve only to public addresses', async () => {
    await expect(guard.checkUrl('https://public.test/hook')).resolves.toBeUndefined();
    await expect(guard.checkUrl(`http://${PUBLIC_V4}:8080/`)).resolves.toBeUndefined();
    await expect(guard.checkUrl(`https://[${PUBLIC_V6}]/`)).resolves.toBeUndefined();
  });

  it('refuses a name resolving to a private address; the message names host and kind, not the address', async () => {
    const error = await rejection(guard.checkUrl('https://evil.test/hook'));
    expect(error).toBeInstanceOf(SsrfBlockedError);
    const blocked = error as SsrfBlockedError;
    expect(blocked.kind).toBe('ssrf_blocked');
    expect(blocked.host).toBe('evil.test');
    expect(blocked.address).toBe('10.0.0.1');
    expect(blocked.addressClass).toBe('private');
    // API clients read this message: an internal name's internal address is not theirs to learn.
    expect(blocked.message).toBe(
      'destination evil.test resolves to a private address, which is not allowed; add that address to HERALD_ALLOWED_TARGETS to permit it',
    );
  });

  it.each([
    ['http://metadata.test/', 'a link-local address', '169.254.169.254'],
    ['http://mapped.test/', 'a loopback address', '127.0.0.1'],
    ['http://mixed.test/', 'a private address', '192.168.1.1'],
    ['http://localhost/', 'a loopback address', '127.0.0.1'],
  ])('refuses %s as resolving to %s without naming %s', async (url, kind, address) => {
    const message = ((await rejection(guard.checkUrl(url))) as Error).message;
    expect(message).toContain(`resolves to ${kind},`);
    expect(message).not.toContain(address);
    expect(message).not.toMatch(/\d+\.\d+\.\d+\.\d+|::/);
  });

  it('refuses IP literals with the short message, which names the address the client typed', async () => {
    const error = await rejection(guard.checkUrl('http://10.0.0.5/'));
    expect((error as Error).message).toBe(
      'destination 10.0.0.5 (private) is not allowed; add it to HERALD_ALLOWED_TARGETS to permit it',
    );
    expect(((await rejection(guard.checkUrl('http://[::1]/'))) as Error).message).toBe(
      'destination ::1 (loopback) is not allowed; add it to HERALD_ALLOWED_TARGETS to permit it',
    );
  });

  it.each([
    ['http://127.0.0.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:7f00:1]/', 'loopback'],
    ['http://[64:ff9b::a9fe:a9fe]/', 'link_local'],
    ['http://169.254.169.254/latest/meta-data/', 'link_local'],
    ['http://metadata.test/', 'link_local'],
    ['http://100.100.100.200/', 'cgnat'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://[::]/', 'unspecified'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://[fe80::1]/', 'link_local'],
    ['http://[fd00::1]/', 'private'],
    ['http://mapped.test/', 'loopback'],
    ['http://mixed.test/', 'private'], // one bad address among good ones is enough
  ])('refuses %s (%s)', async (url, cls) => {
    const error = await rejection(guard.checkUrl(url));
    expect(error).toBeInstanceOf(SsrfBlockedError);
    expect((error as SsrfBlockedError).addressClass).toBe(cls);
  });

  it.each([
    ['not a url', 'not a valid URL'],
    ['ftp://public.test/', '"ftp:"'],
    ['file:///etc/passwd', '"file:"'],
    ['gopher://public.test/', '"gopher:"'],
    ['https://user:secret@public.test/', 'credentials'],
    ['https://user@public.test/', 'credentials'],
  ])('rejects %j as an invalid URL', async (url, fragment) => {
    const error = await rejection(guard.checkUrl(url));
    expect(error).toBeInstanceOf(InvalidUrlError);
    expect((error as InvalidUrlError).kind).toBe('invalid_url');
    expect((error as Error).message).toContain(fragment);
    expect((error as Error).message).not.toContain('secret');
  });

  it.each(['https://nowhere.test/', 'https://empty.test/', 'https://garbage.test/'])(
    'reports resolution failure for %s as a DnsLookupError',
    async (url) => {
      const error = await rejection(guard.checkUrl(url));
      expect(error).toBeInstanceOf(DnsLookupError);
      expect((error as DnsLookupError).kind).toBe('dns');
    },
  );

  it('keeps the resolver error code', async () => {
    const error = (await rejection(guard.checkUrl('https://nowhere.test/'))) as DnsLookupError;
    expect(error.code).toBe('ENOTFOUND');
    expect(error.host).toBe('nowhere.test');
  });
});

describe('allow-list', () => {
  const guard = guardWith('127.0.0.0/8', fakeResolver({ 'evil.test': [v4('10.0.0.1')], 'lo.test': [v4('127.0.0.2')] }));

  it('lets allowed ranges through and nothing else', async () => {
    await expect(guard.checkUrl('http://127.0.0.1:9000/')).resolves.toBeUndefined();
    await expect(guard.checkUrl('http://lo.test/')).resolves.toBeUndefined();
    await expect(guard.checkUrl('http://[::ffff:127.0.0.1]/')).resolves.toBeUndefined();
    await expect(guard.checkUrl('http://10.0.0.1/')).rejects.toBeInstanceOf(SsrfBlockedError);
    await expect(guard.checkUrl('http://evil.test/')).rejects.toBeInstanceOf(SsrfBlockedError);
    await expect(guard.checkUrl('http://[::1]/')).rejects.toBeInstanceOf(SsrfBlockedError);
  });
});

describe('alwaysAllowHosts', () => {
  const guard = guardWith('', resolver, ['localhost:8080', '[::1]:9000', 'evil.test']);

  it('exempts own inbox origins', async () => {
    await expect(guard.checkUrl('http://localhost:8080/inbox/1')).resolves.toBeUndefined();
    await expect(guard.checkUrl('http://LOCALHOST.:8080/inbox/1')).resolves.toBeUndefined();
    await expect(guard.checkUrl('http://[0:0::1]:9000/')).resolves.toBeUndefined();
    await expect(guard.checkUrl('https://evil.test/')).resolves.toBeUndefined();
  });

  it('does not exempt other ports of the same host', async () => {
    await expect(guard.checkUrl('http://localhost:8081/')).rejects.toBeInstanceOf(SsrfBlockedError);
    await expect(guard.checkUrl('http://[::1]:9001/')).rejects.toBeInstanceOf(SsrfBlockedError);
  });

  it('rejects malformed entries', () => {
    expect(() => guardWith('', resolver, ['a:b:c'])).toThrow('"a:b:c"');
    expect(() => guardWith('', resolver, ['bad host'])).toThrow('"bad host"');
  });
});

describe('SsrfGuard.lookup (dns.lookup signature)', () => {
  const guard = guardWith('');

  function lookupAll(hostname: string, family?: number): Promise<LookupAddress[]> {
    return new Promise((resolve, reject) => {
      guard.lookup(hostname, { all: true, family }, (err, addresses) =>
        err ? reject(err) : resolve(addresses as LookupAddress[]),
      );
    });
  }

  function lookupOne(hostname: string): Promise<[string, number | undefined]> {
    return new Promise((resolve, reject) => {
      guard.lookup(hostname, {}, (err, address, family) => (err ? reject(err) : resolve([address as string, family])));
    });
  }

  it('returns all addresses, one address, or one family', async () => {
    expect(await lookupAll('public.test')).toEqual([v4(PUBLIC_V4), v6(PUBLIC_V6)]);
    expect(await lookupAll('public.test', 6)).toEqual([v6(PUBLIC_V6)]);
    expect(await lookupOne('public.test')).toEqual([PUBLIC_V4, 4]);
  });

  it('refuses forbidden addresses with SsrfBlockedError', async () => {
    await expect(lookupAll('evil.test')).rejects.toBeInstanceOf(SsrfBlockedError);
    await expect(lookupOne('evil.test')).rejects.toBeInstanceOf(SsrfBlockedError);
    // Filtering by family must not hide a forbidden address of the other family.
    await expect(lookupAll('mixed.test', 6)).rejects.toBeInstanceOf(SsrfBlockedError);
  });

  it('checks IP literals it is asked about', async () => {
    await expect(lookupOne('127.0.0.1')).rejects.toBeInstanceOf(SsrfBlockedError);
  });

  it('reports a missing family as a DNS error', async () => {
    const onlyV4 = guardWith('', fakeResolver({ 'v4.test': [v4(PUBLIC_V4)] }));
    const error = await new Promise<unknown>((resolve) => onlyV4.lookup('v4.test', { family: 6 }, (err) => resolve(err)));
    expect(error).toBeInstanceOf(DnsLookupError);
  });
});

describe('lookups under way are shared', () => {
  /** A resolver whose answers wait until released, counting the lookups it was asked for. */
  function heldResolver() {
    const asked: string[] = [];
    const waiting: (() => void)[] = [];
    const resolve: Resolver = (hostname) => {
      asked.push(hostname);
      return new Promise((done, fail) =>
        waiting.push(() => (hostname === 'down.test' ? fail(Object.assign(new Error('timed out'), { code: 'EAI_AGAIN' })) : done([v4(PUBLIC_V4)]))),
      );
    };
    return { asked, resolve, release: () => waiting.splice(0).forEach((go) => go()) };
  }

  it('asks the resolver once for the connections opened to one name meanwhile, and again afterwards', async () => {
    const r = heldResolver();
    const guard = guardWith('', r.resolve);
    const first = Array.from({ length: 64 }, (_, i) => guard.resolveAllowed(i % 2 ? 'slow.test' : 'SLOW.test'));
    const other = guard.resolveAllowed('other.test');
    expect(r.asked).toEqual(['SLOW.test', 'other.test']);
    r.release();
    for (const addresses of await Promise.all([...first, other])) expect(addresses).toEqual([v4(PUBLIC_V4)]);
    // Nothing is kept: the next connection resolves, and is checked, again.
    const again = guard.resolveAllowed('slow.test');
    expect(r.asked).toEqual(['SLOW.test', 'other.test', 'slow.test']);
    r.release();
    await again;
  });

  it('gives every waiting caller the failure, and does not keep it', async () => {
    const r = heldResolver();
    const guard = guardWith('', r.resolve);
    const failing = [guard.resolveAllowed('down.test'), guard.resolveAllowed('down.test')].map(rejection);
    r.release();
    for (const error of await Promise.all(failing)) expect(error).toBeInstanceOf(DnsLookupError);
    const retried = rejection(guard.resolveAllowed('down.test'));
    expect(r.asked).toEqual(['down.test', 'down.test']);
    r.release();
    expect(await retried).toBeInstanceOf(DnsLookupError);
  });
});

describe('undici Agent with the guarded connector (real sockets, 127.0.0.1 only)', () => {
  let server: http.Server;
  let port: number;
  let connections = 0;
  const agents: Agent[] = [];

  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('ok'));
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.close()));
    connections = 0;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function agentFor(guard: SsrfGuard): Agent {
    const agent = new Agent({ connect: createGuardedConnector(guard, { timeout: 5_000 }) });
    agents.push(agent);
    return agent;
  }

  async function get(url: string, agent: Agent): Promise<string> {
    const response = await request(url, { dispatcher: agent });
    return response.body.text();
  }

  async function expectRefused(url: string, agent: Agent): Promise<SsrfBlockedError> {
    const before = connections;
    const error = await rejection(get(url, agent));
    const ssrf = findSsrfError(error);
    expect(ssrf, `expected SsrfBlockedError, got ${String(error)}`).toBeInstanceOf(SsrfBlockedError);
    expect(connections).toBe(before); // refused before a socket reached the server
    return ssrf as SsrfBlockedError;
  }

  it('refuses an IP literal when 127.0.0.0/8 is not allowed', async () => {
    const error = await expectRefused(`http://127.0.0.1:${port}/`, agentFor(guardWith('')));
    expect(error.address).toBe('127.0.0.1');
    expect(error.addressClass).toBe('loopback');
  });

  it('refuses an IPv4-mapped IPv6 literal', async () => {
    const error = await expectRefused(`http://[::ffff:127.0.0.1]:${port}/`, agentFor(guardWith('')));
    expect(error.addressClass).toBe('loopback');
  });

  it('connects when 127.0.0.0/8 is allowed', async () => {
    expect(await get(`http://127.0.0.1:${port}/`, agentFor(guardWith('127.0.0.0/8')))).toBe('ok');
    expect(connections).toBe(1);
  });

  it('refuses localhost (system resolver → loopback) at connect time', async () => {
    const guard = new SsrfGuard({ allow: AllowList.fromString('') });
    const error = await expectRefused(`http://localhost:${port}/`, agentFor(guard));
    expect(error.host).toBe('localhost');
    expect(error.addressClass).toBe('loopback');
    expect(error.message).toMatch(/^destination localhost resolves to a loopback address,/);
    expect(error.message).not.toContain(error.address);
  });

  it('connects to localhost when loopback is allowed', async () => {
    const guard = new SsrfGuard({ allow: AllowList.fromString('127.0.0.0/8,::1/128') });
    expect(await get(`http://localhost:${port}/`, agentFor(guard))).toBe('ok');
  });

  it('refuses a DNS-rebinding host that passed the create-time check', async () => {
    const guard = guardWith('', fakeResolver({ 'rebind.test': rebinding('127.0.0.1') }));
    await expect(guard.checkUrl(`http://rebind.test:${port}/`)).resolves.toBeUndefined();
    const error = await expectRefused(`http://rebind.test:${port}/`, agentFor(guard));
    expect(error.host).toBe('rebind.test');
    expect(error.address).toBe('127.0.0.1');
  });

  it('connects to the address the guarded lookup returned', async () => {
    const guard = guardWith('127.0.0.0/8', fakeResolver({ 'inbox.test': [v4('127.0.0.1')] }));
    expect(await get(`http://inbox.test:${port}/`, agentFor(guard))).toBe('ok');
  });

  it('lets always-allowed origins through without an allow-list entry', async () => {
    const guard = guardWith('', resolver, [`127.0.0.1:${port}`]);
    expect(await get(`http://127.0.0.1:${port}/`, agentFor(guard))).toBe('ok');
    const otherPort = guardWith('', resolver, [`127.0.0.1:${port === 1 ? 2 : port - 1}`]);
    await expectRefused(`http://127.0.0.1:${port}/`, agentFor(otherPort));
  });

  it('refuses https destinations too (TLS connects through the same lookup)', async () => {
    const guard = guardWith('');
    await expectRefused(`https://localhost:${port}/`, agentFor(guard));
    await expectRefused(`https://127.0.0.1:${port}/`, agentFor(guard));
  });

  it('works with single-address lookups (autoSelectFamily off)', async () => {
    const connector = (allow: string) => createGuardedConnector(guardWith(allow), { autoSelectFamily: false });
    const refusing = new Agent({ connect: connector('') });
    const allowing = new Agent({ connect: connector('127.0.0.0/8') });
    agents.push(refusing, allowing);
    await expectRefused(`http://localhost:${port}/`, refusing);
    expect(await get(`http://localhost:${port}/`, allowing)).toBe('ok');
  });

  it('surfaces resolver failures as DnsLookupError', async () => {
    const error = await rejection(get(`http://nowhere.test:${port}/`, agentFor(guardWith(''))));
    expect(error).toBeInstanceOf(DnsLookupError);
    expect(connections).toBe(0);
  });

  it('needs the connector: a bare `connect: { lookup }` never sees IP literals', async () => {
    // Documents why createGuardedConnector exists: net.connect skips lookup for literal hosts.
    const bare = new Agent({ connect: { lookup: guardWith('').lookup } });
    agents.push(bare);
    expect(await get(`http://127.0.0.1:${port}/`, bare)).toBe('ok');
    await expectRefused(`http://localhost:${port}/`, bare);
  });

  it('refuses to build a connector that could bypass the guard', () => {
    const guard = guardWith('');
    expect(() => createGuardedConnector(guard, { lookup: () => undefined })).toThrow(/lookup/);
    expect(() => createGuardedConnector(guard, { socketPath: '/tmp/x.sock' })).toThrow(/socketPath/);
  });
});
