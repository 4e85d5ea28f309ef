// Optimizely CMP payloads (seed 004): thin, `{event_name, data: {asset: {...}, attributes_changed?}}`.
//
// Mapping from the canonical event:
//   event_name                  the CMP name (asset_added, …); the canonical name for events CMP lacks
//   asset.id                    resource.id (data.id without a resource)
//   asset.owner_organization_id resource.owner_organization_id, else data.owner_organization_id,
//                               else the Herald account id: the account is the DAM organization
//                               (DESIGN.md) and seed 004 types the field `string`, where it writes
//                               "string or null" for fields that may be null (source.*), so a
//                               receiver may rely on a string; the account id is the same for every
//                               event of the organization, where "" or null would not identify it.
//                               null only when the account is unknown.
//   asset.type                  always one of the five CMP types: the first of resource.asset_type,
//                               resource.type, data.asset_type, data.type that is one (case, `-` and
//                               spaces aside), else from the MIME type (image/*, video/*, other →
//                               raw_file; octet-stream says nothing), else from the filename's
//                               extension (resource/data filename or file_name: jpg, png, … → image;
//                               mp4, mov, … → video), else raw_file. See assetType().
//   asset.source                asset_added / asset_modified only: {id, type, links: {self}} from
//                               resource.source or data.source; all null when the event has none
//   asset.links.self            `${linkBaseUrl}/v3/<images|videos|articles|raw-files|structured-contents>/<id>`
//                               (not for asset_removed: the asset is gone)
//   asset.links.renditions      asset_renditions_created: `${linkBaseUrl}/v3/assets/<id>/renditions`
//   attributes_changed          asset_modified only: data.attributes_changed, else the names in
//                               `changes` (strings, or objects' attribute/field/name/path), else the
//                               keys of `data` that do not describe the asset (id, type, asset_type,
//                               mime_type, content_type, filename, file_name, owner_organization_id,
//                               source), else [] (nothing known about what changed)
// linkBaseUrl is the account's `link_base_url`. Without one, the event's own `links.self` /
// `links.renditions` are used when published, else the path alone (`/v3/images/<id>`).
import type { Account } from '../../domain/types.js';
import type { CanonicalEvent, ProfileRenderer } from '../types.js';
import { eventName, isRecord, str, type Json } from '../shared.js';
import { successStatuses } from '../../delivery/errors.js';

export const CMP_ASSET_TYPES: readonly string[] = ['article', 'image', 'video', 'raw_file', 'structured_content'];

const COLLECTION_OF: Readonly<Record<string, string>> = {
  article: 'articles',
  image: 'images',
  video: 'videos',
  raw_file: 'raw-files',
  structured_content: 'structured-contents',
};

/** `task` → `tasks`, `raw_file` → `raw-files`. */
function collectionOf(type: string): string {
  return COLLECTION_OF[type] ?? `${type.replace(/_/g, '-')}s`;
}

/** A CMP type as given, in any case and with `-` or spaces for `_` (`Raw File`, `structured-content`). */
function cmpType(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const t = value.trim().toLowerCase().replace(/[-\s]+/g, '_');
  return CMP_ASSET_TYPES.includes(t) ? t : undefined;
}

/** Generic MIME types that say nothing about the content; the filename decides instead. */
const UNKNOWN_MIME = new Set(['application/octet-stream', 'binary/octet-stream']);

function fromMime(value: string | undefined): string | undefined {
  const mime = value?.trim().toLowerCase();
  if (!mime || UNKNOWN_MIME.has(mime.split(';')[0]!.trim())) return undefined;
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('video/')) return 'video';
  return 'raw_file';
}

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'gif', 'webp', 'svg', 'bmp', 'tif', 'tiff', 'heic', 'heif', 'avif']);
const VIDEO_EXTENSIONS = new Set(['mp4', 'm4v', 'mov', 'avi', 'mkv', 'webm', 'wmv', 'mpg', 'mpeg', '3gp', 'flv']);

function fromFilename(name: string | undefined): string | undefined {
  const dot = name?.lastIndexOf('.') ?? -1;
  if (name === undefined || dot < 0) return undefined;
  const ext = name.slice(dot + 1).trim().toLowerCase();
  return IMAGE_EXTENSIONS.has(ext) ? 'image' : VIDEO_EXTENSIONS.has(ext) ? 'video' : undefined;
}

/**
 * Always one of CMP_ASSET_TYPES (seed 004: "Value can be article, image, video, raw_file, or
 * structured_content"): the first of resource.asset_type, resource.type, data.asset_type,
 * data.type that is a CMP type; else from the MIME type; else from the filename's extension
 * (common image and video extensions); else raw_file.
 */
export function assetType(resource: Json, data: Json): string {
  return (
    cmpType(resource.asset_type) ??
    cmpType(resource.type) ??
    cmpType(data.asset_type) ??
    cmpType(data.type) ??
    fromMime(str(resource.mime_type) ?? str(resource.content_type) ?? str(data.mime_type) ?? str(data.content_type)) ??
    fromFilename(str(resource.filename) ?? str(resource.file_name) ?? str(data.filename) ?? str(data.file_name)) ??
    'raw_file'
  );
}

/** `data` keys that describe the asset (read above) rather than name a changed attribute. */
const DESCRIPTOR_KEYS: ReadonlySet<string> = new Set(['id', 'type', 'asset_type', 'mime_type', 'content_type', 'filename', 'file_name', 'owner_organization_id', 'source', 'attributes_changed']);

/**
 * data.attributes_changed as is; else the names in `changes` (strings, or objects'
 * attribute/field/name/path); else the keys of `data` other than DESCRIPTOR_KEYS (a metadata
 * update's data holds the fields it set: `{title: 'New'}` → ["title"]); else [].
 */
function attributesChanged(ev: CanonicalEvent, data: Json): string[] {
  if (Array.isArray(data.attributes_changed)) return data.attributes_changed.filter((a): a is string => typeof a === 'string');
  const names = (ev.changes ?? []).map((c) => (typeof c === 'string' ? c : isRecord(c) ? (str(c.attribute) ?? str(c.field) ?? str(c.name) ?? str(c.path)) : undefined));
  const fromChanges = [...new Set(names.filter((n): n is string => n !== undefined && n.length > 0))];
  if (fromChanges.length > 0) return fromChanges;
  return Object.keys(data).filter((k) => !DESCRIPTOR_KEYS.has(k));
}

export interface CmpContext {
  readonly account: Pick<Account, 'id' | 'linkBaseUrl'> | undefined;
}

export function cmpPayload(ev: CanonicalEvent, ctx: CmpContext): Json {
  const name = eventName(ev.type, 'cmp');
  const resource: Json = ev.resource ?? {};
  const data: Json = isRecord(ev.data) ? ev.data : {};
  const base = ctx.account?.linkBaseUrl ?? null;
  const eventLinks: Json = ev.links ?? {};
  const link = (path: string, published: unknown): string => (base !== null ? `${base}${path}` : (str(published) ?? path));

  const id = str(resource.id) ?? str(data.id) ?? null;
  const type = assetType(resource, data);
  const asset: Json = {
    id,
    owner_organization_id: str(resource.owner_organization_id) ?? str(data.owner_organization_id) ?? ctx.account?.id ?? null,
    type,
  };
  if (name === 'asset_removed') return { event_name: name, data: { asset } };

  if (name === 'asset_added' || name === 'asset_modified') {
    const src = isRecord(resource.source) ? resource.source : isRecord(data.source) ? data.source : undefined;
    const srcId = str(src?.id) ?? null;
    const srcType = str(src?.type) ?? null;
    const srcLinks = isRecord(src?.links) ? src.links : {};
    asset.source = {
      id: srcId,
      type: srcType,
      links: { self: srcId !== null && srcType !== null ? link(`/v3/${collectionOf(srcType)}/${srcId}`, srcLinks.self) : (str(srcLinks.self) ?? null) },
    };
  }
  const links: Json = { self: link(`/v3/${collectionOf(type)}/${id ?? ''}`, eventLinks.self) };
  if (name === 'asset_renditions_created') links.renditions = link(`/v3/assets/${id ?? ''}/renditions`, eventLinks.renditions);
  asset.links = links;

  const out: Json = { asset };
  if (name === 'asset_modified') out.attributes_changed = attributesChanged(ev, data);
  return { event_name: name, data: out };
}

export const cmpRenderer: ProfileRenderer = {
  render: ({ event, account }) => ({ body: JSON.stringify(cmpPayload(event(), { account })), headers: {} }),
  // DESIGN.md, seed 004's row: "200 or 202 is success" (seed 004 itself says nothing about statuses).
  isSuccess: successStatuses(200, 202),
};
