// The event catalog: every type by topic with its profile names, and example bodies per profile;
// then the account's own types, with their description and schema.
import type { FastifyInstance } from 'fastify';
import { enc, hidden, isHtmx, queryOf, type Ui } from '../kit.js';
import { CUSTOM_NAME_CURSOR_PATTERN } from '../../api/schemas.js';
import { type CatalogDto, type CustomEventTypeDto, customTypeRows, type EventTypeDetailDto, type ListDto } from '../models.js';
import { pageLinks, positionOf } from '../pager.js';

const PROFILE_TITLES: Readonly<Record<string, string>> = { standard: 'Standard Webhooks', tenovos: 'Tenovos', mediapocket: 'Media Pocket', cmp: 'Optimizely CMP' };

/** Custom types shown a page at a time, by name: an account may have 1,000, each with its schema. */
const CUSTOM_PAGE = '50';
/** A page's cursor is the name of the last type of the page before it: what the API takes as one (anything else shows the first page). */
const CUSTOM_CURSOR = new RegExp(`^(?=.{1,200}$)${CUSTOM_NAME_CURSOR_PATTERN.slice(1)}`);

export function registerCatalogPages(pages: FastifyInstance, ui: Ui): void {
  pages.get('/catalog', hidden, async (req, reply) => {
    const at = positionOf(queryOf(req), CUSTOM_CURSOR);
    // Only the page shown is read with its schemas; the catalog comes without the account's types.
    const [catalog, page] = await Promise.all([
      ui.api(req).get<Pick<CatalogDto, 'topics'>>('/api/v2/event-types/catalog'),
      ui.api(req).get<ListDto<CustomEventTypeDto>>('/api/v2/event-types/custom', { cursor: at.cursor, limit: CUSTOM_PAGE, schemas: 'true' }),
    ]);
    const pager = pageLinks('/catalog', {}, at, page.next_cursor);
    return ui.page(req, reply, 'catalog', { title: 'Event catalog', nav: 'catalog', topics: catalog.topics, custom: customTypeRows(page.data), pager, paged: at.cursor !== undefined });
  });

  pages.get('/catalog/types/:name', hidden, async (req, reply) => {
    const { name } = req.params as { name: string };
    const type = await ui.api(req).get<EventTypeDetailDto | CustomEventTypeDto>(`/api/v2/event-types/${enc(name)}`);
    const data = { type, titles: PROFILE_TITLES };
    // A custom type has no profile names or examples: its schema is what there is to show.
    if (isHtmx(req)) return ui.fragment(reply, 'custom' in type ? 'partials/custom-type' : 'partials/examples', data);
    return ui.page(req, reply, 'event-type', { title: type.name, nav: 'catalog', ...data });
  });
}
