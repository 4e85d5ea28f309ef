// The event catalog: every type by topic with its profile names, and example bodies per profile;
// then the account's own types, with their description and schema.
import type { FastifyInstance } from 'fastify';
import { enc, hidden, isHtmx, queryOf, type Ui } from '../kit.js';
import { type CatalogDto, type CustomEventTypeDto, customTypeRows, type EventTypeDetailDto } from '../models.js';
import { pageLinks, positionOf } from '../pager.js';

const PROFILE_TITLES: Readonly<Record<string, string>> = { standard: 'Standard Webhooks', tenovos: 'Tenovos', mediapocket: 'Media Pocket', cmp: 'Optimizely CMP' };

/** Custom types shown a page at a time, by name: an account may have 1,000, each with its schema. */
const CUSTOM_PAGE = 50;
/** A page's cursor is the name of the last type of the page before it: a custom type's name. */
const CUSTOM_CURSOR = /^[a-z0-9_.]{1,200}$/;

/** The types after `after` (a name; the first ones without), and the cursor of the page after them. */
function customPage(types: readonly CustomEventTypeDto[], after: string | undefined): { items: CustomEventTypeDto[]; next: string | null } {
  const rest = types.filter((t) => after === undefined || t.name > after).sort((a, b) => (a.name < b.name ? -1 : 1));
  const items = rest.slice(0, CUSTOM_PAGE);
  return { items, next: rest.length > CUSTOM_PAGE ? items[items.length - 1]!.name : null };
}

export function registerCatalogPages(pages: FastifyInstance, ui: Ui): void {
  pages.get('/catalog', hidden, async (req, reply) => {
    const catalog = await ui.api(req).get<CatalogDto>('/api/v2/event-types');
    const at = positionOf(queryOf(req), CUSTOM_CURSOR);
    const page = customPage(catalog.custom, at.cursor);
    const pager = pageLinks('/catalog', {}, at, page.next);
    return ui.page(req, reply, 'catalog', { title: 'Event catalog', nav: 'catalog', topics: catalog.topics, custom: customTypeRows(page.items), pager, paged: at.cursor !== undefined });
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
