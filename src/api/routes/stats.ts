// Endpoint health and activity for dashboards: /api/v2/endpoints/:id/stats,
// /api/v2/stats/endpoints, /api/v2/stats/activity. All read the per-minute attempt rollup the
// store keeps in settle, never the attempts themselves.
import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { AppContext } from '../../app/context.js';
import { MINUTE_MS, minuteOf } from '../../store/rollup.js';
import { principalOf } from '../middleware/auth.js';
import { ApiError, notFound } from '../middleware/errors.js';
import { described } from '../openapi.js';
import { ActivityQuery, ActivityView, BatchStatsQuery, EndpointStatsQuery, EndpointStatsView, IdParams } from '../schemas.js';
import { activityView, endpointStatsView, iso } from '../views.js';
import { Type } from 'typebox';

const HOUR_MS = 3_600_000;
const MAX_BATCH = 100;

/** The ids of `?ids=a,b`, deduplicated; 400 naming `ids` when there are none or too many. */
function idList(raw: string): string[] {
  const ids = [...new Set(raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
  if (ids.length === 0 || ids.length > MAX_BATCH) throw new ApiError(400, 'invalid_request', `ids must list 1 to ${MAX_BATCH} endpoint ids, comma separated`, 'ids');
  if (ids.some((id) => id.length > 100)) throw new ApiError(400, 'invalid_request', 'ids holds an id longer than 100 characters', 'ids');
  return ids;
}

export function registerStatsRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.get(
    '/api/v2/endpoints/:id/stats',
    {
      schema: {
        tags: ['stats'],
        description: 'Health of one endpoint: its queue now, and attempt outcomes, success rate and latency over the last `hours`.',
        params: IdParams,
        querystring: EndpointStatsQuery,
        response: { 200: described('the endpoint\'s queue now and its attempts over the window', EndpointStatsView) },
      },
    },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const hours = (req.query as Static<typeof EndpointStatsQuery>).hours ?? 24;
      const [health] = await ctx.store.endpointHealth(principalOf(req).accountId, [id], ctx.clock() - hours * HOUR_MS);
      if (!health) throw notFound('endpoint', id);
      return endpointStatsView(health, hours);
    },
  );

  app.get(
    '/api/v2/stats/endpoints',
    {
      schema: {
        tags: ['stats'],
        description: 'The health of several endpoints at once (the endpoints list): ids of other accounts or unknown ids are left out.',
        querystring: BatchStatsQuery,
        response: { 200: described('{data}: the health of each endpoint found, as GET /api/v2/endpoints/{id}/stats gives it', Type.Object({ data: Type.Array(EndpointStatsView) })) },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof BatchStatsQuery>;
      const hours = q.hours ?? 24;
      const health = await ctx.store.endpointHealth(principalOf(req).accountId, idList(q.ids), ctx.clock() - hours * HOUR_MS);
      return { data: health.map((h) => endpointStatsView(h, hours)) };
    },
  );

  app.get(
    '/api/v2/stats/activity',
    {
      schema: {
        tags: ['stats'],
        description:
          'Attempt outcomes per minute over the last `hours` (the current minute last), for the account or one endpoint: one entry per minute, oldest first, zeros where nothing was attempted.',
        querystring: ActivityQuery,
        response: { 200: described('attempt outcomes per time bucket over the window', ActivityView) },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof ActivityQuery>;
      const { accountId } = principalOf(req);
      if (q.endpoint_id !== undefined && !(await ctx.store.getEndpoint(accountId, q.endpoint_id))) throw notFound('endpoint', q.endpoint_id);
      const minutes = (q.hours ?? 6) * 60;
      const to = minuteOf(ctx.clock()) + MINUTE_MS;
      const from = to - minutes * MINUTE_MS;
      const rows = await ctx.store.activity(accountId, { from, to, endpointId: q.endpoint_id });
      return { from: iso(from), to: iso(to), bucket_seconds: MINUTE_MS / 1000, data: activityView(rows, from, minutes, MINUTE_MS) };
    },
  );
}
