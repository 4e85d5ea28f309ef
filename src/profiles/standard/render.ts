import type { ProfileRenderer } from '../types.js';

/** The native profile sends the canonical body exactly as it was stored at ingest. */
export const standardRenderer: ProfileRenderer = {
  render: ({ delivery }) => ({ body: delivery.body, headers: {} }),
};
