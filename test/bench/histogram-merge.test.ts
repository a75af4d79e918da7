// The bench merges one perf_hooks histogram per thread into one: the merge must be exact.

import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

/** Records `values` in a new thread and returns its histogram, cloned across as the bench does. */
function recordInThread(values: number[]): Promise<RecordableHistogram> {
  const source = `
    const { createHistogram } = require('node:perf_hooks');
    const { parentPort, workerData } = require('node:worker_threads');
    const histogram = createHistogram();
    for (const value of workerData) histogram.record(value);
    parentPort.postMessage(histogram);`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: values });
    worker.once('message', (histogram: RecordableHistogram) => {
      resolve(histogram);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('latency histograms across threads', () => {
  it('merge into exactly the histogram of all the values', async () => {
    const values = Array.from({ length: 30_000 }, (_, i) => 1 + ((i * 7919) % 250_000));
    const shares = [values.slice(0, 10_000), values.slice(10_000, 25_000), values.slice(25_000)];
    const merged = createHistogram();
    for (const histogram of await Promise.all(shares.map(recordInThread))) merged.add(histogram);
    const whole = createHistogram();
    for (const value of values) whole.record(value);
    expect(merged.count).toBe(whole.count);
    expect(merged.min).toBe(whole.min);
    expect(merged.max).toBe(whole.max);
    expect(merged.mean).toBe(whole.mean);
    for (const percentile of [50, 90, 99, 99.9, 100]) expect(merged.percentile(percentile)).toBe(whole.percentile(percentile));
  });
});
