// One attempt: render for the endpoint's profile, sign, authenticate, send, classify.
// Every failure becomes an AttemptResult with an error kind; nothing here throws.
import { RESERVED_HEADERS } from '../domain/endpoint.js';
import type { Account, Endpoint } from '../domain/types.js';
import { rendererFor } from '../profiles/index.js';
import type { CanonicalEvent } from '../profiles/types.js';
import { decodeSecret, hmacHex, signatureHeader } from '../signing/standard-webhooks.js';
import { mask } from '../signing/secretbox.js';
import type { AttemptInput, ClaimedDelivery } from '../store/contract.js';
import type { AttemptResult } from './dispatcher.js';
import { classifyError, classifyStatus, DeliveryError, RETRYABLE_KINDS } from './errors.js';
import { type HttpSender, MAX_RESPONSE_LOGGED } from './http-sender.js';

export interface AuthProvider {
  /** Headers that authenticate a request to this endpoint (e.g. Authorization). */
  headers(endpoint: Endpoint, options?: { refresh?: boolean }): Promise<Record<string, string>>;
}

export interface AttemptDeps {
  readonly sender: Pick<HttpSender, 'send'>;
  /**
   * The endpoint as it is now: from a cache, or (a promise) loaded again after a change through
   * the API dropped it. Undefined once deleted.
   */
  readonly endpoint: (id: string) => Endpoint | undefined | Promise<Endpoint | undefined>;
  readonly account: (id: string) => Account | undefined;
  readonly auth: AuthProvider;
  readonly userAgent: string;
  readonly clock?: () => number;
}

export function createAttempt(deps: AttemptDeps): (d: ClaimedDelivery) => Promise<AttemptResult> {
  const clock = deps.clock ?? Date.now;
  return async (d) => {
    let found = deps.endpoint(d.endpointId);
    if (found instanceof Promise) found = await found;
    // Deleted or disabled while the delivery waited for its turn: back to the store untried.
    if (!found || found.disabled) return { verdict: 'release' };
    const endpoint = found;
    const startedAt = clock();
    let canonical: CanonicalEvent | undefined;
    const renderer = rendererFor(endpoint.profile);
    const rendered = renderer.render({
      delivery: d,
      endpoint,
      account: deps.account(endpoint.accountId),
      event: () => (canonical ??= JSON.parse(d.body) as CanonicalEvent),
    });
    const payload = rendered.rawBody ?? rendered.body;
    const timestamp = Math.floor(startedAt / 1000);
    const headers: Record<string, string> = { ...rendered.headers };
    const masked = new Set<string>();
    for (const h of endpoint.headers) {
      const name = h.name.toLowerCase();
      if (RESERVED_HEADERS.has(name)) continue;
      headers[name] = h.type === 'hmac' ? hmacHex(h.value, payload) : h.value;
      if (h.type !== 'plain') masked.add(name);
    }
    if (rendered.contentType === undefined) headers['content-type'] = 'application/json';
    else if (rendered.contentType === null) delete headers['content-type'];
    else headers['content-type'] = rendered.contentType;
    headers['user-agent'] = deps.userAgent;
    headers['webhook-id'] = d.eventId;
    headers['webhook-timestamp'] = String(timestamp);
    headers['webhook-signature'] = signatureHeader(signingKeys(endpoint, startedAt), d.eventId, timestamp, payload);

    // The log shows that credentials went out (masked), as sent with the last request.
    let authSent: Record<string, string> = {};
    const send = async (refresh: boolean) => {
      const authHeaders = await deps.auth.headers(endpoint, { refresh });
      authSent = Object.fromEntries(Object.entries(authHeaders).map(([name, value]) => [name.toLowerCase(), value]));
      for (const name of Object.keys(authSent)) masked.add(name);
      return deps.sender.send({
        url: endpoint.url,
        method: endpoint.method,
        headers: { ...headers, ...authHeaders },
        body: payload,
        timeoutMs: endpoint.timeoutMs,
      });
    };

    const logHeaders = () => maskHeaders({ ...headers, ...authSent }, masked);
    try {
      let answer = await send(false);
      // An expired or revoked OAuth token: refresh once and try again within this attempt.
      if (answer.statusCode === 401 && endpoint.auth.type === 'oauth2_client_credentials') answer = await send(true);
      const verdict = classifyStatus(answer.statusCode, answer.headers, clock(), renderer.isSuccess);
      const attempt = record(d, startedAt, clock(), logHeaders(), {
        statusCode: answer.statusCode,
        errorKind: verdict.outcome === 'success' ? null : 'http_status',
        errorMessage: verdict.outcome === 'success' ? null : `endpoint answered ${answer.statusCode}`,
        responseBody: answer.bodyStart,
      });
      if (verdict.outcome === 'success') return { attempt, verdict: 'success' };
      if (verdict.outcome === 'gone') return { attempt, verdict: 'gone' };
      return { attempt, verdict: 'retry', retryAfterMs: verdict.retryAfterMs };
    } catch (err) {
      const { kind, message } = classifyError(err);
      const attempt = record(d, startedAt, clock(), logHeaders(), { statusCode: null, errorKind: kind, errorMessage: message, responseBody: null });
      // A blocked or malformed destination stays so on every retry: fail it now (it stays replayable).
      const retryable = err instanceof DeliveryError ? err.retryable : RETRYABLE_KINDS[kind];
      return { attempt, verdict: retryable ? 'retry' : 'fail' };
    }
  };
}

/** During a rotation window the previous secret signs too, so receivers can switch over. */
function signingKeys(endpoint: Endpoint, now: number): Buffer[] {
  const keys = [decodeSecret(endpoint.secret)];
  if (endpoint.previousSecret && endpoint.previousSecretExpiresAt !== null && endpoint.previousSecretExpiresAt > now) {
    keys.push(decodeSecret(endpoint.previousSecret));
  }
  return keys;
}

function maskHeaders(headers: Record<string, string>, masked: ReadonlySet<string>): Record<string, string> {
  for (const name of Object.keys(headers)) {
    if (name === 'authorization' || name === 'proxy-authorization') headers[name] = maskCredentials(headers[name]);
    else if (name === 'webhook-signature') headers[name] = maskSignatures(headers[name]);
    else if (masked.has(name)) headers[name] = mask(headers[name]);
  }
  return headers;
}

/**
 * `v1,abcd… v1,efgh…`: which scheme signed and how many secrets (two during a rotation), never
 * the signatures. A viewer key reads the log, and the event's id and payload: with the
 * webhook-timestamp beside it, a signature shown whole is a validly signed copy to replay to the
 * receiver within its tolerance.
 */
function maskSignatures(value: string): string {
  return value
    .split(' ')
    .map((sig) => {
      const comma = sig.indexOf(',');
      return comma < 0 ? mask(sig) : `${sig.slice(0, comma + 1)}${mask(sig.slice(comma + 1))}`;
    })
    .join(' ');
}

/** `Basic ****`: the scheme tells how the endpoint was authenticated; nothing of the credentials shows. */
function maskCredentials(value: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) /.exec(value)?.[1];
  return scheme ? `${scheme} ****` : '****';
}

function record(
  d: ClaimedDelivery,
  startedAt: number,
  endedAt: number,
  requestHeaders: Record<string, string>,
  result: Pick<AttemptInput, 'statusCode' | 'errorKind' | 'errorMessage' | 'responseBody'>,
): AttemptInput {
  for (const [name, value] of Object.entries(requestHeaders)) requestHeaders[name] = storable(value);
  return {
    attemptNo: d.attempts + 1,
    startedAt,
    durationMs: Math.max(0, endedAt - startedAt),
    requestHeaders,
    ...result,
    errorMessage: result.errorMessage === null ? null : storable(result.errorMessage),
    responseBody: result.responseBody === null ? null : storable(result.responseBody.slice(0, MAX_RESPONSE_LOGGED)),
  };
}

/**
 * Text from the network (a response body, a token server's error) with NUL characters replaced
 * by U+FFFD, as the UTF-8 decoding already replaces bytes that are not text. PostgreSQL cannot
 * keep NUL in text and refused the whole attempt; SQLite kept it. Both now record the same.
 */
function storable(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}
