// The flush policy's decisions on a fake clock: when the urgent and the full flushes run. These
// pin the behaviour of issue #5 W1's pacing and storm deferral, so a change to the policy is
// measured here first.

import { describe, expect, it } from 'vitest';
import { FLUSH_PACING, FlushPolicy, STORM_MAX_DEFER_MS, STORM_QUIET_MS } from '../../server/flush-policy.ts';
import { FakeWorkerClock } from './worker-fakes.ts';

/** A policy whose full flushes take `costMs` of the fake clock, and the times each flush ran at. */
function harness(costMs = 0) {
  const clock = new FakeWorkerClock();
  const urgentAt: number[] = [];
  const fullAt: number[] = [];
  let cost = costMs;
  const policy = new FlushPolicy(clock, {
    writeUrgent: () => urgentAt.push(clock.now()),
    writeAll: () => {
      fullAt.push(clock.now());
      clock.time += cost;
    },
  });
  const setCost = (ms: number): void => {
    cost = ms;
  };
  return { clock, policy, urgentAt, fullAt, setCost };
}

describe('FlushPolicy', () => {
  it('keeps the constants of issue #5 W1', () => {
    expect({ FLUSH_PACING, STORM_QUIET_MS, STORM_MAX_DEFER_MS }).toEqual({ FLUSH_PACING: 1, STORM_QUIET_MS: 20, STORM_MAX_DEFER_MS: 250 });
  });

  it('writes urgent output at the next immediate, once however many connections queue it', () => {
    const { clock, policy, urgentAt, fullAt } = harness();
    policy.urgentQueued();
    policy.urgentQueued();
    policy.urgentQueued();
    expect(clock.immediateCount).toBe(1);
    clock.runImmediates();
    expect(urgentAt).toEqual([0]);
    expect(fullAt).toEqual([]);
  });

  it('schedules another urgent flush for output queued after the last one ran', () => {
    const { clock, policy, urgentAt } = harness();
    policy.urgentQueued();
    clock.runImmediates();
    clock.time = 3;
    policy.urgentQueued();
    clock.runImmediates();
    expect(urgentAt).toEqual([0, 3]);
  });

  it('runs a full flush at the next immediate when the last one cost nothing', () => {
    const { clock, policy, fullAt } = harness();
    policy.queued();
    policy.queued();
    expect(clock.immediateCount).toBe(1);
    expect(clock.timerTimes).toEqual([]);
    clock.runImmediates();
    expect(fullAt).toEqual([0]);
  });

  it('does not write urgent output at the urgent flush, only at a full one, when none is urgent', () => {
    const { clock, policy, urgentAt, fullAt } = harness();
    policy.queued();
    clock.runImmediates();
    expect(urgentAt).toEqual([]);
    expect(fullAt).toEqual([0]);
  });

  it('paces the full flush: after one that took T ms, the next starts no sooner than T ms after it ended', () => {
    const { clock, policy, fullAt } = harness(8);
    policy.queued();
    clock.runImmediates(); // 0 → 8: cost 8 ms, so the next is due at 16
    clock.time = 10;
    policy.queued();
    expect(clock.timerTimes).toEqual([16]);
    clock.advance(5);
    expect(fullAt).toEqual([0]);
    clock.advance(1);
    expect(fullAt).toEqual([0, 16]);
  });

  it('flushes at the next immediate, not on a timer, when the pace leaves less than 1 ms to wait', () => {
    const { clock, policy, fullAt, setCost } = harness(5);
    policy.queued();
    clock.runImmediates(); // ends at 5, due at 10
    setCost(0);
    clock.time = 9.2;
    policy.queued();
    expect(clock.timerTimes).toEqual([]);
    expect(clock.immediateCount).toBe(1);
    clock.runImmediates();
    expect(fullAt).toEqual([0, 9.2]);
  });

  it('flushes a paced timer that fires early without checking the pace again, outside a storm', () => {
    const { clock, policy, fullAt } = harness(8);
    policy.queued();
    clock.runImmediates();
    policy.queued(); // at 8, due at 16
    clock.time = 15.7;
    clock.fireNextTimerEarly();
    expect(fullAt).toEqual([0, 15.7]);
    expect(clock.timerTimes).toEqual([]);
  });

  it('defers the full flush during a connection storm until none has been accepted for STORM_QUIET_MS', () => {
    const { clock, policy, fullAt, urgentAt } = harness();
    policy.accepted();
    clock.time = 5;
    policy.queued();
    policy.urgentQueued(); // the newcomer's greeting does not wait
    clock.runImmediates();
    expect(urgentAt).toEqual([5]);
    expect(clock.timerTimes).toEqual([STORM_QUIET_MS]);
    clock.advance(14);
    expect(fullAt).toEqual([]);
    clock.advance(1);
    expect(fullAt).toEqual([20]);
  });

  it('puts the full flush off again when the storm went on while it waited', () => {
    const { clock, policy, fullAt } = harness();
    policy.accepted();
    policy.queued(); // due at 20
    clock.advance(15);
    policy.accepted(); // the storm goes on: quiet from 35
    clock.advance(5);
    expect(fullAt).toEqual([]);
    expect(clock.timerTimes).toEqual([35]);
    clock.advance(15);
    expect(fullAt).toEqual([35]);
  });

  it('never defers the full flush more than STORM_MAX_DEFER_MS after the oldest output waiting', () => {
    const { clock, policy, fullAt } = harness();
    policy.accepted();
    policy.queued();
    // A connection every 10 ms for 400 ms: the storm never pauses for 20 ms.
    for (let t = 10; t <= 400; t += 10) {
      clock.advance(10);
      policy.accepted();
      policy.queued();
    }
    expect(fullAt).toEqual([STORM_MAX_DEFER_MS]);
    // The next batch is bounded from its own oldest output (260, so 510), but the storm paused
    // first: its last connection came at 400.
    clock.advance(200);
    expect(fullAt).toEqual([250, 420]);
  });

  it('flushes as paced once the storm has been quiet for STORM_QUIET_MS', () => {
    const { clock, policy, fullAt } = harness();
    policy.accepted();
    clock.time = STORM_QUIET_MS;
    policy.queued();
    expect(clock.immediateCount).toBe(1);
    clock.runImmediates();
    expect(fullAt).toEqual([STORM_QUIET_MS]);
  });

  it('keeps the pace during a storm when the pace is later than the storm deferral', () => {
    const { clock, policy, fullAt, setCost } = harness(100);
    policy.queued();
    clock.runImmediates(); // 0 → 100: due at 200
    setCost(0);
    clock.time = 150;
    policy.accepted(); // the storm alone would say 170
    policy.queued();
    expect(clock.timerTimes).toEqual([200]);
    clock.advance(50);
    expect(fullAt).toEqual([0, 200]);
  });

  it('flushes at once on flushNow, whatever the pace, and that flush paces the next', () => {
    const { clock, policy, fullAt, setCost } = harness(30);
    policy.queued();
    clock.runImmediates(); // 0 → 30: due at 60
    setCost(10);
    clock.time = 40;
    policy.flushNow(); // 40 → 50: due at 60
    expect(fullAt).toEqual([0, 40]);
    setCost(0);
    policy.queued();
    expect(clock.timerTimes).toEqual([60]);
  });

  it('lets output queued after a full flush schedule the next one', () => {
    const { clock, policy, fullAt } = harness();
    policy.queued();
    clock.runImmediates();
    clock.time = 1;
    policy.queued();
    clock.runImmediates();
    expect(fullAt).toEqual([0, 1]);
  });
});
