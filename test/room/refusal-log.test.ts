import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CloseReason } from '../../room/close-reason.ts';
import { RefusalLog, type RefusalClock } from '../../room/refusal-log.ts';

/** A clock the test moves, and a timer that fires when the test says time has passed. */
class FakeClock implements RefusalClock {
  time = 0;
  #timers: { at: number; run: () => void }[] = [];
  now(): number {
    return this.time;
  }
  schedule(run: () => void, ms: number): void {
    this.#timers.push({ at: this.time + ms, run });
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.#timers.filter((timer) => timer.at <= this.time);
    this.#timers = this.#timers.filter((timer) => timer.at > this.time);
    for (const timer of due) timer.run();
  }
}

function recordingLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info', base: null, timestamp: false }, sink), lines };
}

const flushLogs = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RefusalLog', () => {
  it('logs a lone refusal at once, with its address and reason', async () => {
    const { log, lines } = recordingLog();
    new RefusalLog(log, new FakeClock()).refused('127.0.0.1:4000', CloseReason.ServerFull, 'server full');
    await flushLogs();
    expect(lines).toEqual([{ level: 40, event: 'kick', addr: '127.0.0.1:4000', reason: 'ServerFull', msg: 'server full' }]);
  });

  it('sums up a storm of refusals in one line a second, by reason', async () => {
    const { log, lines } = recordingLog();
    const clock = new FakeClock();
    const refusals = new RefusalLog(log, clock);
    for (let i = 0; i < 185; i++) {
      const reason = i % 5 === 0 ? CloseReason.ServerFull : CloseReason.TooManyFromAddress;
      refusals.refused(`127.0.0.1:${4000 + i}`, reason, 'refused');
      clock.advance(2);
    }
    clock.advance(1000);
    await flushLogs();
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatchObject({ event: 'kick', addr: '127.0.0.1:4000' });
    expect(lines[1]).toMatchObject({ event: 'kicks-summary', refused: 184, byReason: { ServerFull: 36, TooManyFromAddress: 148 } });
  });

  it('logs one by one again once the refusals have stopped for a second', async () => {
    const { log, lines } = recordingLog();
    const clock = new FakeClock();
    const refusals = new RefusalLog(log, clock);
    refusals.refused('a', CloseReason.ServerFull, 'server full');
    refusals.refused('b', CloseReason.ServerFull, 'server full');
    clock.advance(1000); // the summary of b
    clock.advance(1000);
    refusals.refused('c', CloseReason.ServerFull, 'server full');
    await flushLogs();
    expect(lines.map((line) => line['event'])).toEqual(['kick', 'kicks-summary', 'kick']);
    expect(lines[2]).toMatchObject({ addr: 'c' });
  });
});
