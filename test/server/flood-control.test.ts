import { describe, expect, it } from 'vitest';
import { FloodControl, FLOOD_LINES } from '../../server/flood-control.ts';
import { TokenBucket } from '../../server/token-bucket.ts';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.waitMs(0)).toBe(500);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.isFull(500 + 1500)).toBe(true);
  });
});

/** Drives a FloodControl with a fake clock and records what it does. */
function harness(rate: number, burst: number) {
  let now = 0;
  const seen: string[] = [];
  const flood = new FloodControl<string>(rate, burst, {
    pass: (line) => seen.push(line),
    pause: () => seen.push('pause'),
    resume: () => seen.push('resume'),
    warn: () => seen.push('warn'),
    kick: () => seen.push('kick'),
  }, () => now);
  return { flood, seen, advance: (ms: number) => (now += ms) };
}

describe('FloodControl', () => {
  it('passes lines within the burst at once', () => {
    const { flood, seen } = harness(2, 3);
    for (const line of ['a', 'b', 'c']) flood.line(line);
    expect(seen).toEqual(['a', 'b', 'c']);
    flood.stop();
  });

  it('warns once, pauses, and lets held lines out at the rate, in order, then resumes', async () => {
    const { flood, seen, advance } = harness(100, 1); // a token every 10 ms
    for (const line of ['a', 'b', 'c']) flood.line(line);
    expect(seen).toEqual(['a', 'warn', 'pause']);
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));
    advance(10);
    await settle();
    expect(seen).toEqual(['a', 'warn', 'pause', 'b']);
    advance(10);
    await settle();
    expect(seen).toEqual(['a', 'warn', 'pause', 'b', 'c', 'resume']);
    expect(flood.waiting).toBe(0);
  });

  it('kicks a client that stays over the rate for as long as FLOOD_LINES take', async () => {
    let now = 0;
    const seen: string[] = [];
    const flood = new FloodControl<string>(1000, 1, {
      pass: () => {},
      pause: () => {},
      resume: () => {},
      warn: () => seen.push('warn'),
      kick: () => seen.push('kick'),
    }, () => now);
    // 1000 lines a second allowed; this client queues far more than it may send.
    for (let i = 0; i < 10 * FLOOD_LINES; i++) flood.line(`x${i}`);
    for (let step = 0; step < 200 && !seen.includes('kick'); step++) {
      now += 5;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(seen).toEqual(['warn', 'kick']);
    expect(now).toBeGreaterThanOrEqual(FLOOD_LINES); // ms, at 1000 lines a second
  });
});
