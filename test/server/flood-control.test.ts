import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FloodControl, floodLimits, MAX_BACKLOG_LINES, MIN_BYTES_PER_SECOND, type FloodLimits } from '../../server/flood-control.ts';
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

  it('goes into debt when more is spent than it holds, and says when the debt is refilled', () => {
    const bucket = new TokenBucket(1000, 1000, 0); // a token a millisecond
    expect(bucket.spend(600, 0)).toBe(false);
    expect(bucket.spend(1000, 0)).toBe(true);
    expect(bucket.waitMs(0, 0)).toBe(600);
    expect(bucket.spend(0, 599)).toBe(true);
    expect(bucket.spend(0, 600)).toBe(false);
  });
});

describe('floodLimits', () => {
  it('gives every client at least MIN_BYTES_PER_SECOND at the defaults', () => {
    expect(floodLimits(2, 5, 4096)).toEqual({ linesPerSecond: 2, lineBurst: 5, bytesPerSecond: MIN_BYTES_PER_SECOND, byteBurst: MIN_BYTES_PER_SECOND });
  });

  it('never lets the byte budget bind before the line rate for the longest lines', () => {
    const limits = floodLimits(100, 500, 4096);
    expect(limits.bytesPerSecond).toBe(100 * 4098);
    expect(limits.byteBurst).toBe(500 * 4098);
  });
});

/** Bytes are not what these tests are about: a budget no test reaches. */
const LINES_ONLY = { bytesPerSecond: 1e9, byteBurst: 1e9 } as const;

/**
 * Drives a FloodControl with a fake clock and fake timers, and records what it does: the lines
 * it passes and, by name, every other hook it calls.
 */
function harness(limits: FloodLimits) {
  let now = 0;
  const seen: string[] = [];
  const flood = new FloodControl<string>(limits, {
    pass: (line) => seen.push(line),
    pause: () => seen.push('pause'),
    resume: () => seen.push('resume'),
    warn: () => seen.push('warn'),
    drained: () => seen.push('drained'),
    kick: () => seen.push('kick'),
  }, () => now);
  const advance = (ms: number): void => {
    // Step by step, so each timer runs at the time it was set for.
    for (let i = 0; i < ms; i++) {
      now += 1;
      vi.advanceTimersByTime(1);
    }
  };
  const passed = (): string[] => seen.filter((event) => event.startsWith('line '));
  return { flood, seen, advance, passed };
}

const lines = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => `line ${from + i}`);

describe('FloodControl', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes lines within the burst at once', () => {
    const { flood, seen } = harness({ linesPerSecond: 2, lineBurst: 3, ...LINES_ONLY });
    for (const line of lines(3)) flood.line(line);
    expect(seen).toEqual(lines(3));
  });

  it('warns once, and lets held lines out at the rate, in order, then says it is drained', () => {
    const { flood, seen, advance } = harness({ linesPerSecond: 100, lineBurst: 1, ...LINES_ONLY }); // a line every 10 ms
    for (const line of lines(3)) flood.line(line);
    expect(seen).toEqual(['line 0', 'warn']);
    expect(flood.waiting).toBe(2);
    advance(10);
    expect(seen).toEqual(['line 0', 'warn', 'line 1']);
    advance(10);
    expect(seen).toEqual(['line 0', 'warn', 'line 1', 'line 2', 'drained']);
    expect(flood.waiting).toBe(0);
  });

  it('#10: gets all of an 80-line paste through at 2 a second, in order, and never kicks', () => {
    const { flood, seen, advance, passed } = harness({ linesPerSecond: 2, lineBurst: 5, ...LINES_ONLY });
    for (const line of lines(80)) flood.line(line);
    expect(passed()).toEqual(lines(5));
    // The old rule kicked here, 30 s in, with 16 lines still waiting.
    advance(30_000);
    expect(seen).not.toContain('kick');
    advance(7_500); // 75 lines at 2 a second
    expect(passed()).toEqual(lines(80));
    expect(seen.filter((event) => !event.startsWith('line '))).toEqual(['warn', 'drained']);
    // A line typed just after the paste is out waits its turn too; it is no flood.
    flood.line('line 80');
    advance(500);
    expect(passed()).toEqual(lines(81));
    expect(seen).not.toContain('kick');
  });

  it('holds a paste of the burst and MAX_BACKLOG_LINES lines, and kicks at the line after them', () => {
    const { flood, seen } = harness({ linesPerSecond: 2, lineBurst: 5, ...LINES_ONLY });
    for (const line of lines(5 + MAX_BACKLOG_LINES)) flood.line(line);
    expect(seen).not.toContain('kick');
    expect(flood.waiting).toBe(MAX_BACKLOG_LINES);
    flood.line('one too many');
    expect(seen.at(-1)).toBe('kick');
    expect(flood.waiting).toBe(0);
  });

  it('kicks a client that keeps sending faster than its rate, once its backlog is full, and passes nothing more', () => {
    const { flood, seen, advance, passed } = harness({ linesPerSecond: 2, lineBurst: 5, ...LINES_ONLY });
    // 3 lines a second against 2 allowed: the backlog grows by one line a second.
    let sent = 0;
    while (!seen.includes('kick') && sent < 3 * 1000) {
      flood.line(`line ${sent++}`);
      advance(333);
    }
    // Drained now and then while its burst lasted, but one episode: warned once, then kicked.
    expect(seen.filter((event) => event === 'warn' || event === 'kick')).toEqual(['warn', 'kick']);
    // It was cut only after it had been over its rate for minutes, not seconds.
    expect(sent).toBeGreaterThan(3 * MAX_BACKLOG_LINES - 10);
    const passedAtKick = passed().length;
    advance(10_000);
    flood.line('after the kick');
    expect(passed().length).toBe(passedAtKick);
    expect(passed()).toEqual(lines(passedAtKick));
  });

  it('warns again in a new episode, once the bucket has refilled', () => {
    const { flood, seen, advance } = harness({ linesPerSecond: 10, lineBurst: 2, ...LINES_ONLY });
    for (const line of lines(3)) flood.line(line);
    advance(100);
    expect(seen).toEqual(['line 0', 'line 1', 'warn', 'line 2', 'drained']);
    advance(100); // not yet full again: 1 of 2 tokens
    for (const line of lines(3, 3)) flood.line(line);
    expect(seen.filter((event) => event === 'warn')).toHaveLength(1);
    advance(1000);
    for (const line of lines(3, 6)) flood.line(line);
    expect(seen.filter((event) => event === 'warn')).toHaveLength(2);
  });

  it('pauses reading once the bytes read pass the byte budget, and resumes when it has refilled', () => {
    const { flood, seen, advance } = harness({ linesPerSecond: 2, lineBurst: 5, bytesPerSecond: 1000, byteBurst: 1000 });
    flood.bytes(600);
    expect(seen).toEqual([]);
    flood.bytes(600); // 200 B in debt: 200 ms at 1000 B/s
    expect(seen).toEqual(['pause']);
    advance(199);
    expect(seen).toEqual(['pause']);
    advance(1);
    expect(seen).toEqual(['pause', 'resume']);
    flood.bytes(100);
    expect(seen).toEqual(['pause', 'resume', 'pause']);
  });

  it('reads a client that stays within its byte budget without a pause', () => {
    const { flood, seen, advance } = harness({ linesPerSecond: 2, lineBurst: 5, bytesPerSecond: 1000, byteBurst: 1000 });
    for (let i = 0; i < 100; i++) {
      flood.bytes(100);
      advance(100);
    }
    expect(seen).toEqual([]);
  });

  it('passes, pauses and resumes nothing once stopped', () => {
    const { flood, seen, advance } = harness({ linesPerSecond: 2, lineBurst: 1, bytesPerSecond: 1000, byteBurst: 1000 });
    for (const line of lines(3)) flood.line(line);
    flood.bytes(2000);
    flood.stop();
    advance(5000);
    flood.line('late');
    flood.bytes(5000);
    expect(seen).toEqual(['line 0', 'warn', 'pause']);
    expect(flood.waiting).toBe(0);
  });
});
