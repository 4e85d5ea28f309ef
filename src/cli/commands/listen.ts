// herald listen --forward-to URL [--events TYPES]: receive a real Herald's deliveries on a laptop.
//
// Creates a temporary Connect inbox and an endpoint pointing at it (the endpoint is an ordinary
// one: matched, signed, retried like any), streams the inbox over Server-Sent Events, and replays
// each captured delivery against the local URL with its original headers and body, so the local
// service sees exactly what Herald sent (and can verify the signature with the printed secret).
// Ctrl-C deletes the endpoint and the inbox; a later listen on the same machine deletes those of a
// listen that was killed outright (told by the machine id, see machine-id.ts).
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { CLIENT_OPTIONS, CLIENT_OPTIONS_HELP, parse, UsageError, urlFlag } from '../args.js';
import { ApiFailure, HeraldClient } from '../client.js';
import type { Command } from '../command.js';
import { machineId, machineIdFile, newMachineId } from '../machine-id.js';
import type { Io } from '../output.js';
import { readSse } from '../sse.js';

const usage = `Usage: herald listen --forward-to URL [--events TYPES] [options]

Receives this Herald's deliveries on your machine: creates a temporary inbox and an endpoint
pointing at it, and forwards every delivery to URL with its original headers and body. Prints
one line per delivery (time, event type, webhook-id, local status, latency); a local service
that does not answer within 30 s has not been reached, and a body over 1 MiB (which the inbox
answered 413) is not forwarded. Ctrl-C removes the endpoint and the inbox; if a listen was
killed without that, the next one on the same machine removes what it left (machines are told
apart by an id kept in $XDG_CONFIG_HOME/herald/machine-id, else ~/.config/herald/machine-id).

  --forward-to URL   where to send deliveries, e.g. http://localhost:3000/webhooks
  --events TYPES     comma-separated event types or wildcards (default *), e.g. asset.*

${CLIENT_OPTIONS_HELP}`;

/** Headers that describe one hop, not the message: never replayed. */
const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate']);
const FORWARD_TIMEOUT_MS = 30_000;

interface CapturedView {
  id: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[]>;
  body: string | null;
  body_encoding: 'utf8' | 'base64' | null;
  /** Over the inbox's 1 MiB: kept without its body, and the sender answered 413. */
  truncated: boolean;
}

interface Created {
  inbox?: { id: string; url: string };
  endpoint?: { id: string; secret: string };
}

/** Herald stopped accepting the API key: no reconnect can succeed, and nothing can be removed. */
class KeyRejected extends Error {}

export const listen: Command = {
  name: 'listen',
  summary: 'forward deliveries of this Herald to a local URL',
  usage,
  async run(args, io) {
    const { values } = parse(args, { ...CLIENT_OPTIONS, 'forward-to': { type: 'string' }, events: { type: 'string' } }, usage);
    if (values.help) {
      io.out(usage);
      return 0;
    }
    if (values['forward-to'] === undefined) throw new UsageError('listen needs --forward-to URL', usage);
    const forwardTo = urlFlag(values['forward-to'], '--forward-to', usage);
    const events = (values.events ?? '*').split(',').map((e) => e.trim()).filter(Boolean);
    if (events.length === 0) throw new UsageError('--events must name at least one event type or wildcard', usage);
    const client = HeraldClient.from(values, usage);
    return new ListenSession(client, forwardTo, events, io, values.json === true).run();
  },
};

class ListenSession {
  private readonly stop = new AbortController();
  private readonly local = new Agent({ keepAliveTimeout: 2_000 });
  private readonly created: Created = {};
  /** Deliveries the local URL answered (any status), and those that never reached it. */
  private forwarded = 0;
  private unreached = 0;
  private keyRejected = false;

  constructor(
    private readonly client: HeraldClient,
    private readonly forwardTo: string,
    private readonly events: string[],
    private readonly io: Io,
    private readonly json: boolean,
  ) {}

  async run(): Promise<number> {
    const onSignal = () => this.stop.abort();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const machine = this.machine();
      await this.removeLeftovers(machine).catch((err: Error) => this.io.err(`herald: could not look for what earlier listens left (${err.message})`));
      const name = listenerName(process.pid, machine);
      const inbox = await this.client.request<{ id: string; url: string }>('POST', '/api/v2/inboxes', { name });
      this.created.inbox = inbox;
      const endpoint = await this.client.request<{ id: string; secret: string }>('POST', '/api/v2/endpoints', {
        url: inbox.url,
        event_types: this.events,
        description: name,
      });
      this.created.endpoint = endpoint;
      await this.streamUntilStopped(inbox.id, () => this.announce(inbox, endpoint));
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await this.cleanUp();
      await this.local.close();
      await this.client.close();
    }
  }

  private announce(inbox: { id: string; url: string }, endpoint: { id: string; secret: string }): void {
    if (this.json) {
      this.io.out(JSON.stringify({ event: 'ready', inbox_id: inbox.id, inbox_url: inbox.url, endpoint_id: endpoint.id, secret: endpoint.secret, events: this.events, forward_to: this.forwardTo }));
      return;
    }
    this.io.out(`Forwarding ${this.events.join(', ')} from ${this.client.baseUrl} to ${this.forwardTo}`);
    this.io.out(`  endpoint  ${endpoint.id}  (temporary: removed on Ctrl-C)`);
    this.io.out(`  secret    ${endpoint.secret}  (verify deliveries with it, e.g. herald/verify)`);
    this.io.out('Ready. Press Ctrl-C to stop.');
  }

  /**
   * Reads the stream, forwarding each capture in order; reconnects (resuming after the last id)
   * until stopped. `onConnected` runs once the first connection is open.
   */
  private async streamUntilStopped(inboxId: string, onConnected: () => void): Promise<void> {
    const signal = this.stop.signal;
    // The inbox is new: the first connection replays whatever it captured before the stream
    // opened (every request id sorts after the bare prefix).
    let lastId = 'inr_';
    let failures = 0;
    let connected = false;
    while (!signal.aborted) {
      try {
        const body = await this.client.stream(`/api/v2/inboxes/${inboxId}/stream`, signal, { 'last-event-id': lastId });
        failures = 0;
        if (!connected) {
          connected = true;
          onConnected();
        }
        for await (const message of readSse(body)) {
          if (message.event === 'request') {
            lastId = message.id ?? lastId;
            await this.forward(JSON.parse(message.data) as CapturedView);
          } else if (message.event === 'deleted') {
            throw new Error('the inbox was deleted');
          } else if (message.event === 'unauthorized') {
            throw new KeyRejected('the stream ended: unauthorized');
          }
        }
        if (!signal.aborted) this.io.err('herald: the stream ended; reconnecting');
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof KeyRejected || (err instanceof ApiFailure && (err.status === 401 || err.status === 403))) {
          throw this.rejectedKey(err as Error);
        }
        if ((err instanceof ApiFailure && err.status === 404) || (err as Error).message === 'the inbox was deleted') {
          throw new Error('the temporary inbox was deleted; stopping');
        }
        failures++;
        this.io.err(`herald: stream interrupted (${(err as Error).message}); reconnecting`);
      }
      await sleep(Math.min(5_000, 200 * 2 ** failures), signal);
    }
  }

  /** The error that ends a listen whose key stopped working; it names what is left behind. */
  private rejectedKey(cause: Error): Error {
    this.keyRejected = true;
    const { endpoint, inbox } = this.created;
    const left = [endpoint && `endpoint ${endpoint.id}`, inbox && `inbox ${inbox.id}`].filter(Boolean).join(', ');
    return new Error(
      `the API key is no longer accepted (${cause.message}); stopping. Left behind, as deleting needs a working key: ${left} ` +
        `(herald endpoints delete ${endpoint?.id ?? '…'}; DELETE /api/v2/inboxes/${inbox?.id ?? '…'})`,
    );
  }

  private async forward(r: CapturedView): Promise<void> {
    const started = performance.now();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(r.headers)) if (!HOP_HEADERS.has(name)) headers[name] = value;
    const body = r.body === null ? undefined : Buffer.from(r.body, r.body_encoding === 'base64' ? 'base64' : 'utf8');
    const target = targetUrl(this.forwardTo, r.path, r.query);
    // A capture over the inbox's limit has no body: forwarded, it would only fail the local
    // service's signature check.
    const { status, error } = r.truncated ? { status: undefined, error: 'too_large' } : await this.sendLocally(target, r.method, headers, body);
    if (error === undefined) this.forwarded++;
    else this.unreached++;
    const latencyMs = Math.round(performance.now() - started);
    const webhookId = first(r.headers['webhook-id']) ?? '-';
    const eventType = eventTypeOf(body, first(r.headers['content-type']));
    const time = new Date().toISOString();
    // A forward that never reached the local URL can be had again: Herald re-sends its delivery
    // (not one too large for the inbox: Herald retries it anyway, and it stays too large).
    const deliveryId = error === undefined || error === 'too_large' ? undefined : await this.deliveryOf(webhookId);
    if (this.json) {
      this.io.out(
        JSON.stringify({ event: 'delivery', time, event_type: eventType, webhook_id: webhookId, status: status ?? null, latency_ms: latencyMs, request_id: r.id, ...(error ? { error } : {}), ...(deliveryId ? { delivery_id: deliveryId } : {}) }),
      );
    } else {
      const again = deliveryId ? `  (again: herald retry ${deliveryId})` : '';
      this.io.out([time.slice(11, 23), eventType, webhookId, status ?? `error: ${ERROR_TEXT[error!] ?? error}`, `${latencyMs} ms`].join('  ') + again);
    }
  }

  /** One request to the local service: its status, or what kept it from answering (see forwardError). */
  private async sendLocally(target: string, method: string, headers: Record<string, string | string[]>, body: Buffer | undefined): Promise<{ status?: number; error?: string }> {
    // A timer of our own, not AbortSignal.timeout: inside AbortSignal.any, Node 20 may collect
    // that signal before it fires (nodejs/node#57736), and a silent local service held the
    // listen, and every delivery after it, for good.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException('no answer in time', 'TimeoutError')), FORWARD_TIMEOUT_MS);
    try {
      // undici.request rather than fetch: fetch refuses "bad ports" (6000, 6665, …) a local service may use.
      const res = await request(target, {
        method: method as 'POST',
        headers,
        body: method === 'GET' || method === 'HEAD' ? undefined : body,
        dispatcher: this.local,
        signal: AbortSignal.any([timeout.signal, this.stop.signal]),
      });
      await res.body.dump().catch(() => undefined);
      return { status: res.statusCode };
    } catch (err) {
      return { error: forwardError(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The delivery to this listen's endpoint that brought message `webhookId`; undefined when not found. */
  private async deliveryOf(webhookId: string): Promise<string | undefined> {
    const endpoint = this.created.endpoint;
    if (!endpoint || webhookId === '-') return undefined;
    const query = new URLSearchParams({ endpoint_id: endpoint.id, event_id: webhookId, limit: '1' });
    try {
      const page = await this.client.request<{ data: { id: string }[] }>('GET', `/api/v2/deliveries?${query}`);
      return page.data[0]?.id;
    } catch {
      return undefined;
    }
  }

  /**
   * This machine's id; one for this run only when it cannot be kept (a later listen then cannot
   * tell what this one leaves from another machine's, and leaves it).
   */
  private machine(): string {
    const file = machineIdFile();
    try {
      return machineId(file);
    } catch (err) {
      this.io.err(`herald: cannot keep this machine's id in ${file} (${(err as Error).message}); if this listen is killed, the next one will not remove what it leaves`);
      return newMachineId();
    }
  }

  /**
   * A listen killed outright (SIGKILL, a closed terminal) cannot remove its endpoint and inbox:
   * the endpoint would keep matching events. Its names carry machine id and pid, so a later listen
   * on the same machine removes those of processes that no longer run. Names from older versions
   * carry only a host name, which other machines may share (with pids that run there, not here):
   * those a listen under this host name left are kept and named, for the user to remove.
   */
  private async removeLeftovers(machine: string): Promise<void> {
    const endpoints = await this.listAll<{ id: string; description: string | null }>('/api/v2/endpoints');
    const inboxes = await this.listAll<{ id: string; name: string }>('/api/v2/inboxes');
    const found = [
      ...endpoints.map((e) => ({ kind: 'endpoint', path: `/api/v2/endpoints/${e.id}`, id: e.id, leftover: leftoverOf(e.description ?? '', machine) })),
      ...inboxes.map((i) => ({ kind: 'inbox', path: `/api/v2/inboxes/${i.id}`, id: i.id, leftover: leftoverOf(i.name, machine) })),
    ];
    const removed: string[] = [];
    for (const { kind, path, id } of found.filter((f) => f.leftover === 'ours')) {
      const outcome = await this.remove(path);
      if (outcome === 'removed') removed.push(`${kind} ${id}`);
      else if (outcome !== 'gone') this.io.err(`herald: could not remove the ${kind} ${id} left by an earlier listen (${outcome.message})`);
    }
    const kept = found.filter((f) => f.leftover === 'unsure').map((f) => `${f.kind} ${f.id}`);
    if (removed.length > 0) {
      if (this.json) this.io.out(JSON.stringify({ event: 'removed_leftovers', removed }));
      else this.io.out(`Removed what earlier listens on this machine left behind when killed: ${removed.join(', ')}.`);
    }
    if (kept.length > 0) {
      if (this.json) this.io.out(JSON.stringify({ event: 'kept_leftovers', kept }));
      else {
        this.io.out(
          `Kept what an older herald listen left under this host name, as another machine may share the name: ${kept.join(', ')} ` +
            '(if yours and not running: herald endpoints delete ENDPOINT_ID; DELETE /api/v2/inboxes/INBOX_ID).',
        );
      }
    }
  }

  /** DELETE one resource; one already deleted (404) counts as gone, any other failure is returned. */
  private async remove(path: string): Promise<'removed' | 'gone' | Error> {
    try {
      await this.client.request('DELETE', path);
      return 'removed';
    } catch (err) {
      return err instanceof ApiFailure && err.status === 404 ? 'gone' : (err as Error);
    }
  }

  private async listAll<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    for (let cursor: string | null = null, pages = 0; pages < 100; pages++) {
      const query = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}) });
      const page: { data: T[]; next_cursor: string | null } = await this.client.request('GET', `${path}?${query}`);
      all.push(...page.data);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return all;
  }

  private async cleanUp(): Promise<void> {
    const { endpoint, inbox } = this.created;
    if (!endpoint && !inbox) return;
    // A rejected key would fail each deletion: the error already names what is left.
    const removed = this.keyRejected ? [] : await this.removeCreated();
    if (this.json) this.io.out(JSON.stringify({ event: 'stopped', forwarded: this.forwarded, unreached: this.unreached, removed }));
    else {
      const missed = this.unreached > 0 ? ` (${this.unreached} more did not reach ${this.forwardTo})` : '';
      this.io.out(`Stopped after ${this.forwarded} deliveries${missed}; removed ${removed.join(' and ') || 'nothing'}.`);
    }
  }

  private async removeCreated(): Promise<string[]> {
    const { endpoint, inbox } = this.created;
    const removed: string[] = [];
    for (const [kind, path] of [
      ['endpoint', endpoint && `/api/v2/endpoints/${endpoint.id}`],
      ['inbox', inbox && `/api/v2/inboxes/${inbox.id}`],
    ] as const) {
      if (!path) continue;
      const outcome = await this.remove(path);
      if (outcome === 'removed') removed.push(`${kind} ${path.split('/').pop()}`);
      else if (outcome !== 'gone') this.io.err(`herald: could not remove the temporary ${kind} (${outcome.message}); delete it by hand`);
    }
    return removed;
  }
}

/**
 * The name of a listen's inbox and the description of its endpoint. The host name is there for
 * people; the machine id and pid say whose it is. Older versions read no pid from it (they took
 * `herald listen on HOST (pid N)`), so they leave it alone.
 */
function listenerName(pid: number, machine: string): string {
  return `herald listen on ${hostname()} (pid ${pid}, machine ${machine})`;
}

const LISTENER_NAME = /^herald listen on .* \(pid (\d+), machine ([0-9a-f]{32})\)$/;
/** What versions before the machine id named theirs. */
const OLD_LISTENER_NAME = /^herald listen on (.*) \(pid (\d+)\)$/;

/**
 * `ours`: left by a listen on this machine that no longer runs. `unsure`: left by an older
 * version under this host name with a pid that does not run here, which the old rule removed
 * though it may be another machine's, running there. Undefined for anything else.
 */
function leftoverOf(name: string, machine: string): 'ours' | 'unsure' | undefined {
  const current = LISTENER_NAME.exec(name);
  if (current) return current[2] === machine && ended(Number(current[1])) ? 'ours' : undefined;
  const old = OLD_LISTENER_NAME.exec(name);
  return old && old[1] === hostname() && ended(Number(old[2])) ? 'unsure' : undefined;
}

/** A pid that runs on this machine no more (nor is this process's). */
function ended(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !isRunning(pid);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * What stopped a forward: a network error's code (ECONNREFUSED, …), else `timeout` or `stopped`.
 * An aborted request fails with the signal's DOMException, whose `code` is a number (23, 20).
 */
function forwardError(err: unknown): string {
  const e = err as { name?: string; code?: unknown; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timeout';
  if (e.name === 'AbortError') return 'stopped';
  return (typeof e.code === 'string' ? e.code : undefined) ?? e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** The readable line's words for the error codes a forward gives itself. */
const ERROR_TEXT: Record<string, string> = {
  timeout: `timeout (no answer within ${FORWARD_TIMEOUT_MS / 1000} s)`,
  too_large: 'body over 1 MiB, not forwarded (the sender was answered 413)',
};

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The local URL plus the path below the inbox token and the query, when there were any. */
function targetUrl(base: string, path: string, query: string): string {
  const url = new URL(base);
  if (path !== '/' && path !== '') url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  if (query !== '') url.search = url.search ? `${url.search}&${query}` : query;
  return url.toString();
}

/** The event's name in any profile's payload, or `-`. */
function eventTypeOf(body: Buffer | undefined, contentType: string | undefined): string {
  if (!body || body.length === 0 || (contentType !== undefined && !contentType.includes('json'))) return '-';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    const name = parsed.type ?? parsed.eventType ?? parsed.event_name ?? parsed.event;
    return typeof name === 'string' ? name : '-';
  } catch {
    return '-';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
