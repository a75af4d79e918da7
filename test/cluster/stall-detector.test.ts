import { describe, expect, it } from 'vitest';
import { StallDetector } from '../../cluster/stall-detector.ts';

/** Checks every `every` ms from `from` to `to` inclusive, as RedisLink's timer does; the first time one says stalled. */
function firstStall(detector: StallDetector, from: number, to: number, every = 250): number | undefined {
  for (let now = from; now <= to; now += every) if (detector.check(now)) return now;
  return undefined;
}

describe('StallDetector', () => {
  it('says stalled at the first check at or past an unanswered command\'s timeout', () => {
    const detector = new StallDetector(2000, 250);
    detector.check(0);
    detector.sent(100);
    expect(firstStall(detector, 250, 5000)).toBe(2250);
  });

  it('never says stalled when every command is answered within the timeout', () => {
    const detector = new StallDetector(2000, 250);
    for (let now = 0; now < 10_000; now += 250) {
      const token = detector.sent(now);
      expect(detector.check(now)).toBe(false);
      detector.answered(token);
    }
    expect(detector.pending).toBe(0);
  });

  it('gives a blocking read its block time on top of the timeout', () => {
    const detector = new StallDetector(2000, 250);
    detector.check(0);
    detector.sent(0, 1000);
    expect(firstStall(detector, 250, 10_000)).toBe(3000);
  });

  it('judges by the oldest command: a late one does not hide an early one', () => {
    const detector = new StallDetector(2000, 250);
    detector.check(0);
    detector.sent(0, 1000); // a read that may block
    detector.sent(500); // a script
    expect(firstStall(detector, 250, 10_000)).toBe(2500);
  });

  it('says nothing once a connection is cleared', () => {
    const detector = new StallDetector(2000, 250);
    detector.check(0);
    detector.sent(0);
    detector.clear();
    expect(firstStall(detector, 250, 10_000)).toBeUndefined();
  });

  it('restarts the clocks instead of judging when its own process did not run for a while', () => {
    const detector = new StallDetector(2000, 250);
    detector.check(0);
    detector.sent(100);
    // This process was stopped from 200 to 9000: the answer may be unread in the socket.
    expect(detector.check(9000)).toBe(false);
    // Redis still has its full 2 s of this process's time, counted from 9000.
    expect(firstStall(detector, 9250, 20_000)).toBe(11_000);
  });

  it('still judges a check that is only a little late (a busy turn)', () => {
    const detector = new StallDetector(2000, 250);
    detector.check(0);
    detector.sent(0);
    expect(detector.check(1000)).toBe(false); // 750 ms late: under half the timeout
    expect(detector.check(2000)).toBe(true);
  });
});
