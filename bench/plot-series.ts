// The pure half of `npm run bench:plot`: chat-bench / bench:peers JSON -> latency points (one
// per server, workload, --max step and percentile), the decades a log axis spans, and the
// Vega-Lite spec that draws them. No I/O here; bench/plot.ts reads the files and renders the SVG.

import type { TopLevelSpec } from 'vega-lite';
import { median } from './stats.ts';

export const PERCENTILES = ['p50', 'p90', 'p99', 'p999'] as const;
export type PercentileName = (typeof PERCENTILES)[number];

/** How each percentile reads in the legend. */
const PERCENTILE_LABELS: Readonly<Record<PercentileName, string>> = { p50: 'p50', p90: 'p90', p99: 'p99', p999: 'p99.9' };

/** One step of one server's ramp, at one percentile (medians when the run was repeated). */
export interface LatencyPoint {
  readonly workload: string;
  readonly server: string;
  readonly percentile: string;
  /** Deliveries per second the bench offered: messages it sent per second × clients. */
  readonly offeredDeliveriesPerSecond: number;
  readonly latencyMs: number;
  /** The step held (p99 under the bound, nothing lost) in the majority of runs. */
  readonly held: boolean;
  /** The bench sent under 90 % of the offer in the majority of runs: the point is the bench's limit. */
  readonly isBenchBound: boolean;
}

/** The part of a chat-bench result (toJson in report.ts) the plot reads. */
interface RunJson {
  readonly workload: string;
  readonly server: string;
  readonly rounds: readonly RoundJson[];
}

interface RoundJson {
  readonly offeredDeliveriesPerSecond: number;
  readonly latencyMs: Readonly<Record<PercentileName, number>>;
  readonly held: boolean;
  readonly isBenchBound: boolean;
}

/**
 * Reads what chat-bench --json wrote (one result) or bench:peers wrote (an array of results,
 * each with its workload's name). A result without a workload name is labelled by its size.
 * Throws, naming the field, on anything else.
 */
export function readRuns(json: unknown): RunJson[] {
  const results = Array.isArray(json) ? (json as unknown[]) : [json];
  return results.map((result, index) => {
    const where = `result ${index + 1}`;
    const run = record(result, where);
    const options = record(run['options'], `${where}.options`);
    const target = record(run['target'], `${where}.target`);
    const clients = numberAt(options, 'clients', where);
    const senders = numberAt(options, 'senders', where);
    const p99BoundMs = typeof options['p99BoundMs'] === 'number' ? options['p99BoundMs'] : 100;
    const rounds = run['rounds'];
    if (!Array.isArray(rounds)) throw new Error(`${where}: no rounds array; is this chat-bench or bench:peers JSON?`);
    return {
      workload: typeof run['workload'] === 'string' ? run['workload'] : `${clients} clients, ${senders} senders`,
      server: typeof target['kind'] === 'string' ? target['kind'] : 'server',
      rounds: (rounds as unknown[]).map((value, step) => readRound(value, `${where}.rounds[${step}]`, clients, p99BoundMs)),
    };
  });
}

function readRound(value: unknown, where: string, clients: number, p99BoundMs: number): RoundJson {
  const round = record(value, where);
  const latency = record(round['latencyMs'], `${where}.latencyMs`);
  const integrity = record(round['integrity'], `${where}.integrity`);
  const latencyMs = Object.fromEntries(PERCENTILES.map((name) => [name, numberAt(latency, name, `${where}.latencyMs`)])) as Record<PercentileName, number>;
  // What was really offered: a bench that fell behind sent less than its nominal rate. JSON
  // from before sentMessagesPerSecond existed has sent and loadSeconds, which say the same.
  const sentPerSecond =
    typeof round['sentMessagesPerSecond'] === 'number' ? round['sentMessagesPerSecond'] : numberAt(round, 'sent', where) / numberAt(round, 'loadSeconds', where);
  return {
    offeredDeliveriesPerSecond: sentPerSecond * clients,
    latencyMs,
    held: typeof round['held'] === 'boolean' ? round['held'] : latencyMs.p99 < p99BoundMs && numberAt(integrity, 'lost', where) === 0,
    isBenchBound: round['isBenchBound'] === true,
  };
}

/**
 * One point per workload, server, step and percentile. Repeated runs of the same workload and
 * server are merged step by step (their steps offer the same rates): the median of each figure
 * over the runs that reached that step.
 */
export function latencySeries(runs: readonly RunJson[], percentiles: readonly PercentileName[]): LatencyPoint[] {
  const groups = new Map<string, RunJson[]>();
  for (const run of runs) {
    const key = `${run.workload}\u0000${run.server}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const points: LatencyPoint[] = [];
  for (const group of groups.values()) {
    const { workload, server } = group[0]!;
    const steps = Math.max(...group.map((run) => run.rounds.length));
    for (let step = 0; step < steps; step++) {
      const rounds = group.flatMap((run) => (step < run.rounds.length ? [run.rounds[step]!] : []));
      const offered = median(rounds.map((round) => round.offeredDeliveriesPerSecond));
      const isMostly = (pick: (round: RoundJson) => boolean): boolean => rounds.filter(pick).length * 2 > rounds.length;
      const held = isMostly((round) => round.held);
      const isBenchBound = isMostly((round) => round.isBenchBound);
      for (const percentile of percentiles) {
        points.push({
          workload,
          server,
          percentile: PERCENTILE_LABELS[percentile],
          offeredDeliveriesPerSecond: offered,
          latencyMs: median(rounds.map((round) => round.latencyMs[percentile])),
          held,
          isBenchBound,
        });
      }
    }
  }
  return points;
}

/**
 * The whole decades a log axis must span to show every value: [10^a, 10^b] with 10^a at or
 * below the smallest and 10^b at or above the largest. Values that are not positive are left out
 * (a log scale cannot place them).
 */
export function logDecades(values: readonly number[]): readonly [number, number] {
  const positive = values.filter((value) => value > 0 && Number.isFinite(value));
  if (positive.length === 0) return [1, 10];
  const low = Math.floor(Math.log10(Math.min(...positive)) + 1e-9);
  let high = Math.ceil(Math.log10(Math.max(...positive)) - 1e-9);
  if (high <= low) high = low + 1;
  return [10 ** low, 10 ** high];
}

export interface PlotOptions {
  readonly title: string;
  /** Draw a horizontal rule here (W4's p99 bound), or not. */
  readonly boundMs: number | null;
}

const STEP_KINDS = ['held', 'failed', 'bench-bound'] as const;

/** A bench-bound step is marked so whether or not it held: its load is the bench's limit. */
function stepKind(point: LatencyPoint): (typeof STEP_KINDS)[number] {
  if (point.isBenchBound) return STEP_KINDS[2];
  return point.held ? STEP_KINDS[0] : STEP_KINDS[1];
}

type Layers = NonNullable<Extract<TopLevelSpec, { layer: unknown }>['layer']>;
type Encoding = NonNullable<Extract<Layers[number], { mark: unknown }>['encoding']>;

/** The chart: latency (log) against offered deliveries/s, colour = server, dash = percentile, one panel per workload. */
export function latencySpec(points: readonly LatencyPoint[], options: PlotOptions): TopLevelSpec {
  const [low, high] = logDecades([...points.map((point) => point.latencyMs), ...(options.boundMs === null ? [] : [options.boundMs])]);
  const x: NonNullable<Encoding['x']> = {
    field: 'offeredDeliveriesPerSecond',
    type: 'quantitative',
    title: 'offered load (deliveries/s: messages sent per second × clients)',
    scale: { type: 'log' },
    axis: { format: '~s' },
  };
  const y: NonNullable<Encoding['y']> = {
    field: 'latencyMs',
    type: 'quantitative',
    title: 'latency, send to receipt (ms, log scale)',
    scale: { type: 'log', domain: [low, high] },
    axis: { format: '~g' },
  };
  const series = {
    color: { field: 'server', type: 'nominal', title: 'server', sort: ['chatd', 'nats', 'seed'] },
    strokeDash: { field: 'percentile', type: 'nominal', title: 'percentile', sort: PERCENTILES.map((name) => PERCENTILE_LABELS[name]) },
    detail: { field: 'series', type: 'nominal' },
  } as const;
  const layers: Layers = [
    { mark: { type: 'line', clip: true }, encoding: { x, y, ...series } },
    {
      mark: { type: 'point', filled: true, size: 40, clip: true },
      encoding: {
        x,
        y,
        color: series.color,
        shape: {
          field: 'step',
          type: 'nominal',
          title: 'step',
          scale: { domain: [...STEP_KINDS], range: ['circle', 'cross', 'triangle-up'] },
        },
        tooltip: [{ field: 'series' }, { field: 'offeredDeliveriesPerSecond', format: ',.0f' }, { field: 'latencyMs', format: '.1f' }],
      },
    },
  ];
  if (options.boundMs !== null) {
    layers.push({ mark: { type: 'rule', strokeDash: [2, 2], color: 'grey' }, encoding: { y: { datum: options.boundMs } } });
  }
  const values = points.map((point) => ({
    ...point,
    series: `${point.server} ${point.percentile}`,
    step: stepKind(point),
  }));
  const workloads = [...new Set(points.map((point) => point.workload))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: options.title, subtitle: 'one point per step of a --max ramp; a cross: the step failed (p99 over the bound, or messages lost); a triangle (bench-bound): the bench could not offer that load' },
    data: { values },
    facet: { column: { field: 'workload', type: 'nominal', title: null, sort: workloads } },
    spec: { width: 420, height: 300, layer: layers },
    // Each workload has its own range of load; latency shares one axis so panels compare.
    resolve: { scale: { x: 'independent' } },
    config: { font: 'sans-serif' },
  };
}

function record(value: unknown, where: string): Readonly<Record<string, unknown>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: expected an object`);
  return value as Record<string, unknown>;
}

function numberAt(object: Readonly<Record<string, unknown>>, key: string, where: string): number {
  const value = object[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${where}.${key}: expected a number, got ${JSON.stringify(value)}`);
  return value;
}
