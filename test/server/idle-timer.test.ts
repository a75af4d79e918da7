import { describe, expect, it } from 'vitest';
import { IdleTimer } from '../../server/idle-timer.ts';

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
