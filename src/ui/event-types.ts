// The event types the UI's pages list, read without the custom types' schemas (up to 1,000 of
// up to 64 KiB each) where only their names are shown: the endpoint form's picker, the test
// send list and the logs filter.
import type { HeraldApi } from './api-client.js';
import type { CatalogDto, CustomEventTypeDto, ListDto } from './models.js';

/** A custom type as the list without schemas gives it. */
export type NamedTypeDto = Omit<CustomEventTypeDto, 'schema'>;

/** Pages of 250 read for the whole list; an account has at most 1,000 types (a few more if created at once). */
const NAMES_PAGE = 250;
const MAX_NAME_PAGES = 20;

/** Every custom type of the account by name, without schemas. */
async function customTypesNamed(api: HeraldApi): Promise<NamedTypeDto[]> {
  const types: NamedTypeDto[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_NAME_PAGES; page++) {
    const list = await api.get<ListDto<NamedTypeDto>>('/api/v2/event-types/custom', { limit: String(NAMES_PAGE), cursor });
    types.push(...list.data);
    if (list.next_cursor === null) break;
    cursor = list.next_cursor;
  }
  return types;
}

/** The catalog by topic, and the account's own types by name without their schemas. */
export async function typesToPick(api: HeraldApi): Promise<{ topics: CatalogDto['topics']; custom: NamedTypeDto[] }> {
  const [catalog, custom] = await Promise.all([api.get<Pick<CatalogDto, 'topics'>>('/api/v2/event-types/catalog'), customTypesNamed(api)]);
  return { topics: catalog.topics, custom };
}
