// /healthz: the process is up and serving. /readyz: it can do its work, i.e. the store answers
// and its schema is the one this Herald was built for, and the dispatcher of a process that runs
// one is sending. Neither needs a key; neither says more than which condition failed (driver
// errors can name hosts and users: they go to the log).
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppContext, DispatcherState } from '../../app/context.js';
import type { SchemaState } from '../../store/contract.js';
import { diskRefusal } from '../../store/unavailable.js';

/** A probe that waits longer than this reports the store unreachable rather than hanging. */
const STORE_TIMEOUT_MS = 2_000;

/** Why /readyz answers 503: these alone, and these with the store's schema versions. */
const REASONS = ['store_unreachable', 'store_unwritable', 'dispatcher_starting', 'dispatcher_restarting'] as const;
const VERSION_REASONS = ['migrations_pending', 'schema_newer'] as const;

export type Readiness =
  | { readonly status: 'ready'; readonly schema: number }
  | { readonly status: 'unavailable'; readonly reason: (typeof REASONS)[number] }
  | { readonly status: 'unavailable'; readonly reason: (typeof VERSION_REASONS)[number]; readonly current: number; readonly latest: number };

// The probes' answers for /openapi.json; `security: []`: no key.
const code = (names: readonly string[]) => names.map((name) => `\`${name}\``).join(', ');
const PROBE = { tags: ['probes'], security: [] };
const Live = Type.Object({ status: Type.Enum(['ok']), version: Type.String() }, { description: 'the process is up and serving HTTP (liveness)' });
const Ready = Type.Object(
  { status: Type.Enum(['ready']), schema: Type.Integer({ description: "the store's schema version" }) },
  { description: "ready: the store answered within 2 s with this Herald's schema, and the process's dispatcher, if it runs one, is sending" },
);
const Unavailable = Type.Object(
  {
    status: Type.Enum(['unavailable']),
    reason: Type.Enum([...REASONS, ...VERSION_REASONS]),
    current: Type.Optional(Type.Integer({ description: `with ${code(VERSION_REASONS)}: the store's schema version` })),
    latest: Type.Optional(Type.Integer({ description: `with ${code(VERSION_REASONS)}: the version this Herald was built for` })),
  },
  { description: `not ready: \`reason\` is ${code(REASONS)}, or ${code(VERSION_REASONS)} with \`current\` and \`latest\`` },
);

/**
 * `dispatcher`: the state of the process's dispatcher, undefined without one. The store is asked
 * first: while its disk refuses writes, the probe's write is what notices they go through again.
 */
export async function checkReadiness(
  schemaState: () => Promise<SchemaState>,
  onError: (err: unknown) => void,
  timeoutMs = STORE_TIMEOUT_MS,
  dispatcher: () => DispatcherState | undefined = () => undefined,
): Promise<Readiness> {
  let state: SchemaState;
  let timer: NodeJS.Timeout | undefined;
  try {
    state = await Promise.race([
      schemaState(),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`the store did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    onError(err);
    // The embedded store answers, but its disk refuses writes (full, read-only): nothing can be published.
    return { status: 'unavailable', reason: diskRefusal(err) === undefined ? 'store_unreachable' : 'store_unwritable' };
  } finally {
    clearTimeout(timer);
  }
  if (state.current === state.latest) {
    // Events are accepted meanwhile (they are durable), but none goes out until it runs.
    const running = dispatcher();
    if (running === 'starting' || running === 'restarting') return { status: 'unavailable', reason: `dispatcher_${running}` };
    return { status: 'ready', schema: state.current };
  }
  // A newer schema means a newer Herald migrated the store: this one must not write to it either.
  return { status: 'unavailable', reason: state.current < state.latest ? 'migrations_pending' : 'schema_newer', current: state.current, latest: state.latest };
}

export function registerHealthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get('/healthz', { schema: { ...PROBE, summary: 'Liveness', response: { 200: Live } } }, async () => ({ status: 'ok', version: ctx.version }));
  const readyz = { ...PROBE, summary: 'Readiness: the store answers with the current schema and the dispatcher sends', response: { 200: Ready, 503: Unavailable } };
  app.get('/readyz', { schema: readyz }, async (req, reply) => {
    const readiness = await checkReadiness(
      () => ctx.store.schemaState(),
      // A disk refusing writes is logged by the store, once (logWrites): not at every probe.
      (err) => (diskRefusal(err) === undefined ? req.log.warn({ err }, 'readiness: store unreachable') : req.log.debug({ err }, 'readiness: store unwritable')),
      STORE_TIMEOUT_MS,
      () => ctx.dispatcherState(),
    );
    return reply.status(readiness.status === 'ready' ? 200 : 503).send(readiness);
  });
}
