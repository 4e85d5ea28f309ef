// Activity: deliveries per minute by outcome and attempt latency over the last hours, and the
// queue as it stands, refreshed while the page is open.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { deliveriesChart, latencyChart } from '../charts.js';
import { hidden, type Ui } from '../kit.js';
import type { ActivityDto, StatsDto } from '../models.js';

const HOURS = 6;
const REFRESH_SECONDS = 10;

export function registerActivityPages(pages: FastifyInstance, ui: Ui): void {
  async function figures(req: FastifyRequest) {
    const api = ui.api(req);
    const [stats, activity] = await Promise.all([api.get<StatsDto>('/api/v2/stats'), api.get<ActivityDto>('/api/v2/stats/activity', { hours: String(HOURS) })]);
    return { stats: stats.deliveries, bars: deliveriesChart(activity.data), latency: latencyChart(activity.data), hours: HOURS, updated: new Date().toISOString() };
  }

  pages.get('/activity', hidden, async (req, reply) => ui.page(req, reply, 'activity', { title: 'Activity', nav: 'activity', every: REFRESH_SECONDS, ...(await figures(req)) }));
  pages.get('/activity/charts', hidden, async (req, reply) => ui.fragment(reply, 'partials/charts', await figures(req)));
}
