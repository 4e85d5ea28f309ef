// Connect inboxes: the list, a create form, and an inbox page that shows captured requests as
// they arrive (the browser listens to this UI's relay of the API's event stream), with the
// inbox's settings (name, forward URL, signing secret) and its deletion.
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiCallError, ApiTimeoutError } from '../api-client.js';
import { enc, field, formOf, formRefusal, hidden, idOf, isHtmx, lastEvent, queryOf, SIGNED_OUT_EVENT, str, type Ui } from '../kit.js';
import type { InboxDto, InboxRequestDto, ListDto } from '../models.js';
import { pageLinks, positionOf } from '../pager.js';
import { SubmittedForms } from '../submitted-forms.js';

const RECENT = 50;

/** How often an open inbox stream checks that its sign-in still holds (as the API checks its key). */
const SESSION_RECHECK_MS = 5_000;

const INBOX_DELETED_EVENT = 'event: deleted\ndata: {}\n\n';
/**
 * The end of a stream the API did not start answering in time: the page's script retries later
 * (as after a failed connection), less often each time.
 */
const API_TIMEOUT_EVENT = 'event: timeout\ndata: {}\n\n';

/** An inbox as the API answers a change that created its relay endpoint. */
type InboxChanged = InboxDto & { readonly forward_secret?: string };

/** What a form was refused for, and the field (its name, as the API's) the message is about. */
interface Refusal {
  readonly field: string;
  readonly message: string;
}

const NO_NAME: Refusal = { field: 'name', message: 'Enter a name for the inbox.' };

interface InboxFormValues {
  readonly name: string;
  readonly forwardUrl: string;
  readonly signingSecret: string;
}

/** The create form's fields as the API takes them: empty optional fields are left out. */
function createBody(v: InboxFormValues): Record<string, string> {
  return { name: v.name, ...(v.forwardUrl ? { forward_url: v.forwardUrl } : {}), ...(v.signingSecret ? { signing_secret: v.signingSecret } : {}) };
}

/**
 * The settings form's change: an emptied forward URL stops forwarding, an empty signing secret
 * keeps the current one (it is never shown again) unless "stop verifying" is ticked.
 */
function patchBody(v: InboxFormValues, inbox: InboxDto, clearSecret: boolean): Record<string, string | null> {
  const body: Record<string, string | null> = {};
  if (v.name !== inbox.name) body.name = v.name;
  if (v.forwardUrl !== (inbox.forward_url ?? '')) body.forward_url = v.forwardUrl || null;
  if (clearSecret) body.signing_secret = null;
  else if (v.signingSecret) body.signing_secret = v.signingSecret;
  return body;
}

function valuesOf(req: FastifyRequest): InboxFormValues {
  const form = formOf(req);
  return { name: field(form, 'name'), forwardUrl: field(form, 'forward_url'), signingSecret: field(form, 'signing_secret') };
}

export function registerInboxPages(pages: FastifyInstance, ui: Ui): void {
  const submitted = new SubmittedForms();

  const emptyForm = { values: { name: '', forwardUrl: '', signingSecret: '' }, error: null };
  pages.get('/inboxes', hidden, async (req, reply) => listPage(ui, submitted, req, reply, emptyForm));

  pages.post('/inboxes', hidden, async (req, reply) => {
    const values = valuesOf(req);
    if (!values.name) return listPage(ui, submitted, req, reply, { values, error: NO_NAME }, 422);
    let created: InboxChanged | undefined;
    try {
      const sent = await submitted.once(req.uiKey!, field(formOf(req), 'form_id'), async () => {
        created = await ui.api(req).post<InboxChanged>('/api/v2/inboxes', createBody(values));
        return created.id;
      });
      // The relay's secret is shown this once, on the page the creation answers with.
      if (sent.first && created?.forward_secret) return inboxPage(ui, req, reply, created.id, { forwardSecret: created.forward_secret }, 201);
      return reply.redirect(`/inboxes/${enc(sent.id)}`, 303);
    } catch (err) {
      const refusal = formRefusal(err);
      if (refusal) return listPage(ui, submitted, req, reply, { values, error: refusal }, 422);
      throw err;
    }
  });

  pages.get('/inboxes/:id', hidden, async (req, reply) => inboxPage(ui, req, reply, idOf(req)));

  pages.post('/inboxes/:id/edit', hidden, async (req, reply) => {
    const values = valuesOf(req);
    const inbox = await ui.api(req).get<InboxDto>(`/api/v2/inboxes/${enc(idOf(req))}`);
    if (!values.name) return inboxPage(ui, req, reply, inbox.id, { values, error: NO_NAME }, 422);
    const body = patchBody(values, inbox, field(formOf(req), 'clear_signing_secret') === 'yes');
    try {
      const changed = await ui.api(req).patch<InboxChanged>(`/api/v2/inboxes/${enc(inbox.id)}`, body);
      if (changed.forward_secret) return inboxPage(ui, req, reply, inbox.id, { forwardSecret: changed.forward_secret, saved: true });
      return reply.redirect(`/inboxes/${enc(inbox.id)}?saved=1`, 303);
    } catch (err) {
      const refusal = formRefusal(err);
      if (refusal) return inboxPage(ui, req, reply, inbox.id, { values, error: refusal }, 422);
      throw err;
    }
  });

  pages.post('/inboxes/:id/delete', hidden, async (req, reply) => {
    await ui.api(req).delete(`/api/v2/inboxes/${enc(idOf(req))}`);
    if (isHtmx(req)) return reply.header('hx-redirect', '/inboxes').status(204).send();
    return reply.redirect('/inboxes', 303);
  });

  // The browser's EventSource cannot send the API key, so the UI relays the stream with it.
  // No HEAD: it would open the upstream stream and never answer.
  pages.get('/inboxes/:id/stream', { ...hidden, exposeHeadRoute: false }, async (req, reply) => relayStream(ui, req, reply));
}

/** The list with the create form (its values and refusal when shown again). */
async function listPage(ui: Ui, submitted: SubmittedForms, req: FastifyRequest, reply: FastifyReply, form: { values: InboxFormValues; error: Refusal | null }, status = 200) {
  const at = positionOf(queryOf(req));
  const list = await ui.api(req).get<ListDto<InboxDto>>('/api/v2/inboxes', { cursor: at.cursor });
  // A form shown again after an error keeps its id: it has created nothing yet.
  const formId = field(formOf(req), 'form_id') || submitted.newId();
  const pager = pageLinks('/inboxes', {}, at, list.next_cursor);
  return ui.page(req, reply, 'inboxes', { title: 'Inboxes', nav: 'inboxes', inboxes: list.data, pager, paged: at.cursor !== undefined, formId, ...form }, status);
}

/** An inbox with its newest requests (or a page of older ones) and the edit form. */
async function inboxPage(
  ui: Ui,
  req: FastifyRequest,
  reply: FastifyReply,
  id: string,
  extra: { forwardSecret?: string; saved?: boolean; error?: Refusal; values?: InboxFormValues } = {},
  status = 200,
) {
  const at = positionOf(queryOf(req));
  const [inbox, requests] = await Promise.all([
    ui.api(req).get<InboxDto>(`/api/v2/inboxes/${enc(id)}`),
    ui.api(req).get<ListDto<InboxRequestDto>>(`/api/v2/inboxes/${enc(id)}/requests`, { limit: String(RECENT), cursor: at.cursor }),
  ]);
  const values = extra.values ?? { name: inbox.name, forwardUrl: inbox.forward_url ?? '', signingSecret: '' };
  return ui.page(
    req,
    reply,
    'inbox',
    {
      title: inbox.name,
      nav: 'inboxes',
      inbox,
      requests: requests.data,
      newest: requests.data[0]?.id ?? '',
      // Requests arriving live go on top of the newest page only.
      live: at.cursor === undefined,
      pager: pageLinks(`/inboxes/${enc(inbox.id)}`, {}, at, requests.next_cursor),
      values,
      forwardSecret: extra.forwardSecret ?? '',
      saved: extra.saved ?? queryOf(req).saved === '1',
      error: extra.error ?? null,
    },
    status,
  );
}

/** The API's stream of an inbox's captures, relayed while the sign-in lasts. */
async function relayStream(ui: Ui, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const abort = new AbortController();
  const after = str(queryOf(req).after);
  const lastEventId = req.headers['last-event-id'];
  const resume = typeof lastEventId === 'string' && lastEventId.length <= 100 ? lastEventId : after;
  const query = resume ? `?after=${enc(resume)}` : '';
  let upstream: Response;
  try {
    upstream = await ui.api(req).stream(`/api/v2/inboxes/${enc(idOf(req))}/stream${query}`, abort.signal);
  } catch (err) {
    // Gone while the page was disconnected: said as the API says it to an open stream, so the
    // page stops trying instead of retrying an error page.
    if (err instanceof ApiCallError && err.status === 404) return lastEvent(reply, INBOX_DELETED_EVENT);
    // A stream cannot show an error page: the page is told, and tries again.
    if (err instanceof ApiTimeoutError) {
      req.log.warn({ err }, 'the API did not start an inbox stream in time');
      return lastEvent(reply, API_TIMEOUT_EVENT);
    }
    throw err;
  }
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  const body = Readable.fromWeb(upstream.body as WebReadableStream<Uint8Array>);
  // The API checks the key; the sign-in is the UI's own to check. A stream left open after
  // signing out (in another tab), or past the session's end, would go on showing captures.
  const recheck = setInterval(() => {
    ui.sessionLive(req).then(
      (live) => {
        if (live || reply.raw.writableEnded) return;
        body.unpipe(reply.raw);
        // The blank lines end an event the last chunk may have left half written.
        reply.raw.end(`\n\n${SIGNED_OUT_EVENT}`);
        stop();
      },
      (err: unknown) => req.log.warn({ err }, 'could not check the sign-in of an inbox stream'),
    );
  }, SESSION_RECHECK_MS);
  recheck.unref();
  const stop = () => {
    clearInterval(recheck);
    abort.abort();
  };
  req.raw.on('close', stop);
  body.on('error', () => reply.raw.end());
  body.pipe(reply.raw);
}
