// The regression check must flag a chatd that is slower on purpose, and judge by median ratios.

import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/chat-bench.ts';
import { benchRunner, compare, IDLE_RTT_THRESHOLDS, type RunServer } from '../../bench/regression.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A fake run: only what `figures` reads. */
function fakeResult(cpuSeconds: number, p50: number, p99: number, lost = 0): BenchResult {
  const round = {
    rate: 1,
    sent: 100,
    expectedDeliveries: 10_000,
    loadSeconds: 1,
    deliveriesPerSecond: 10_000 - lost,
    latencyMs: { p50, p90: p99, p99, p999: p99, max: p99, mean: p50 },
    integrity: { received: 10_000 - lost, duplicated: 0, late: 0, lost, orderDisagreements: 0 },
    serverCpuSeconds: cpuSeconds,
  };
  return { headline: round, connect: { greeted: 100, clients: 100 } } as unknown as BenchResult;
}

describe('compare', () => {
  it('passes a candidate that is as fast as the reference, whatever the noise of one pair', async () => {
    const runs: Record<string, BenchResult[]> = {
      ref: [fakeResult(0.1, 2, 10), fakeResult(0.1, 2, 10), fakeResult(0.1, 2, 10)],
      new: [fakeResult(0.1, 2, 10), fakeResult(0.3, 9, 90), fakeResult(0.1, 2, 10)], // one noisy pair
    };
    const run: RunServer = async (root) => runs[root]!.shift()!;
    const comparison = await compare(run, 'ref', 'new', 3);
    expect(comparison.regressions).toEqual([]);
  });

  it('flags a candidate whose median ratio is past a threshold, naming the metric', async () => {
    const runs: Record<string, BenchResult[]> = {
      ref: [fakeResult(0.1, 2, 10), fakeResult(0.1, 2, 10), fakeResult(0.1, 2, 10)],
      new: [fakeResult(0.15, 2, 10), fakeResult(0.15, 2, 10), fakeResult(0.1, 2, 10)],
    };
    const run: RunServer = async (root) => runs[root]!.shift()!;
    const comparison = await compare(run, 'ref', 'new', 3);
    expect(comparison.regressions).toEqual(['server CPU per delivery is 50 % worse (limit 20 %)']);
  });

  it('judges the idle round trip on its latency only: a slower p50 fails it, more idle CPU does not', async () => {
    const slowerTrip: RunServer = async (root) => (root === 'ref' ? fakeResult(0.1, 1, 4) : fakeResult(0.1, 2, 4));
    expect((await compare(slowerTrip, 'ref', 'new', 3, IDLE_RTT_THRESHOLDS)).regressions).toEqual(['p50 latency is 100 % worse (limit 35 %)']);
    const busierTimers: RunServer = async (root) => (root === 'ref' ? fakeResult(0.1, 1, 4) : fakeResult(0.3, 1, 4));
    expect((await compare(busierTimers, 'ref', 'new', 3, IDLE_RTT_THRESHOLDS)).regressions).toEqual([]);
  });

  it('flags a candidate that loses messages, however fast', async () => {
    const run: RunServer = async (root) => (root === 'ref' ? fakeResult(0.1, 2, 10) : fakeResult(0.05, 1, 5, 3));
    const comparison = await compare(run, 'ref', 'new', 1);
    expect(comparison.regressions).toContain('1 of 1 candidate runs lost, duplicated or reordered messages');
  });
});

describe('the regression check on real servers', () => {
  const slowRoot = mkdtempSync(join(tmpdir(), 'chatd-slow-'));
  afterAll(() => rmSync(slowRoot, { recursive: true, force: true }));

  it('flags a chatd made slower on purpose', async () => {
    // A copy of this checkout whose workers burn 3 ms of CPU on every delivery batch.
    // Every directory chatd's code imports from (cluster/: --redis, since the cluster came in;
    // room/: the parts both rooms share, since they left server/).
    for (const dir of ['protocol', 'room', 'server', 'cluster', 'store', 'cli', 'web']) cpSync(join(ROOT, dir), join(slowRoot, dir), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(slowRoot, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(slowRoot, 'node_modules'), 'dir');
    const worker = join(slowRoot, 'server/worker.ts');
    const source = readFileSync(worker, 'utf8');
    const slowed = source.replace(
      'function deliver(ops: readonly DeliveryOp[]): void {',
      'function deliver(ops: readonly DeliveryOp[]): void {\n  const until = performance.now() + 3;\n  while (performance.now() < until);',
    );
    expect(slowed).not.toBe(source);
    writeFileSync(worker, slowed);

    const run = benchRunner({ clients: 50, senders: 5, rate: 20, duration: 2, payload: 64, workers: 1, threads: 1 });
    const comparison = await compare(run, ROOT, slowRoot, 2);
    expect(comparison.regressions.some((regression) => regression.startsWith('server CPU per delivery'))).toBe(true);
  }, 90_000);
});
