// The event catalog: every type by topic with its profile names, and example bodies per profile.
import type { FastifyInstance } from 'fastify';
import { enc, hidden, isHtmx, type Ui } from '../kit.js';
import type { CatalogDto, EventTypeDetailDto } from '../models.js';

const PROFILE_TITLES: Readonly<Record<string, string>> = { standard: 'Standard Webhooks', tenovos: 'Tenovos', mediapocket: 'Media Pocket', cmp: 'Optimizely CMP' };

export function registerCatalogPages(pages: FastifyInstance, ui: Ui): void {
  pages.get('/catalog', hidden, async (req, reply) => {
    const catalog = await ui.api(req).get<CatalogDto>('/api/v2/event-types');
    return ui.page(req, reply, 'catalog', { title: 'Event catalog', nav: 'catalog', topics: catalog.topics });
  });

  pages.get('/catalog/types/:name', hidden, async (req, reply) => {
    const { name } = req.params as { name: string };
    const type = await ui.api(req).get<EventTypeDetailDto>(`/api/v2/event-types/${enc(name)}`);
    const data = { type, titles: PROFILE_TITLES };
    if (isHtmx(req)) return ui.fragment(reply, 'partials/examples', data);
    return ui.page(req, reply, 'event-type', { title: type.name, nav: 'catalog', ...data });
  });
}
