import type { ProfileName } from '../domain/types.js';
import { inboxRelayRenderer } from '../inbox/relay.js';
import { cmpRenderer } from './cmp/render.js';
import { mediaPocketRenderer } from './mediapocket/render.js';
import { standardRenderer } from './standard/render.js';
import { tenovosRenderer } from './tenovos/render.js';
import type { ProfileRenderer } from './types.js';

const renderers: Record<ProfileName, ProfileRenderer> = {
  standard: standardRenderer,
  tenovos: tenovosRenderer,
  mediapocket: mediaPocketRenderer,
  cmp: cmpRenderer,
  inbox: inboxRelayRenderer,
};

export function rendererFor(profile: ProfileName): ProfileRenderer {
  return renderers[profile];
}
