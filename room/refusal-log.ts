// The log of connections refused at the door (--max-clients, --max-per-ip). A storm of 200
// connections from one address used to write 185 warn lines (#10 §7); now the first refusal
// of a quiet spell is logged at once, and the rest are summed up once a second, by reason.
// Pure apart from the logger; the clock and the timer are injected so the tests drive them.

import type { CloseReason } from './close-reason.ts';
import type { Log } from './log.ts';

/** Refusals after the first are summed up over this long. */
export const REFUSAL_SUMMARY_MS = 1000;

export interface RefusalClock {
  now(): number;
  /** Calls `run` once, `ms` from now; it MUST NOT keep the process alive. */
  schedule(run: () => void, ms: number): void;
}

const REAL_CLOCK: RefusalClock = {
  now: () => performance.now(),
  schedule: (run, ms) => setTimeout(run, ms).unref(),
};

export class RefusalLog {
  readonly #log: Log;
  readonly #clock: RefusalClock;
  /** Refusals since the last line, by reason; null while no summary is due. */
  #pending: Map<CloseReason, number> | null = null;
  /** Until then, refusals are counted, not logged one by one. */
  #quietUntil = -Infinity;

  constructor(log: Log, clock: RefusalClock = REAL_CLOCK) {
    this.#log = log;
    this.#clock = clock;
  }

  /** A client was turned away: `message` says why ("server full"), `reason` is its close reason. */
  refused(addr: string, reason: CloseReason, message: string): void {
    const now = this.#clock.now();
    if (now >= this.#quietUntil && this.#pending === null) {
      this.#log.warn({ event: 'kick', addr, reason }, message);
      this.#quietUntil = now + REFUSAL_SUMMARY_MS;
      return;
    }
    if (this.#pending === null) {
      this.#pending = new Map();
      this.#clock.schedule(() => this.#summarize(), Math.max(0, this.#quietUntil - now));
    }
    this.#pending.set(reason, (this.#pending.get(reason) ?? 0) + 1);
  }

  #summarize(): void {
    const pending = this.#pending;
    this.#pending = null;
    if (pending === null) return;
    const byReason = Object.fromEntries(pending);
    let refused = 0;
    for (const count of pending.values()) refused += count;
    this.#log.warn({ event: 'kicks-summary', refused, byReason }, `refused ${refused} more connections in the last second`);
    // Another storm second may follow: its first refusal waits for the next summary too.
    this.#quietUntil = this.#clock.now() + REFUSAL_SUMMARY_MS;
  }
}
