// Delivery logs across endpoints, filterable by endpoint, event type, status and time; each
// delivery opens its attempts and can be retried.
import type { FastifyInstance } from 'fastify';
import { enc, hidden, idOf, isHtmx, localInputValue, parseInstant, queryOf, str, type Ui } from '../kit.js';
import { ApiCallError, type HeraldApi } from '../api-client.js';
import { pageLinks, positionOf } from '../pager.js';
import { typesToPick } from '../event-types.js';
import { DELIVERY_STATUSES, type DeliveryDto, type EndpointDto, isDeliveryStatus, type ListDto } from '../models.js';

/** Enough endpoints for the filter's pick list; more are reached by their page's Logs link. */
const ENDPOINT_CHOICES = 250;

interface LogFilter {
  readonly endpoint_id: string;
  readonly event_type: string;
  readonly status: string;
  readonly since: string;
  readonly until: string;
}

function filterOf(q: Record<string, unknown>): LogFilter {
  return {
    endpoint_id: str(q.endpoint_id) ?? '',
    event_type: str(q.event_type) ?? '',
    status: isDeliveryStatus(q.status) ? q.status : '',
    since: parseInstant(str(q.since) ?? '') ?? '',
    until: parseInstant(str(q.until) ?? '') ?? '',
  };
}

/**
 * The page of deliveries, or the API's word on a filter it refused (an unknown event type, an
 * endpoint deleted since): shown in place of the list, with the filters kept, so the person can
 * correct them.
 */
async function filtered(page: Promise<ListDto<DeliveryDto>>): Promise<{ list: ListDto<DeliveryDto>; error?: string }> {
  try {
    return { list: await page };
  } catch (err) {
    if (!(err instanceof ApiCallError) || (err.status !== 400 && err.status !== 404)) throw err;
    return { list: { data: [], next_cursor: null }, error: err.message };
  }
}

type EndpointChoice = Pick<EndpointDto, 'id' | 'url' | 'description'>;

/**
 * The endpoints of the filter's pick list: the newest ones, and the one filtered by when it is
 * not among them (an older endpoint's Logs link). Without it the list would show "All
 * endpoints", and the next change of another filter would silently drop the endpoint.
 */
async function endpointChoices(api: HeraldApi, selected: string): Promise<EndpointChoice[]> {
  const newest = (await api.get<ListDto<EndpointDto>>('/api/v2/endpoints', { limit: String(ENDPOINT_CHOICES) })).data;
  if (!selected || newest.some((e) => e.id === selected)) return [...newest];
  let chosen: EndpointChoice;
  try {
    chosen = await api.get<EndpointDto>(`/api/v2/endpoints/${enc(selected)}`);
  } catch (err) {
    if (!(err instanceof ApiCallError) || err.status !== 404) throw err;
    chosen = { id: selected, url: selected, description: `${selected} (no such endpoint)` };
  }
  return [chosen, ...newest];
}

export function registerLogPages(pages: FastifyInstance, ui: Ui): void {
  pages.get('/logs', hidden, async (req, reply) => {
    const filter = filterOf(queryOf(req));
    const at = positionOf(queryOf(req));
    const api = ui.api(req);
    const [found, endpoints, catalog] = await Promise.all([
      filtered(api.get<ListDto<DeliveryDto>>('/api/v2/deliveries', { ...filter, cursor: at.cursor })),
      endpointChoices(api, filter.endpoint_id),
      typesToPick(api),
    ]);
    const deliveries = found.list;
    const urls = new Map(endpoints.map((e) => [e.id, e.url]));
    return ui.page(req, reply, 'logs', {
      title: 'Delivery logs',
      nav: 'logs',
      deliveries: deliveries.data,
      urls,
      endpoints,
      types: [...catalog.topics.flatMap((t) => t.event_types.map((e) => e.name)), ...catalog.custom.map((t) => t.name)],
      statuses: DELIVERY_STATUSES,
      filter,
      filterError: found.error,
      inputs: { since: localInputValue(filter.since), until: localInputValue(filter.until) },
      pager: pageLinks('/logs', { ...filter }, at, deliveries.next_cursor),
      paged: at.cursor !== undefined,
    });
  });

  // The former per-endpoint address keeps working.
  pages.get('/endpoints/:id/logs', hidden, async (req, reply) => reply.redirect(`/logs?endpoint_id=${enc(idOf(req))}`, 303));

  pages.post('/deliveries/:id/retry', hidden, async (req, reply) => {
    const id = idOf(req);
    const queued = await ui.api(req).post<DeliveryDto>(`/api/v2/deliveries/${enc(id)}/retry`);
    if (!isHtmx(req)) return reply.redirect(`/logs?endpoint_id=${enc(queued.endpoint_id)}`, 303);
    const [delivery, endpoint] = await Promise.all([
      ui.api(req).get<DeliveryDto>(`/api/v2/deliveries/${enc(id)}`),
      ui.api(req).get<EndpointDto>(`/api/v2/endpoints/${enc(queued.endpoint_id)}`),
    ]);
    // The card replaces the one in the list: the same endpoint link, its state after the retry.
    return ui.fragment(reply, 'partials/delivery', { d: delivery, url: endpoint.url, retried: true });
  });
}
