// The event catalog: one entry per distinct event meaning, with its name in each profile.
//
// Sources: Tenovos (../shared/seeds/000), Media Pocket trigger_events (003), Optimizely CMP (004),
// plus Herald's own system events.
//
// Canonical names
//   - Tenovos names are canonical as they stand (`asset.created`, `metadata.template.updated`).
//   - A Media Pocket or CMP name is attached to a Tenovos entry only when it means the same thing
//     (same kind of object, same lifecycle step). Those equivalences are written out below as
//     `{ same: '<canonical>' }` in MEDIA_POCKET and as `cmp:` in TENOVOS.
//   - Every other Media Pocket name gets a canonical name from ONE rule, implemented by
//     canonicalNameFromMediaPocket() in naming.ts:
//       lower-case and split on `_`; the first action word (`added`, `edited`, `finished`, ...) is
//       the action, kept verbatim; `<x> <action> to|from <container>` becomes
//       `container.x.action`; otherwise the leading subject (a known compound such as
//       `user_group`, `drop_folder`, `field_group`, `api_key`, `dag_action`, else the first word)
//       is the topic and the remaining words, joined with `_`, the object:
//       `topic[.object].action`.
//       ASSET_ADDED_FAVORITE -> asset.favorite.added, ASSET_ADDED_TO_COLLECTION ->
//       collection.asset.added, STARTED_DAG_ACTION_RUN -> dag_action.run.started.
//   - The topic of every entry is the first segment of its canonical name, so the wildcard
//     `topic.*` selects exactly the events listed under that topic.
//
// The data is plain literals plus that deterministic rule; buildCatalog() checks its invariants
// at load time so a bad edit fails on import rather than at delivery time.

import { canonicalNameFromMediaPocket, topicOfName } from './naming.js';
import type { EventTypeDef, ProfileNames, TopicDef } from './types.js';

// ---------------------------------------------------------------------------------------------
// Topics, in display order: Tenovos sections (seed 000 order), Media Pocket-only subjects, Herald.

export const topics: readonly TopicDef[] = Object.freeze([
  { id: 'asset', title: 'Assets', description: 'Asset lifecycle, metadata, sharing, review and media processing.' },
  { id: 'collection', title: 'Collections', description: 'Collections of assets: lifecycle, membership, sharing and visibility.' },
  {
    id: 'metadata',
    title: 'Metadata',
    description:
      'Administrative changes to metadata templates, metadata groups, controlled vocabularies and metadata attributes.',
  },
  {
    id: 'request',
    title: 'Requests',
    description:
      'Requests: one-step workflows (upload, download, asset change, review, ...) in which assets are assigned to reviewers.',
  },
  { id: 'relationship', title: 'Relationships', description: 'Relationships between assets.' },
  { id: 'rm', title: 'Rights Management', description: 'Rights management projects, entities and agreements.' },
  {
    id: 'security',
    title: 'Security',
    description: 'Administrative changes to user groups, roles and security templates.',
  },
  { id: 'storyboard', title: 'Story Boards', description: 'Story board lifecycle and sharing.' },
  { id: 'user', title: 'Users', description: 'User accounts and their profile.' },
  { id: 'version', title: 'Versions', description: 'New versions of assets.' },
  { id: 'project', title: 'Projects', description: 'Projects (workspaces grouping assets and people): lifecycle, content and visibility.' },
  { id: 'user_group', title: 'User groups', description: 'Links of user groups to other items, and group membership.' },
  { id: 'drop_folder', title: 'Drop folders', description: 'Drop folders that receive or send assets.' },
  { id: 'api_key', title: 'API keys', description: 'API keys of the DAM.' },
  { id: 'field', title: 'Fields', description: 'Custom metadata field definitions.' },
  { id: 'field_group', title: 'Field groups', description: 'Sets of custom metadata fields.' },
  { id: 'permission', title: 'Permissions', description: 'Permission changes.' },
  { id: 'loader', title: 'Loaders', description: 'Loader agents that move files into the DAM: health, settings and processes.' },
  { id: 'notification', title: 'Notifications', description: 'Notifications created for users.' },
  { id: 'dag_action', title: 'Automation actions', description: 'Runs of automation (DAG) actions.' },
  { id: 'message', title: 'Messages', description: 'Herald: the outcome of delivering a message to an endpoint.' },
  { id: 'endpoint', title: 'Endpoints', description: 'Herald: changes to the state of a webhook endpoint.' },
]);

// ---------------------------------------------------------------------------------------------
// Tenovos events, seed 000 order. Descriptions follow the seed's text in past tense, without the
// vendor name. `cmp` names the Optimizely CMP equivalent where there is one.

type TenovosRow = readonly [name: string, description: string, cmp?: string];

const TENOVOS: readonly TenovosRow[] = [
  ['asset.created', 'An asset was created.', 'asset_added'],
  ['asset.deleted', 'An asset was deleted.', 'asset_removed'],
  ['asset.downloaded', 'An asset was downloaded.'],
  ['asset.purged', 'An asset was purged from the Recycle Bin.'],
  [
    'asset.renditions.created',
    'The system-generated renditions of an asset have completed processing.',
    'asset_renditions_created',
  ],
  ['asset.shared', 'An asset was shared with other users or external contacts.'],
  ['asset.security.updated', 'The security templates applied to an asset were updated.'],
  ['asset.metadata.updated', 'The metadata applied to an asset was updated.', 'asset_modified'],
  ['asset.restored', 'An asset was restored from the Recycle Bin and is available to users again.'],

  ['collection.created', 'A collection was created.'],
  [
    'collection.updated',
    'A collection was updated. The Tenovos reference also documents it for assets added to or removed from the collection (see collection.assets.updated).',
  ],
  ['collection.deleted', 'A collection was deleted.'],
  ['collection.assets.updated', 'Assets were added to and/or removed from a collection.'],
  ['collection.downloaded', 'A collection was downloaded.'],
  ['collection.shared', 'A collection was shared.'],

  ['metadata.attribute.created', 'A metadata attribute was created.'],
  ['metadata.attribute.deleted', 'A metadata attribute was deleted.'],
  ['metadata.attribute.updated', 'A metadata attribute was updated.'],
  ['metadata.group.created', 'A metadata group was created.'],
  ['metadata.group.deleted', 'A metadata group was deleted.'],
  ['metadata.group.updated', 'A metadata group was updated.'],
  ['metadata.template.created', 'A metadata template was created.'],
  ['metadata.template.deleted', 'A metadata template was deleted.'],
  ['metadata.template.updated', 'A metadata template was updated.'],
  ['metadata.vocabulary.created', 'A controlled vocabulary was created.'],
  [
    'metadata.vocabulary.deleted',
    'A controlled vocabulary list was deleted. Applies to the entire list; deleting individual values raises metadata.vocabulary.updated.',
  ],
  [
    'metadata.vocabulary.updated',
    'A controlled vocabulary list was updated: values were added to, removed from or renamed in it.',
  ],

  ['request.created', 'A new request was submitted.'],
  ['request.updated', 'A request was updated.'],

  ['relationship.created', 'An asset relationship was created.'],
  ['relationship.deleted', 'An asset relationship was deleted.'],
  ['relationship.updated', 'An asset relationship was updated.'],

  ['rm.project.created', 'A rights management project was created.'],
  ['rm.project.updated', 'A rights management project was updated.'],
  ['rm.project.deleted', 'A rights management project was deleted.'],
  ['rm.entity.created', 'A rights management entity was created.'],
  ['rm.entity.updated', 'A rights management entity was updated.'],
  ['rm.entity.deleted', 'A rights management entity was deleted.'],
  ['rm.agreement.created', 'A rights management agreement was created.'],
  ['rm.agreement.updated', 'A rights management agreement was updated.'],
  ['rm.agreement.deleted', 'A rights management agreement was deleted.'],

  ['security.group.created', 'A new user group (security group) was created.'],
  ['security.group.updated', 'A user group (security group) was updated.'],
  ['security.group.deleted', 'A user group (security group) was deleted.'],
  // The seed's text for role.created says "a new Group"; the path and siblings make it a role.
  ['security.role.created', 'A new role was created.'],
  ['security.role.updated', 'A role was updated.'],
  ['security.role.deleted', 'A role was deleted.'],
  ['security.template.created', 'A security template was created.'],
  ['security.template.updated', 'A security template was updated.'],
  ['security.template.deleted', 'A security template was deleted.'],

  ['storyboard.created', 'A story board was created.'],
  ['storyboard.updated', 'A story board was updated.'],
  ['storyboard.deleted', 'A story board was deleted.'],
  ['storyboard.shared', 'A story board was shared.'],
  ['storyboard.restored', 'A story board was restored from the Recycle Bin.'],
  ['storyboard.purged', "A story board was purged from the Recycle Bin; once purged it can't be recovered."],

  ['user.created', 'A user account was created.'],
  ['user.updated', 'A user account was updated.'],

  ['version.created', 'A new version of an asset was created.'],
];

// ---------------------------------------------------------------------------------------------
// Media Pocket trigger_events: all of them, exactly as listed in seed 003 and in its order. That is
// 123 values, not the "121" DESIGN.md quotes (ASSET_UPDATED_PROXY_MP4 and ASSET_FINISHED_PROXY_MP4
// contain digits and are easy to miss when counting). Each row
// either names its Tenovos equivalent (`{ same }`) or describes the event, in which case its
// canonical name comes from the naming rule.

interface Same {
  readonly same: string;
}
type MediaPocketRow = readonly [name: string, meaning: string | Same];

const MEDIA_POCKET: readonly MediaPocketRow[] = [
  ['ASSET_REMOVED_FAVORITE', "An asset was removed from a user's favorites."],
  ['ASSET_ADDED_FAVORITE', "An asset was added to a user's favorites."],
  ['ASSET_ADDED_COMMENT', 'A comment was added to an asset.'],
  ['ASSET_STARTED_INGEST', 'Ingest (upload and processing) of an asset started.'],
  ['ASSET_RESTORED', { same: 'asset.restored' }],
  ['ASSET_REMOVED', { same: 'asset.deleted' }],
  ['ASSET_EDITED_COMMENT', 'A comment on an asset was edited.'],
  ['ASSET_REMOVED_COMMENT', 'A comment was removed from an asset.'],
  ['ASSET_EDITED_METADATA', { same: 'asset.metadata.updated' }],
  ['ASSET_ADDED_APPROVAL', 'An approval was requested for an asset.'],
  ['ASSET_APPROVED', 'An asset was approved.'],
  ['ASSET_REJECTED', 'An asset was rejected.'],
  ['ASSET_LINKED', 'An asset was linked to another item.'],
  ['ASSET_UNLINKED', 'An asset was unlinked from another item.'],
  ['ASSET_ADDED_CLIP', 'A clip (a marked segment of the media) was added to an asset.'],
  ['ASSET_EDITED_CLIP', 'A clip of an asset was edited.'],
  ['ASSET_REMOVED_CLIP', 'A clip was removed from an asset.'],
  ['ASSET_ADDED_ATTACHMENT', 'An attachment was added to an asset.'],
  ['ASSET_REMOVED_ATTACHMENT', 'An attachment was removed from an asset.'],
  ['ASSET_ADDED_FIELD_GROUP', 'A field group was added to an asset.'],
  ['ASSET_EDITED_FIELD_GROUP', "The values of a field group on an asset were edited."],
  ['ASSET_REMOVED_FIELD_GROUP', 'A field group was removed from an asset.'],
  ['ASSET_ADDED', { same: 'asset.created' }],
  ['ASSET_STARTED_ANALYSIS', 'Automatic analysis of an asset started.'],
  ['ASSET_FINISHED_ANALYSIS', 'Automatic analysis of an asset finished.'],
  ['ASSET_DOWNLOADED', { same: 'asset.downloaded' }],
  ['ASSET_SHARED_LINK', 'A link to an asset was shared.'],
  ['ASSET_PUBLISHED', 'An asset was published.'],
  ['ASSET_STARTED_RTSP_STREAM', 'An RTSP live stream into an asset started.'],
  ['ASSET_STARTED_RTMP_STREAM', 'An RTMP live stream into an asset started.'],
  ['ASSET_FINISHED_STREAM', 'A live stream into an asset finished.'],
  ['ASSET_ADDED_CROP', 'A crop was added to an asset.'],
  ['ASSET_EDITED_CROP', 'A crop of an asset was edited.'],
  ['ASSET_REMOVED_CROP', 'A crop was removed from an asset.'],
  ['ASSET_FINISHED_INGEST', 'Ingest (upload and processing) of an asset finished.'],
  ['ASSET_REMOVE_MEDIA_QUEUED', "Removal of an asset's media file was queued."],
  ['ASSET_REMOVED_MEDIA', "An asset's media file was removed."],
  ['ASSET_UPDATED_PROXY_MP4', "Generation of an asset's MP4 proxy reported progress."],
  ['ASSET_FINISHED_PROXY_MP4', "Generation of an asset's MP4 proxy finished."],
  ['ASSET_ADDED_TO_COLLECTION', 'An asset was added to a collection.'],
  ['ASSET_REMOVED_FROM_COLLECTION', 'An asset was removed from a collection.'],
  ['INCOMING_ASSET_ADDED_TO_DROP_FOLDER', 'An incoming asset arrived in a drop folder.'],
  ['OUTGOING_ASSET_ADDED_TO_DROP_FOLDER', 'An asset was placed in a drop folder to be sent out.'],
  ['ASSET_PURGED', { same: 'asset.purged' }],
  ['ASSET_ADDED_SHAREABLE_LINK', 'A shareable link was created for an asset.'],
  ['ASSET_UPDATED_INGEST', 'Ingest of an asset reported progress.'],
  ['ASSET_FINISHED_EJECT', 'An eject of an asset finished.'],
  ['ASSET_UPDATED_EJECT', 'An eject of an asset reported progress.'],
  ['ASSET_ADDED_ARTICLE', 'An article was added to an asset.'],
  ['ASSET_EDITED_ARTICLE', 'An article of an asset was edited.'],
  ['ASSET_FINISHED_IMAGE_PREVIEW', "Generation of an asset's image preview finished."],
  ['ASSET_FINISHED_IMAGE_THUMBNAIL', "Generation of an asset's thumbnail finished."],
  ['ASSET_FINISHED_DOCUMENT_PREVIEW', "Generation of an asset's document preview finished."],
  ['ASSET_FINISHED_AUDIO_WAVEFORM', "Generation of an asset's audio waveform finished."],
  ['ASSET_FINISHED_AUDIO_PROXY', "Generation of an asset's audio proxy finished."],
  ['PROJECT_REMOVED_FAVORITE', "A project was removed from a user's favorites."],
  ['PROJECT_ADDED_FAVORITE', "A project was added to a user's favorites."],
  ['PROJECT_ADDED_COMMENT', 'A comment was added to a project.'],
  ['PROJECT_RESTORED', 'A removed project was restored.'],
  ['PROJECT_REMOVED', 'A project was removed; it can be restored until it is purged.'],
  ['PROJECT_EDITED_COMMENT', 'A comment on a project was edited.'],
  ['PROJECT_REMOVED_COMMENT', 'A comment was removed from a project.'],
  ['PROJECT_EDITED_METADATA', "A project's metadata was edited."],
  ['PROJECT_LINKED', 'A project was linked to another item.'],
  ['PROJECT_UNLINKED', 'A project was unlinked from another item.'],
  ['PROJECT_ADDED_ATTACHMENT', 'An attachment was added to a project.'],
  ['PROJECT_REMOVED_ATTACHMENT', 'An attachment was removed from a project.'],
  ['PROJECT_ADDED_FIELD_GROUP', 'A field group was added to a project.'],
  ['PROJECT_EDITED_FIELD_GROUP', 'The values of a field group on a project were edited.'],
  ['PROJECT_REMOVED_FIELD_GROUP', 'A field group was removed from a project.'],
  ['PROJECT_PRIVATE', 'A project was made private.'],
  ['PROJECT_PUBLIC', 'A project was made public.'],
  ['PROJECT_ADDED', 'A project was created.'],
  ['PROJECT_ADDED_THUMBNAIL_ASSET', "An asset was set as a project's thumbnail."],
  ['PROJECT_REMOVED_THUMBNAIL_ASSET', "A project's thumbnail asset was removed."],
  ['PROJECT_PURGED', "A removed project was purged; it can't be restored."],
  ['USER_LINKED', 'A user was linked to another item, such as a project.'],
  ['USER_UNLINKED', 'A user was unlinked from another item, such as a project.'],
  ['USER_ADDED', { same: 'user.created' }],
  ['USER_EDITED', { same: 'user.updated' }],
  ['USER_REMOVED', 'A user account was removed.'],
  ['USER_EDITED_AVATAR', "A user's avatar was changed."],
  ['USER_REMOVED_AVATAR', "A user's avatar was removed."],
  ['USER_GROUP_LINKED', 'A user group was linked to another item, such as a project.'],
  ['USER_GROUP_UNLINKED', 'A user group was unlinked from another item, such as a project.'],
  ['USER_GROUP_USER_LINKED', 'A user was added to a user group.'],
  ['USER_GROUP_USER_UNLINKED', 'A user was removed from a user group.'],
  ['USER_GROUP_ADDED', { same: 'security.group.created' }],
  ['USER_GROUP_EDITED', { same: 'security.group.updated' }],
  ['USER_GROUP_REMOVED', { same: 'security.group.deleted' }],
  ['USER_ROLE_ADDED', { same: 'security.role.created' }],
  ['USER_ROLE_REMOVED', { same: 'security.role.deleted' }],
  ['USER_ROLE_EDITED', { same: 'security.role.updated' }],
  ['COLLECTION_CREATED', { same: 'collection.created' }],
  ['COLLECTION_UPDATED_METADATA', "A collection's metadata was updated."],
  ['COLLECTION_DELETED', { same: 'collection.deleted' }],
  ['COLLECTION_ADDED_FAVORITE', "A collection was added to a user's favorites."],
  ['COLLECTION_REMOVED_FAVORITE', "A collection was removed from a user's favorites."],
  ['COLLECTION_PUBLIC', 'A collection was made public.'],
  ['COLLECTION_PRIVATE', 'A collection was made private.'],
  ['DROP_FOLDER_ADDED', 'A drop folder was created.'],
  ['DROP_FOLDER_EDITED_METADATA', "A drop folder's metadata was edited."],
  ['DROP_FOLDER_REMOVED', 'A drop folder was removed.'],
  ['DROP_FOLDER_PUBLIC', 'A drop folder was made public.'],
  ['DROP_FOLDER_PRIVATE', 'A drop folder was made private.'],
  ['API_KEY_ADDED', 'An API key was created.'],
  ['API_KEY_REMOVED', 'An API key was removed.'],
  ['FIELD_ADDED', 'A custom metadata field was created.'],
  ['FIELD_EDITED', 'A custom metadata field was edited.'],
  ['FIELD_REMOVED', 'A custom metadata field was removed.'],
  ['FIELD_GROUP_ADDED', 'A field group (a set of custom fields) was created.'],
  ['FIELD_GROUP_EDITED', 'A field group was edited.'],
  ['FIELD_GROUP_REMOVED', 'A field group was removed.'],
  ['PERMISSION_EDITED', 'Permissions were edited.'],
  ['LOADER_PING', 'A loader agent reported that it is alive.'],
  ['LOADER_PROCESS_UPDATED', 'A loader process reported progress.'],
  ['LOADER_PROCESS_REMOVED', 'A loader process was removed.'],
  ['LOADER_EDITED', "A loader's settings were edited."],
  ['LOADER_PROCESS_EDITED', "A loader process's settings were edited."],
  ['NOTIFICATION_ADDED', 'A notification was created for a user.'],
  ['STARTED_DAG_ACTION_RUN', 'A run of an automation (DAG) action started.'],
  ['COMPLETED_DAG_ACTION_RUN', 'A run of an automation (DAG) action completed.'],
  ['UPDATED_DAG_ACTION_RUN', 'A run of an automation (DAG) action reported progress.'],
];

/** The Media Pocket trigger_events enum, exactly as in seed 003 and in its order. */
export const mediaPocketTriggerEvents: readonly string[] = Object.freeze(MEDIA_POCKET.map(([name]) => name));

// ---------------------------------------------------------------------------------------------
// Herald's own events, raised by the delivery machinery rather than published by the DAM.

const HERALD: readonly (readonly [name: string, description: string])[] = [
  [
    'message.attempt.exhausted',
    'Every attempt of the retry schedule to deliver a message to an endpoint failed; the delivery is now failed.',
  ],
  [
    'endpoint.disabled',
    'An endpoint was disabled, by a user or automatically (failing for 5 days, or answering 410 Gone).',
  ],
  ['endpoint.enabled', 'A disabled endpoint was enabled again.'],
];

/** Names of the events only Herald raises: nobody may publish them, so receivers can trust them. */
export const heraldEventNames: ReadonlySet<string> = new Set(HERALD.map(([name]) => name));

// ---------------------------------------------------------------------------------------------

interface Draft {
  name: string;
  topic: string;
  description: string;
  names: { tenovos?: string; mediapocket?: string; cmp?: string };
}

function draft(name: string, description: string, names: Draft['names']): Draft {
  return { name, topic: topicOfName(name), description, names };
}

/** Attaches a Media Pocket name to the Tenovos entry it is declared equivalent to. */
function attachEquivalent(byName: ReadonlyMap<string, Draft>, mediaPocketName: string, canonical: string): void {
  const target = byName.get(canonical);
  if (!target) throw new Error(`catalog: ${mediaPocketName} is mapped to unknown event ${canonical}`);
  if (target.names.mediapocket) {
    throw new Error(`catalog: ${canonical} already has Media Pocket name ${target.names.mediapocket}`);
  }
  target.names.mediapocket = mediaPocketName;
}

/** Freezes an entry, with its profile names in a fixed key order for stable JSON output. */
function freezeEntry(d: Draft): EventTypeDef {
  const { tenovos, mediapocket, cmp } = d.names;
  const names: ProfileNames = Object.freeze({
    ...(tenovos !== undefined && { tenovos }),
    ...(mediapocket !== undefined && { mediapocket }),
    ...(cmp !== undefined && { cmp }),
  });
  return Object.freeze({ name: d.name, topic: d.topic, description: d.description, names });
}

function buildCatalog(): readonly EventTypeDef[] {
  const drafts: Draft[] = TENOVOS.map(([name, description, cmp]) =>
    draft(name, description, cmp ? { tenovos: name, cmp } : { tenovos: name }),
  );
  const byName = new Map(drafts.map((d) => [d.name, d]));

  for (const [mediaPocketName, meaning] of MEDIA_POCKET) {
    if (typeof meaning !== 'string') {
      attachEquivalent(byName, mediaPocketName, meaning.same);
      continue;
    }
    const d = draft(canonicalNameFromMediaPocket(mediaPocketName), meaning, { mediapocket: mediaPocketName });
    if (byName.has(d.name)) throw new Error(`catalog: ${mediaPocketName} derives ${d.name}, which already exists`);
    byName.set(d.name, d);
    drafts.push(d);
  }

  for (const [name, description] of HERALD) {
    if (byName.has(name)) throw new Error(`catalog: duplicate event ${name}`);
    drafts.push(draft(name, description, {}));
  }

  const topicIds = new Set(topics.map((t) => t.id));
  for (const d of drafts) {
    if (!topicIds.has(d.topic)) throw new Error(`catalog: ${d.name} has undeclared topic ${d.topic}`);
  }
  return Object.freeze(drafts.map(freezeEntry));
}

/** Every catalog entry: Tenovos events (seed order), Media Pocket-only events, Herald events. */
export const eventTypes: readonly EventTypeDef[] = buildCatalog();
