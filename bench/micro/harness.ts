// What every micro bench shares: the tinybench settings that keep `npm run bench:micro` near a
// minute on two cores, batching for calls far below the timer's grain, and the printed report.
// Runs in the bench process only; benches print figures and assert nothing.

import { Bench, type FnReturnedObject } from 'tinybench';

/** Per task: 1 s of measured calls after tinybench's default warmup (250 ms, 16 calls). */
const TASK_TIME_MS = 1000;
const MIN_SAMPLES = 64;

export interface BenchSettings {
  readonly time?: number;
  readonly iterations?: number;
}

export function createBench(name: string, settings: BenchSettings = {}): Bench {
  const bench = new Bench({
    name,
    time: settings.time ?? TASK_TIME_MS,
    iterations: settings.iterations ?? MIN_SAMPLES,
    throws: true, // a broken fixture must fail loudly, not print a row of N/A
  });
  bench.addEventListener('warning', (event) => {
    console.warn(`warning: ${event.task?.name ?? '?'}: timer saturated (${event.reason ?? 'unknown'})`);
  });
  return bench;
}

export interface BatchedTask {
  /** Calls timed together as one sample; the sample records the mean per call. */
  readonly calls: number;
  /** The timed work: call number `index` of this sample. */
  readonly call: (index: number) => void;
  /** Untimed, before each sample: builds the inputs the calls consume. May wait for I/O. */
  readonly prepare?: () => void | Promise<void>;
}

/**
 * Adds a task whose single call costs well under a microsecond. Timed one by one, such a call
 * would be mostly timer (performance.now() costs tens of ns), so each sample times a loop of
 * `calls` calls and records their mean, as tinybench's README suggests (overriddenDuration).
 */
export function addBatched(bench: Bench, name: string, task: BatchedTask): void {
  const { calls, call, prepare } = task;
  const run = (): FnReturnedObject => {
    const start = bench.now();
    for (let index = 0; index < calls; index++) call(index);
    const elapsed = bench.now() - start;
    return { overriddenDuration: elapsed / calls, overriddenIterationCost: elapsed };
  };
  bench.add(name, run, { async: false, ...(prepare === undefined ? {} : { beforeEach: prepare }) });
}

/** What one operation of a task stands for, so the report can add a rate that means something. */
export interface OperationSize {
  /** Input bytes one operation consumes: adds MiB/s. */
  readonly bytes?: number;
  /** Items one operation handles (deliveries, broadcasts): adds ns per item. */
  readonly items?: { readonly count: number; readonly unit: string };
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** Runs the bench, then prints tinybench's table and one line per task with ops/s (median and mean). */
export async function runAndReport(bench: Bench, sizes: Readonly<Record<string, OperationSize>> = {}): Promise<void> {
  await bench.run();
  console.log(`\n## ${bench.name ?? 'bench'}`);
  console.table(bench.table());
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
      console.log(`${task.name}: ${result.state}`);
      continue;
    }
    // The median resists the odd GC pause or a neighbour's burst on a shared machine; the mean is
    // the rate a long run of these operations would sustain. Both are printed.
    const medianNs = result.latency.p50 * 1e6;
    const meanNs = result.latency.mean * 1e6;
    const opsPerSecond = 1e9 / medianNs;
    let line =
      `${task.name}: ${integer.format(opsPerSecond)} ops/s at the median (${decimal.format(medianNs)} ns); ` +
      `mean ${decimal.format(meanNs)} ns = ${integer.format(1e9 / meanNs)} ops/s; p99 ${decimal.format(result.latency.p99 * 1e6)} ns`;
    const size = sizes[task.name];
    if (size?.bytes !== undefined) line += `; ${decimal.format((size.bytes * opsPerSecond) / 2 ** 20)} MiB/s at the median`;
    if (size?.items !== undefined) line += `; ${decimal.format(medianNs / size.items.count)} ns per ${size.items.unit} at the median`;
    console.log(line);
  }
}

/** Keeps a computed value observable so the engine cannot drop the work that produced it. */
export let sink = 0;
export function consume(value: number): void {
  sink = (sink + value) | 0;
}
