// The event catalog: every type by topic with its profile names, and example bodies per profile;
// then the account's own types, with their description and schema.
import type { FastifyInstance } from 'fastify';
import { enc, hidden, isHtmx, type Ui } from '../kit.js';
import { type CatalogDto, type CustomEventTypeDto, customTypeRows, type EventTypeDetailDto } from '../models.js';

const PROFILE_TITLES: Readonly<Record<string, string>> = { standard: 'Standard Webhooks', tenovos: 'Tenovos', mediapocket: 'Media Pocket', cmp: 'Optimizely CMP' };

export function registerCatalogPages(pages: FastifyInstance, ui: Ui): void {
  pages.get('/catalog', hidden, async (req, reply) => {
    const catalog = await ui.api(req).get<CatalogDto>('/api/v2/event-types');
    return ui.page(req, reply, 'catalog', { title: 'Event catalog', nav: 'catalog', topics: catalog.topics, custom: customTypeRows(catalog.custom) });
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
