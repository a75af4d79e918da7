import { describe, expect, it } from 'vitest';
import { IdleTimer, idleWarningLeadSeconds } from '../../room/idle-timer.ts';

describe('IdleTimer', () => {
  it('expires clients in order of their last activity, not of arrival', () => {
    const timer = new IdleTimer(1000);
    timer.touch(1, 0);
    timer.touch(2, 100);
    timer.touch(1, 500); // 1 is active again: now 2 is the oldest
    expect(timer.nextDeadline()).toBe(1100);
    expect(timer.takeExpired(1099)).toEqual([]);
    expect(timer.takeExpired(1100)).toEqual([2]);
    expect(timer.nextDeadline()).toBe(1500);
    expect(timer.takeExpired(5000)).toEqual([1]);
    expect(timer.nextDeadline()).toBeUndefined();
  });

  it('forgets a removed client', () => {
    const timer = new IdleTimer(1000);
    timer.touch(1, 0);
    timer.remove(1);
    expect(timer.takeExpired(10_000)).toEqual([]);
  });
});

describe('IdleTimer warnings', () => {
  it('warns a quiet client once, the lead before its timeout, and again only after it speaks', () => {
    const timer = new IdleTimer(60_000, 10_000);
    timer.touch(1, 0);
    expect(timer.nextDeadline()).toBe(50_000);
    expect(timer.takeWarnings(49_999)).toEqual([]);
    expect(timer.takeWarnings(50_000)).toEqual([1]);
    expect(timer.takeWarnings(55_000)).toEqual([]);
    expect(timer.nextDeadline()).toBe(60_000);
    timer.touch(1, 58_000); // a line in time: the clock starts again, and so does the warning
    expect(timer.takeExpired(60_000)).toEqual([]);
    expect(timer.nextDeadline()).toBe(108_000);
    expect(timer.takeWarnings(108_000)).toEqual([1]);
    expect(timer.takeExpired(118_000)).toEqual([1]);
    expect(timer.nextDeadline()).toBeUndefined();
  });

  it('warns in order of last activity, and never a client that left or timed out', () => {
    const timer = new IdleTimer(10_000, 5_000);
    timer.touch(1, 0);
    timer.touch(2, 1_000);
    timer.touch(3, 2_000);
    timer.remove(2);
    expect(timer.takeExpired(10_000)).toEqual([1]); // never warned: its warning was not asked for in time
    expect(timer.takeWarnings(10_000)).toEqual([3]);
  });

  it('never warns without a lead', () => {
    const timer = new IdleTimer(1_000);
    timer.touch(1, 0);
    expect(timer.nextDeadline()).toBe(1_000);
    expect(timer.takeWarnings(5_000)).toEqual([]);
  });
});

describe('idleWarningLeadSeconds', () => {
  it.each([
    [60, 10],
    [20, 10],
    [19, 9],
    [10, 5],
    [4, 2],
    [3, 0],
    [1, 0],
  ])('warns a client of a %i s timeout %i s before', (timeout, lead) => {
    expect(idleWarningLeadSeconds(timeout)).toBe(lead);
  });
});
