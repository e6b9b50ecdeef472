// Metrics counted in plain numbers on the hot path and written out only when
// /metrics is read. prom-client's Counter and Histogram build and hash a
// label key on every observation, and its exposition formats every label of
// every line on every scrape (about 5 µs a line: 10,000 routes made a 600 ms
// scrape). Here a series' label text is written once, when the series is
// first counted, and a scrape is a string per line.

/** One line of the exposition: the series (`name{labels}`) and its value. */
export type Sample = [series: string, value: number];

/** One metric's samples in one process: what a worker sends the primary. */
export interface CollectedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  samples: Sample[];
}

/** `a="x",b="y"`, escaped as the text format wants. */
export function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
    .join(',');
}

/** A histogram's cells: an observation count per bucket (not cumulative), and the sum. */
export class Buckets {
  /** Upper bounds, ascending; one more cell counts what is above the last (+Inf). */
  readonly #bounds: readonly number[];
  readonly #counts: Float64Array;
  #sum = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.#counts[i]! += 1;
    this.#sum += value;
  }

  /** Appends the `_bucket` samples (cumulative), `_sum` and `_count`; `labels` is a labelText or ''. */
  samples(name: string, labels: string, into: Sample[]): void {
    const prefix = labels ? `${labels},` : '';
    let cumulative = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      cumulative += this.#counts[i]!;
      const le = i < this.#bounds.length ? this.#bounds[i] : '+Inf';
      into.push([`${name}_bucket{${prefix}le="${le}"}`, cumulative]);
    }
    const braced = labels ? `{${labels}}` : '';
    into.push([`${name}_sum${braced}`, this.#sum]);
    into.push([`${name}_count${braced}`, cumulative]);
  }
}

/** Several processes' metrics as one: each series' values summed (all are counters or histograms). */
export function sumProcesses(processes: CollectedMetric[][]): CollectedMetric[] {
  const byName = new Map<string, { metric: CollectedMetric; sums: Map<string, number> }>();
  for (const metrics of processes) {
    for (const metric of metrics) {
      let merged = byName.get(metric.name);
      if (!merged) {
        merged = { metric, sums: new Map() };
        byName.set(metric.name, merged);
      }
      for (const [series, value] of metric.samples) {
        merged.sums.set(series, (merged.sums.get(series) ?? 0) + value);
      }
    }
  }
  return [...byName.values()].map(({ metric: { name, help, type }, sums }) => ({
    name,
    help,
    type,
    samples: [...sums],
  }));
}

/** The Prometheus text of the metrics, blocks separated as prom-client separates its own. */
export function exposition(metrics: CollectedMetric[]): string {
  return metrics
    .map(({ name, help, type, samples }) => {
      let text = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
      for (const [series, value] of samples) text += `${series} ${value}\n`;
      return text;
    })
    .join('\n');
}
