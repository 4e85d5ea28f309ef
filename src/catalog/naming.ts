// The one rule that gives a canonical name to a Media Pocket trigger event with no counterpart in
// the Tenovos catalog. See README.md ("Naming rule") for the rationale and examples.
//
//   1. Lower-case the name and split it on `_` into words.
//   2. The action is the first word that says what happened (ACTION_WORDS: `added`, `edited`,
//      `finished`, `public`, `ping`, ...). It is kept verbatim, never translated (`edited` stays
//      `edited`), because Media Pocket uses near-synonyms side by side (`LOADER_PROCESS_EDITED`
//      and `LOADER_PROCESS_UPDATED` are different events).
//   3. If the action is followed by `to`/`from`, the thing after the preposition is the container
//      and becomes the topic; the words before the action are the object:
//        ASSET_ADDED_TO_COLLECTION            -> collection.asset.added
//        INCOMING_ASSET_ADDED_TO_DROP_FOLDER  -> drop_folder.incoming_asset.added
//   4. Otherwise the remaining words (those before and after the action, in order) are the
//      subject followed by the object. The subject is a known compound (COMPOUND_SUBJECTS, e.g.
//      `user_group`, `drop_folder`) when the words start with one, else the first word. The
//      object words are joined with `_` into one segment; an empty object is omitted:
//        ASSET_ADDED_FAVORITE                 -> asset.favorite.added
//        ASSET_FINISHED_IMAGE_PREVIEW         -> asset.image_preview.finished
//        USER_GROUP_USER_LINKED               -> user_group.user.linked
//        STARTED_DAG_ACTION_RUN               -> dag_action.run.started
//        PROJECT_PRIVATE                      -> project.private
//
// The result is always `topic.action` or `topic.object.action`, and the topic is its first segment.

/** Words that say what happened to the subject; the first one found is the action. */
const ACTION_WORDS: ReadonlySet<string> = new Set([
  'added',
  'approved',
  'completed',
  'created',
  'deleted',
  'downloaded',
  'edited',
  'finished',
  'linked',
  'ping',
  'private',
  'public',
  'published',
  'purged',
  'queued',
  'rejected',
  'removed',
  'restored',
  'shared',
  'started',
  'unlinked',
  'updated',
]);

const PREPOSITIONS: ReadonlySet<string> = new Set(['to', 'from']);

/**
 * Multi-word subjects. Without them `USER_GROUP_ADDED` would read as "a group was added to a
 * user" (`user.group.added`) rather than "a user group was added".
 */
const COMPOUND_SUBJECTS: readonly (readonly string[])[] = [
  ['user', 'group'],
  ['user', 'role'],
  ['drop', 'folder'],
  ['field', 'group'],
  ['api', 'key'],
  ['dag', 'action'],
];

/** Number of leading words that form the subject: a known compound, else one word. */
function subjectLength(words: readonly string[]): number {
  const compound = COMPOUND_SUBJECTS.find((c) => c.every((w, i) => words[i] === w));
  return compound ? compound.length : 1;
}

function joinSegments(...segments: string[]): string {
  return segments.filter((s) => s.length > 0).join('.');
}

/**
 * Canonical name for a Media Pocket trigger event, by the rule above. Throws when the name holds
 * no known action word, so a new Media Pocket name fails loudly instead of getting a bad name.
 */
export function canonicalNameFromMediaPocket(mediaPocketName: string): string {
  const words = mediaPocketName.toLowerCase().split('_');
  const at = words.findIndex((w) => ACTION_WORDS.has(w));
  if (at < 0) {
    throw new Error(`catalog: no action word in Media Pocket event "${mediaPocketName}"; extend ACTION_WORDS`);
  }
  const action = words[at];
  const before = words.slice(0, at);
  const after = words.slice(at + 1);

  if (after.length > 1 && PREPOSITIONS.has(after[0])) {
    return joinSegments(after.slice(1).join('_'), before.join('_'), action);
  }

  const rest = [...before, ...after];
  const n = subjectLength(rest);
  return joinSegments(rest.slice(0, n).join('_'), rest.slice(n).join('_'), action);
}

/** Sections whose events are about their second segment: `metadata.template.created` → `template`. */
const SECTIONS_OF_OBJECTS: ReadonlySet<string> = new Set(['metadata', 'rm', 'security']);

/**
 * The kind of object an event is about: the resource type a publisher sends with it (an
 * `asset.renditions.created` is about an asset, a `metadata.template.created` about a template).
 */
export function subjectOf(name: string): string {
  const parts = name.split('.');
  return parts.length >= 3 && SECTIONS_OF_OBJECTS.has(parts[0]!) ? parts[1]! : parts[0]!;
}

/** Topic id of a canonical name: its first dot segment (the same rule for every entry). */
export function topicOfName(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? name : name.slice(0, dot);
}
