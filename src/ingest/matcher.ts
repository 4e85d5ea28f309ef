// Which endpoints an event goes to. The compiled filters of an account are cached and
// rebuilt only when the account's endpoints version changes.
import { compileFilter } from '../catalog/index.js';
import type { Endpoint, EventInput } from '../domain/types.js';
import type { Store } from '../store/contract.js';

interface CompiledEndpoint {
  readonly id: string;
  readonly ordered: boolean;
  readonly accepts: (type: string) => boolean;
  readonly projects: ReadonlySet<string> | null;
  readonly users: ReadonlySet<string> | null;
}

interface AccountMatcher {
  readonly version: number;
  readonly endpoints: readonly CompiledEndpoint[];
}

function compile(e: Endpoint): CompiledEndpoint {
  return {
    id: e.id,
    ordered: e.ordering === 'per_resource',
    accepts: compileFilter(e.eventTypes),
    projects: e.projectIds.length > 0 ? new Set(e.projectIds) : null,
    users: e.userIds.length > 0 ? new Set(e.userIds) : null,
  };
}

export interface MatchedEndpoint {
  readonly id: string;
  readonly ordered: boolean;
}

export class EndpointMatcher {
  private readonly cache = new Map<string, AccountMatcher>();

  constructor(private readonly store: Pick<Store, 'activeEndpoints' | 'endpointsVersion'>) {}

  /** Returns a match function valid for one ingest batch. */
  async forAccount(accountId: string): Promise<(type: string, event: EventInput) => MatchedEndpoint[]> {
    const version = await this.store.endpointsVersion(accountId);
    let entry = this.cache.get(accountId);
    if (!entry || entry.version !== version) {
      const endpoints = await this.store.activeEndpoints(accountId);
      entry = { version, endpoints: endpoints.map(compile) };
      this.cache.set(accountId, entry);
    }
    const { endpoints } = entry;
    return (type, event) => endpoints.filter((e) => matches(e, type, event)).map((e) => ({ id: e.id, ordered: e.ordered }));
  }
}

function matches(e: CompiledEndpoint, type: string, event: EventInput): boolean {
  if (!e.accepts(type)) return false;
  if (e.projects && (event.projectId === undefined || !e.projects.has(event.projectId))) return false;
  if (e.users && (event.actor === undefined || !e.users.has(event.actor.id))) return false;
  return true;
}
