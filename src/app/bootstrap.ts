// First-start set-up: the default account and the operator's admin key.
import type { Config } from '../config/index.js';
import { generateApiKey, hashKey } from '../api/middleware/auth.js';
import type { Store } from '../store/contract.js';

export const DEFAULT_ACCOUNT_ID = 'acc_default';

/** A generated admin key, stored hashed: shown once the process serves, withdrawn if it cannot. */
export interface GeneratedKey {
  readonly id: string;
  readonly key: string;
}

export function adminKeyAnnouncement(key: string): string {
  return `Herald admin API key (shown once, stored hashed; set HERALD_ADMIN_KEY to choose your own): ${key}`;
}

/**
 * `servesApi`: only a process that serves the API generates a missing admin key; a worker's
 * output is often a log nobody reads, and the key would be shown there only. The caller shows
 * the key once it listens: a start that fails after this (a port taken) withdraws it, so the
 * next start generates and shows one again instead of leaving a key nobody saw.
 */
export async function bootstrap(store: Store, config: Config, servesApi = true): Promise<{ defaultAccountId: string; generatedKey?: GeneratedKey }> {
  if (!(await store.getAccount(DEFAULT_ACCOUNT_ID))) {
    try {
      await store.createAccount({ id: DEFAULT_ACCOUNT_ID, name: 'Default account' });
    } catch (err) {
      // Another process created it at the same moment.
      if (!(await store.getAccount(DEFAULT_ACCOUNT_ID))) throw err;
    }
  }
  if (config.adminKey) {
    const hash = hashKey(config.adminKey);
    if (!(await store.syncEnvKey(hash))) {
      try {
        await store.createApiKey({ accountId: DEFAULT_ACCOUNT_ID, name: 'HERALD_ADMIN_KEY', role: 'admin', operator: true, hash, prefix: config.adminKey.slice(0, 4), source: 'env' });
      } catch (err) {
        // Another process with the same key stored it at the same moment (the hash is unique).
        if (!(await store.findApiKeyByHash(hash))) throw err;
      }
    }
  } else if (servesApi && (await store.countOperatorKeys()) === 0) {
    const { key, prefix } = generateApiKey();
    const { id } = await store.createApiKey({ accountId: DEFAULT_ACCOUNT_ID, name: 'generated admin key', role: 'admin', operator: true, hash: hashKey(key), prefix, source: 'generated' });
    return { defaultAccountId: DEFAULT_ACCOUNT_ID, generatedKey: { id, key } };
  }
  return { defaultAccountId: DEFAULT_ACCOUNT_ID };
}
