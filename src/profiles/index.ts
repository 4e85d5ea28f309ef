import type { ProfileName } from '../domain/types.js';
import { standardRenderer } from './standard/render.js';
import type { ProfileRenderer } from './types.js';

const renderers: Record<ProfileName, ProfileRenderer> = {
  standard: standardRenderer,
  tenovos: standardRenderer,
  mediapocket: standardRenderer,
  cmp: standardRenderer,
};

export function rendererFor(profile: ProfileName): ProfileRenderer {
  return renderers[profile];
}
