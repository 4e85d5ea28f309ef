// Connect inboxes: the list, a create form, and an inbox page that shows captured requests as
// they arrive (the browser listens to this UI's relay of the API's event stream).
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FastifyInstance } from 'fastify';
import { ApiCallError } from '../api-client.js';
import { enc, field, formOf, hidden, idOf, queryOf, str, type Ui } from '../kit.js';
import type { InboxDto, InboxRequestDto, ListDto } from '../models.js';

const RECENT = 50;

export function registerInboxPages(pages: FastifyInstance, ui: Ui): void {
  pages.get('/inboxes', hidden, async (req, reply) => {
    const list = await ui.api(req).get<ListDto<InboxDto>>('/api/v2/inboxes', { cursor: str(queryOf(req).cursor) });
    return ui.page(req, reply, 'inboxes', { title: 'Inboxes', nav: 'inboxes', inboxes: list.data, nextCursor: list.next_cursor, error: '', name: '' });
  });

  pages.post('/inboxes', hidden, async (req, reply) => {
    const name = field(formOf(req), 'name');
    const again = async (error: string) => {
      const list = await ui.api(req).get<ListDto<InboxDto>>('/api/v2/inboxes');
      return ui.page(req, reply, 'inboxes', { title: 'Inboxes', nav: 'inboxes', inboxes: list.data, nextCursor: list.next_cursor, error, name }, 422);
    };
    if (!name) return again('Enter a name for the inbox.');
    try {
      const inbox = await ui.api(req).post<InboxDto>('/api/v2/inboxes', { name });
      return reply.redirect(`/inboxes/${enc(inbox.id)}`, 303);
    } catch (err) {
      if (err instanceof ApiCallError && (err.status === 400 || err.status === 422)) return again(err.message);
      throw err;
    }
  });

  pages.get('/inboxes/:id', hidden, async (req, reply) => {
    const id = idOf(req);
    const [inbox, requests] = await Promise.all([
      ui.api(req).get<InboxDto>(`/api/v2/inboxes/${enc(id)}`),
      ui.api(req).get<ListDto<InboxRequestDto>>(`/api/v2/inboxes/${enc(id)}/requests`, { limit: String(RECENT) }),
    ]);
    return ui.page(req, reply, 'inbox', { title: inbox.name, nav: 'inboxes', inbox, requests: requests.data, newest: requests.data[0]?.id ?? '' });
  });

  // The browser's EventSource cannot send the API key, so the UI relays the stream with it.
  pages.get('/inboxes/:id/stream', hidden, async (req, reply) => {
    const abort = new AbortController();
    const after = str(queryOf(req).after);
    const lastEventId = req.headers['last-event-id'];
    const resume = typeof lastEventId === 'string' && lastEventId.length <= 100 ? lastEventId : after;
    const query = resume ? `?after=${enc(resume)}` : '';
    const upstream = await ui.api(req).stream(`/api/v2/inboxes/${enc(idOf(req))}/stream${query}`, abort.signal);
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const body = Readable.fromWeb(upstream.body as WebReadableStream<Uint8Array>);
    const stop = () => abort.abort();
    req.raw.on('close', stop);
    body.on('error', () => reply.raw.end());
    body.pipe(reply.raw);
  });
}
