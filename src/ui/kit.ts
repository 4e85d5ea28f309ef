// What every admin UI page handler needs: reading forms and queries, rendering a page or an
// htmx fragment, and the public API client of the signed-in user.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiCallError, type HeraldApi } from './api-client.js';

export type Form = Map<string, string[]>;

/** Fastify route options that keep UI routes out of /openapi.json. */
export const hidden = { schema: { hide: true } } as const;

export interface Ui {
  /** The API as the signed-in user (only inside signed-in routes). */
  api(req: FastifyRequest): HeraldApi;
  page(req: FastifyRequest, reply: FastifyReply, template: string, data: Record<string, unknown>, status?: number): Promise<FastifyReply>;
  fragment(reply: FastifyReply, template: string, data: Record<string, unknown>, status?: number): Promise<FastifyReply>;
  /** A one-line message in the page's alert area (htmx) or an error page (plain form post). */
  flash(req: FastifyRequest, reply: FastifyReply, message: string, kind: 'error' | 'success', status?: number): Promise<FastifyReply>;
  /** Whether the request's sign-in is still live, asked again now (sign-out, expiry, key deleted). */
  sessionLive(req: FastifyRequest): Promise<boolean>;
  /** Herald's clock, the one its API stamps deliveries with. */
  now(): number;
}

/**
 * The end of an event stream for a browser that is no longer signed in: EventSource cannot
 * follow a redirect to the sign-in page (it would only fail), so the page's script is told and
 * stops listening.
 */
export const SIGNED_OUT_EVENT = 'event: unauthorized\ndata: {}\n\n';

/**
 * An event stream of one last event (signed out, inbox deleted, the API not answering in time),
 * ended at once: what the page's script is told where an error page would only fail EventSource.
 */
export function lastEvent(reply: FastifyReply, event: string): FastifyReply {
  return reply.status(200).type('text/event-stream; charset=utf-8').send(event);
}

export function wantsEventStream(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/event-stream');
}

/** The API's refusal of a form's values (400, 422), to show beside the form; undefined for any other error. */
export function formRefusal(err: unknown): { readonly field: string; readonly message: string } | undefined {
  return err instanceof ApiCallError && (err.status === 400 || err.status === 422) ? { field: err.field ?? '', message: err.message } : undefined;
}

/** Pages that only lead to a change (the endpoint forms) say at once when the key may not make it. */
export function requireAdmin(req: FastifyRequest): void {
  if (req.uiRole !== 'admin') throw new ApiCallError(403, 'forbidden', `this needs a key with the admin role; yours is a ${req.uiRole ?? 'viewer'} key`);
}

export function isHtmx(req: FastifyRequest): boolean {
  return req.headers['hx-request'] === 'true';
}

export function formOf(req: FastifyRequest): Form {
  return req.body instanceof Map ? (req.body as Form) : new Map();
}

export function field(form: Form, name: string): string {
  return (form.get(name)?.[0] ?? '').trim();
}

export function fields(form: Form, name: string): string[] {
  return (form.get(name) ?? []).map((v) => v.trim());
}

export function queryOf(req: FastifyRequest): Record<string, unknown> {
  return (req.query ?? {}) as Record<string, unknown>;
}

/** A short non-empty query value, else undefined (the API validates it further). */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : undefined;
}

export function idOf(req: FastifyRequest): string {
  return (req.params as { id: string }).id;
}

export const enc = encodeURIComponent;

/** `2024-05-01T12:00` from a datetime-local input is read as UTC; full ISO times are accepted as they are. */
export function parseInstant(value: string): string | undefined {
  if (!value) return undefined;
  const withZone = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(withZone);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** An ISO instant as a datetime-local input value (UTC, seconds). */
export function localInputValue(iso: string | undefined): string {
  return iso ? iso.slice(0, 19) : '';
}
