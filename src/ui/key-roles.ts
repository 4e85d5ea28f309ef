// What the signed-in key may do, so pages offer only the actions that will work. The API stays
// the authority (it checks every call); this only shapes what is shown. Roles are looked up once
// per key and kept briefly: a key's role never changes, but a deleted key must stop the session.
import { createHash } from 'node:crypto';

export type KeyRole = 'admin' | 'publisher' | 'viewer';

const KEEP_MS = 10_000;
const MAX_KEYS = 1_000;

export class KeyRoles {
  /** By the key's hash: the raw key is not kept here. */
  private readonly known = new Map<string, { readonly role: KeyRole; readonly at: number }>();

  constructor(
    private readonly lookup: (key: string) => Promise<KeyRole>,
    private readonly now: () => number = Date.now,
  ) {}

  async roleOf(key: string): Promise<KeyRole> {
    const id = createHash('sha256').update(key).digest('base64url');
    const hit = this.known.get(id);
    if (hit && this.now() - hit.at < KEEP_MS) return hit.role;
    const role = await this.lookup(key);
    if (this.known.size >= MAX_KEYS) this.known.clear();
    this.known.set(id, { role, at: this.now() });
    return role;
  }
}
