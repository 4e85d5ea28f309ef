// A prom-client Histogram whose values come from an AttemptTally instead of observe(), so the
// registry exposes it like any other histogram while the hot path only bumps typed arrays.
import { Histogram } from 'prom-client';
import type { AttemptTally } from './attempt-tally.js';

type Labels = 'profile' | 'le';
type Exported = Awaited<ReturnType<Histogram<Labels>['get']>>;
type Sample = Exported['values'][number];

export class TallyHistogram extends Histogram<Labels> {
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(
    private readonly tally: AttemptTally,
    config: { readonly name: string; readonly help: string },
  ) {
    super({ ...config, labelNames: ['profile'], buckets: [...tally.bounds], registers: [] });
    this.metricName = config.name;
    this.metricHelp = config.help;
  }

  override async get(): Promise<Exported> {
    return this.snapshot();
  }

  /** The registry prefers this one when present (prom-client's text exposition path). */
  async getForPromString(): Promise<Exported> {
    return this.snapshot();
  }

  private snapshot(): Exported {
    const name = this.metricName;
    const values: Sample[] = [];
    const bounds = this.tally.bounds;
    for (const [profile, t] of this.tally.profiles()) {
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += t.buckets[i];
        values.push({ metricName: `${name}_bucket`, labels: { le: i < bounds.length ? bounds[i] : '+Inf', profile }, value: cumulative });
      }
      values.push({ metricName: `${name}_sum`, labels: { profile }, value: t.sum });
      values.push({ metricName: `${name}_count`, labels: { profile }, value: t.count });
    }
    // prom-client's declared MetricObject (an enum type, a collect field) is not what its own
    // metrics return at run time; this is the run-time shape the registry formats.
    return { name, help: this.metricHelp, type: 'histogram', aggregator: 'sum', values } as unknown as Exported;
  }
}
