// SSRF protection for outbound deliveries (DESIGN.md "Security"). Destinations are checked twice:
//   1. checkUrl() when an endpoint is created/updated, to give the user an immediate, clear error;
//   2. at connect time, inside undici's connector, against the address actually connected to —
//      a hostname that resolved to a public address at create time may resolve to 10.0.0.1 or
//      127.0.0.1 later (DNS rebinding), so the create-time check alone proves nothing.
import { isIP, isIPv6, type LookupFunction } from 'node:net';
import type { LookupOptions } from 'node:dns';
import dns from 'node:dns/promises';
import { buildConnector } from 'undici';
import { classifyAddress, ipLiteral, type AddressClass } from './addresses.js';
import type { AllowList } from './cidr.js';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** Resolves a DNS name to every address it has (like `dns.lookup(host, { all: true })`). */
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface SsrfGuardOptions {
  /** Parsed HERALD_ALLOWED_TARGETS: non-public addresses that are nevertheless permitted. */
  readonly allow: AllowList;
  /** Injectable for tests; defaults to the system resolver (`dns.lookup`, all addresses). */
  readonly resolve?: Resolver;
  /**
   * Hosts exempt from the check whatever they resolve to — Herald's own Connect inboxes.
   * Entries are `host` (any port) or `host:port` / `[v6]:port`; prefer the port form so an
   * exemption for `localhost:8080` does not open every local service.
   */
  readonly alwaysAllowHosts?: readonly string[];
}

/** The URL itself is unacceptable (malformed, not http/https, or carries credentials). */
export class InvalidUrlError extends Error {
  readonly kind = 'invalid_url';

  constructor(detail: string) {
    super(detail);
    this.name = 'InvalidUrlError';
  }
}

/** The destination host could not be resolved. */
export class DnsLookupError extends Error {
  readonly kind = 'dns';
  /** The resolver's error code (ENOTFOUND, EAI_AGAIN, …) so callers can tell transient failures. */
  readonly code: string | undefined;

  constructor(
    readonly host: string,
    detail: string,
    options?: { cause?: unknown; code?: string },
  ) {
    super(`could not resolve ${host}: ${detail}`, { cause: options?.cause });
    this.name = 'DnsLookupError';
    this.code = options?.code;
  }
}

/**
 * The destination resolves to an address that is neither public nor in the allow-list.
 *
 * The message is shown to API clients (the 422 when an endpoint is saved) and stored in attempt
 * errors any key of the account can read. For a DNS name it names the kind of address but not
 * the address: otherwise any admin key could map internal names to internal addresses by saving
 * endpoints. For an IP literal the client typed the address, so the message repeats it. `address`
 * stays on the error for code that needs it.
 */
export class SsrfBlockedError extends Error {
  readonly kind = 'ssrf_blocked';

  constructor(
    readonly host: string,
    readonly address: string,
    readonly addressClass: AddressClass,
  ) {
    super(blockedMessage(host, addressClass));
    this.name = 'SsrfBlockedError';
  }
}

/** `link_local` → `a link-local address`, `unspecified` → `an unspecified address`. */
function describeClass(cls: AddressClass): string {
  const name = cls.replace(/_/g, '-');
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name} address`;
}

function blockedMessage(host: string, cls: AddressClass): string {
  const literal = ipLiteral(host);
  if (literal !== null) {
    return `destination ${literal} (${cls}) is not allowed; add it to HERALD_ALLOWED_TARGETS to permit it`;
  }
  return `destination ${host} resolves to ${describeClass(cls)}, which is not allowed; add that address to HERALD_ALLOWED_TARGETS to permit it`;
}

/** getaddrinfo, like net.connect itself uses, so /etc/hosts and search domains agree with it. */
const systemResolver: Resolver = (hostname) => dns.lookup(hostname, { all: true });

interface HostRule {
  readonly hostname: string;
  /** undefined = any port. */
  readonly port: number | undefined;
}

/**
 * Canonical hostname for comparisons: WHATWG host parsing lower-cases names, compresses IPv6 and
 * normalises loose IPv4 (`0x7f.1`), so a rule and a URL spelling the same host compare equal.
 */
function canonicalHostname(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const parsed = new URL(`http://${isIPv6(bare) ? `[${bare}]` : bare}/`).hostname;
  const unbracketed = parsed.startsWith('[') ? parsed.slice(1, -1) : parsed;
  return unbracketed.endsWith('.') ? unbracketed.slice(0, -1) : unbracketed;
}

function parseHostRule(entry: string): HostRule {
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(entry.trim());
  if (match === null) throw new Error(`invalid always-allowed host "${entry}": expected host or host:port`);
  try {
    return { hostname: canonicalHostname(match[1]), port: match[2] === undefined ? undefined : Number(match[2]) };
  } catch {
    throw new Error(`invalid always-allowed host "${entry}": not a valid hostname`);
  }
}

function effectivePort(port: string, protocol: string): number {
  if (port !== '') return Number(port);
  return protocol === 'https:' ? 443 : 80;
}

function parseHttpUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidUrlError('destination is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidUrlError(`destination scheme "${url.protocol}" is not allowed; use http or https`);
  }
  // Credentials in the URL would be sent as Basic auth and stored in plain text; Herald has
  // encrypted auth settings for that. The message deliberately does not echo the URL.
  if (url.username !== '' || url.password !== '') {
    throw new InvalidUrlError('destination URL must not contain credentials');
  }
  return url;
}

/** dns.lookup's `family` option: 4, 6, 0 (either) or the legacy strings 'IPv4' / 'IPv6'. */
function requestedFamily(family: LookupOptions['family']): number {
  if (family === 'IPv4') return 4;
  if (family === 'IPv6') return 6;
  return family ?? 0;
}

export class SsrfGuard {
  private readonly allow: AllowList;
  private readonly resolve: Resolver;
  private readonly hostRules: HostRule[];
  /**
   * Lookups under way, by name. getaddrinfo runs on libuv's four shared threads: a dead
   * endpoint whose name resolves slowly, opening its 64 connections at once, would otherwise hold
   * all four for the whole resolver timeout and stall every other endpoint's new connections.
   * Callers arriving meanwhile share the one lookup; nothing is kept once it is done, so every
   * later connection resolves (and is checked) again.
   */
  private readonly resolving = new Map<string, Promise<readonly ResolvedAddress[]>>();

  constructor(options: SsrfGuardOptions) {
    this.allow = options.allow;
    this.resolve = options.resolve ?? systemResolver;
    this.hostRules = (options.alwaysAllowHosts ?? []).map(parseHostRule);
  }

  /**
   * Create-time check. Resolves with nothing when `url` is an http(s) URL whose host resolves
   * only to public or allowed addresses; otherwise throws InvalidUrlError, DnsLookupError or
   * SsrfBlockedError.
   */
  async checkUrl(url: string): Promise<void> {
    const parsed = parseHttpUrl(url);
    const port = effectivePort(parsed.port, parsed.protocol);
    if (this.isAlwaysAllowed(parsed.hostname, port)) return;
    await this.resolveAllowed(parsed.hostname);
  }

  /**
   * Adds an always-allowed host after construction: the API learns its own port (own inbox
   * URLs) only once it listens. Same syntax as SsrfGuardOptions.alwaysAllowHosts.
   */
  addAlwaysAllowedHost(entry: string): void {
    const rule = parseHostRule(entry);
    if (!this.hostRules.some((r) => r.hostname === rule.hostname && r.port === rule.port)) this.hostRules.push(rule);
  }

  /** True for Herald's own inboxes (see SsrfGuardOptions.alwaysAllowHosts). */
  isAlwaysAllowed(hostname: string, port: number): boolean {
    if (this.hostRules.length === 0) return false;
    let canonical: string;
    try {
      canonical = canonicalHostname(hostname);
    } catch {
      return false;
    }
    return this.hostRules.some((rule) => rule.hostname === canonical && (rule.port === undefined || rule.port === port));
  }

  /** Throws SsrfBlockedError unless `address` (which `host` resolved to) is public or allowed. */
  assertAllowedAddress(host: string, address: string): void {
    const cls = classifyAddress(address);
    if (cls === 'public' || this.allow.allows(address)) return;
    throw new SsrfBlockedError(host, address, cls);
  }

  /**
   * Resolves `host` (a DNS name or IP literal, IPv6 optionally bracketed) and returns its
   * addresses only if every one of them is permitted. All must pass, not just the first: the
   * connection may fall back to any of them (Happy Eyeballs), so one private address among
   * public ones is as dangerous as a private address alone.
   */
  async resolveAllowed(host: string): Promise<ResolvedAddress[]> {
    const addresses = await this.resolveHost(host);
    for (const { address } of addresses) this.assertAllowedAddress(host, address);
    return addresses;
  }

  private async resolveHost(host: string): Promise<ResolvedAddress[]> {
    const literal = ipLiteral(host);
    if (literal !== null) return [{ address: literal, family: isIP(literal) }];
    let results: readonly ResolvedAddress[];
    try {
      results = await this.sharedLookup(host);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      throw new DnsLookupError(host, code ?? String(error), { cause: error, code });
    }
    if (results.length === 0) throw new DnsLookupError(host, 'no addresses', { code: 'ENOTFOUND' });
    // Never trust the resolver's family or format: these addresses go straight to connect().
    const invalid = results.find((r) => isIP(r.address) === 0);
    if (invalid !== undefined) throw new DnsLookupError(host, `resolver returned "${invalid.address}", not an IP address`);
    return results.map((r) => ({ address: r.address, family: isIP(r.address) }));
  }

  private sharedLookup(host: string): Promise<readonly ResolvedAddress[]> {
    const key = host.toLowerCase();
    let pending = this.resolving.get(key);
    if (pending === undefined) {
      pending = this.resolve(host).finally(() => this.resolving.delete(key));
      this.resolving.set(key, pending);
    }
    return pending;
  }

  /**
   * A drop-in for `dns.lookup` (callback style, honours `options.all` and `options.family`) that
   * fails with SsrfBlockedError when the name resolves to a forbidden address. net.connect uses
   * it to resolve, so the check applies to exactly the addresses connected to.
   *
   * NOT sufficient on its own: net.connect skips `lookup` for IP-literal hosts. Use
   * createGuardedConnector(), which also checks literals.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolveAllowed(hostname).then(
      (addresses) => {
        const family = requestedFamily(options.family);
        const matching = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        const first = matching[0];
        if (first === undefined) {
          callback(new DnsLookupError(hostname, `no IPv${family} address`, { code: 'ENOTFOUND' }), '');
        } else if (options.all === true) {
          callback(null, matching);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: Error) => callback(error, ''),
    );
  };
}

/**
 * undici's connect options. The Happy Eyeballs settings are spelled out because undici's
 * BuildOptions type only admits them through its TCP variant, which requires `port`; undici's
 * Client passes them to buildConnector the same way when it builds its own connector.
 */
export type GuardedConnectorOptions = buildConnector.BuildOptions & {
  readonly autoSelectFamily?: boolean;
  readonly autoSelectFamilyAttemptTimeout?: number;
};

/**
 * Builds an undici connector that enforces the guard at connect time. Pass it as the `connect`
 * option: `new Agent({ connect: createGuardedConnector(guard, { timeout: 10_000 }) })`.
 *
 * - IP-literal hosts are checked here, because net.connect never calls `lookup` for them.
 * - DNS names are resolved through `guard.lookup`, so the address checked is the address used.
 * - Always-allowed hosts (own inboxes) go through an unguarded connector.
 *
 * `options` are undici's usual connect options (timeout, TLS settings, …); `lookup` and
 * `socketPath` are rejected because they would bypass the guard.
 */
export function createGuardedConnector(
  guard: SsrfGuard,
  options: GuardedConnectorOptions = {},
): buildConnector.connector {
  if ('lookup' in options && options.lookup !== undefined) {
    throw new Error('createGuardedConnector: a custom lookup would bypass the SSRF guard; inject a resolver into SsrfGuard instead');
  }
  if (options.socketPath != null) {
    throw new Error('createGuardedConnector: socketPath connections cannot be guarded');
  }
  const guarded = buildConnector({ ...options, lookup: guard.lookup });
  const unguarded = buildConnector(options);

  return (connectOptions, callback) => {
    const { hostname, protocol, port } = connectOptions;
    if (guard.isAlwaysAllowed(hostname, effectivePort(port, protocol))) {
      unguarded(connectOptions, callback);
      return;
    }
    const literal = ipLiteral(hostname);
    if (literal !== null) {
      try {
        guard.assertAllowedAddress(hostname, literal);
      } catch (error) {
        // undici expects the callback asynchronously, as a real connect attempt would be.
        process.nextTick(callback, error as Error, null);
        return;
      }
    }
    guarded(connectOptions, callback);
  };
}
