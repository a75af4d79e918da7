// The performance regression check: the same chat-bench workload against a reference chatd and
// this checkout's, in alternation (A B A B …) in one run, judged on the median of the per-pair
// ratios. A stored baseline would be useless on a shared, noisy machine; a ratio measured side
// by side is not.

import { runBench, SCRIPT_DEFAULTS, type BenchResult } from './chat-bench.ts';
import { isClean } from './report.ts';
import { median } from './stats.ts';

export interface Workload {
  readonly clients: number;
  readonly senders: number;
  readonly rate: number;
  readonly duration: number;
  readonly payload: number;
  readonly workers: number;
  readonly threads: number;
}

/** Small enough for CI (about 5 s a run), loaded enough that latency reflects the server's work. */
export const CI_WORKLOAD: Workload = { clients: 200, senders: 10, rate: 20, duration: 4, payload: 64, workers: 2, threads: 1 };

/**
 * Issue #14's idle round trip, at CI's size: one client alone, 200 lines at 50 a second, each back
 * long before the next. Its latency is the server's hops and wake-ups, which the loaded workload
 * above hides under its flushes' coalescing.
 */
export const IDLE_RTT_WORKLOAD: Workload = { clients: 1, senders: 1, rate: 50, duration: 4, payload: 64, workers: 2, threads: 1 };

export interface Thresholds {
  /** A candidate is slower when a metric's median ratio is worse than this (0.2: 20 % worse). */
  readonly cpuPerDelivery: number;
  readonly p50: number;
  readonly p99: number;
  readonly deliveriesPerSecond: number;
}

/**
 * Set from the check run against itself on this 2-core machine (docs/BENCHMARKS.md §4): the
 * median ratio of CPU per delivery stayed within 0.96-1.03, p50 within 0.82-1.10, but p99 ranged
 * 0.64-1.91, since one scheduling stall moves a light run's p99. So CPU per delivery is the
 * sharp test, and p99 only catches a gross regression.
 */
export const DEFAULT_THRESHOLDS: Thresholds = { cpuPerDelivery: 0.2, p50: 0.35, p99: 1.5, deliveriesPerSecond: 0.2 };

/**
 * The idle round trip is judged on its latency alone: at 50 deliveries a second the server's CPU
 * is its timers and metrics, not the deliveries, and the rate is the bench's. Set from the check
 * run against itself (docs/BENCHMARKS.md §4): p50 is steady, p99 is one stall away from double.
 */
export const IDLE_RTT_THRESHOLDS: Thresholds = { cpuPerDelivery: Infinity, p50: 0.35, p99: 1.5, deliveriesPerSecond: 1 };

export interface RunFigures {
  readonly cpuPerDeliveryUs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly deliveriesPerSecond: number;
  readonly isClean: boolean;
}

export interface Comparison {
  readonly reference: RunFigures[];
  readonly candidate: RunFigures[];
  /** candidate / reference per metric, median over the pairs; > 1 is worse except deliveries/s. */
  readonly medianRatios: { readonly cpuPerDelivery: number; readonly p50: number; readonly p99: number; readonly deliveriesPerSecond: number };
  readonly regressions: readonly string[];
}

export type RunServer = (root: string) => Promise<BenchResult>;

/** Runs the workload with this checkout's bench against the chatd in `root`. */
export function benchRunner(workload: Workload): RunServer {
  return (root) =>
    runBench({
      ...SCRIPT_DEFAULTS,
      spawn: 'chatd',
      chatdRoot: root,
      workers: workload.workers,
      clients: workload.clients,
      senders: workload.senders,
      rate: workload.rate,
      duration: workload.duration,
      payload: workload.payload,
      ramp: 2000,
      threads: workload.threads,
      connectTimeoutMs: 30_000,
    });
}

export function figures(result: BenchResult): RunFigures {
  const round = result.headline;
  if (round === null) throw new Error(`the bench ran no load: ${result.connect.greeted} of ${result.connect.clients} clients got in`);
  if (round.serverCpuSeconds === null) throw new Error('the server CPU time could not be read from /proc');
  return {
    cpuPerDeliveryUs: (round.serverCpuSeconds * 1e6) / Math.max(1, round.integrity.received),
    p50Ms: round.latencyMs.p50,
    p99Ms: round.latencyMs.p99,
    deliveriesPerSecond: round.deliveriesPerSecond,
    isClean: isClean(round),
  };
}

/**
 * Alternates reference and candidate for `pairs` pairs, starting with the reference on even
 * pairs and the candidate on odd ones, so neither always runs on a warmer (or busier) machine.
 */
export async function compare(
  run: RunServer,
  referenceRoot: string,
  candidateRoot: string,
  pairs: number,
  thresholds: Thresholds = DEFAULT_THRESHOLDS,
  onRun?: (which: 'reference' | 'candidate', pair: number, figures: RunFigures) => void,
): Promise<Comparison> {
  const reference: RunFigures[] = [];
  const candidate: RunFigures[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const order = pair % 2 === 0 ? (['reference', 'candidate'] as const) : (['candidate', 'reference'] as const);
    for (const which of order) {
      const result = figures(await run(which === 'reference' ? referenceRoot : candidateRoot));
      (which === 'reference' ? reference : candidate).push(result);
      onRun?.(which, pair, result);
    }
  }
  const ratio = (metric: keyof Omit<RunFigures, 'isClean'>): number =>
    median(reference.map((ref, i) => candidate[i]![metric] / Math.max(ref[metric], Number.EPSILON)));
  const medianRatios = {
    cpuPerDelivery: ratio('cpuPerDeliveryUs'),
    p50: ratio('p50Ms'),
    p99: ratio('p99Ms'),
    deliveriesPerSecond: ratio('deliveriesPerSecond'),
  };
  const regressions: string[] = [];
  const worse = (name: string, value: number, limit: number): void => {
    if (value > 1 + limit) regressions.push(`${name} is ${percent(value - 1)} worse (limit ${percent(limit)})`);
  };
  worse('server CPU per delivery', medianRatios.cpuPerDelivery, thresholds.cpuPerDelivery);
  worse('p50 latency', medianRatios.p50, thresholds.p50);
  worse('p99 latency', medianRatios.p99, thresholds.p99);
  if (medianRatios.deliveriesPerSecond < 1 - thresholds.deliveriesPerSecond) {
    regressions.push(`deliveries/s is ${percent(1 - medianRatios.deliveriesPerSecond)} lower (limit ${percent(thresholds.deliveriesPerSecond)})`);
  }
  const broken = candidate.filter((run) => !run.isClean).length;
  if (broken > 0) regressions.push(`${broken} of ${pairs} candidate runs lost, duplicated or reordered messages`);
  return { reference, candidate, medianRatios, regressions };
}

const percent = (fraction: number): string => `${(fraction * 100).toFixed(0)} %`;
