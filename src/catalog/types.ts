// Shapes of the event catalog. Kept apart from the data so data.ts and index.ts can both use them
// without importing each other.

/** The name an event type carries in each vendor profile, where that profile has one. */
export interface ProfileNames {
  /** Tenovos (seed 000). Always equal to the canonical name when present. */
  readonly tenovos?: string;
  /** Media Pocket `trigger_events` value (seed 003), e.g. `ASSET_ADDED`. */
  readonly mediapocket?: string;
  /** Optimizely CMP `event_name` (seed 004), e.g. `asset_added`. */
  readonly cmp?: string;
}

/** One distinct event meaning. */
export interface EventTypeDef {
  /** Canonical `topic.object.action` name, used by the `standard` profile and in storage. */
  readonly name: string;
  /** Id of the topic in `topics`; always the first dot segment of `name`. */
  readonly topic: string;
  readonly description: string;
  readonly names: ProfileNames;
}

export interface TopicDef {
  readonly id: string;
  readonly title: string;
  readonly description: string;
}
