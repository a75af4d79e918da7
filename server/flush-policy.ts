// When a worker writes its sockets: the flush policy, which sets the latency of every line a
// client receives. Output for one client goes out right after this turn of the event loop;
// broadcasts wait for the paced full flush, and longer while a connection storm lasts. Only the
// timing is here: what a flush writes is the worker's (FlushWriter). Runs in the worker threads;
// the clock is injected so that test/server/flush-policy.test.ts pins every decision.

import type { WorkerClock } from './worker-clock.ts';

/**
 * A full flush writes every socket with broadcasts queued, so it costs about the same whatever
 * it carries. After one that took T ms, the next waits until T × FLUSH_PACING ms have passed:
 * a worker then spends at most half its time writing broadcasts, the rest accepting, reading
 * and answering, and under load each flush carries more lines instead of there being more
 * flushes. Without it, a connection storm ran one flush per new client, each to everyone
 * (issue #5 W1: 30 s instead of 3 s to greet 5000 clients). Light load never waits: a flush
 * to 500 clients takes a few ms.
 */
export const FLUSH_PACING = 1;

/**
 * A connection storm (a new connection in the last STORM_QUIET_MS) postpones the full flush
 * until the storm pauses, for at most STORM_MAX_DEFER_MS after the oldest line waiting. Each
 * newcomer's login goes to everyone online: flushed as they come, a storm of n clients costs
 * n²/2 small writes, which starve the accepts and the greetings of both cores; gathered, it
 * costs a few large ones. Newcomers are greeted at once all the same (the urgent flush); those
 * online get the logins, and any chat of the moment, up to 250 ms later, in the same order.
 */
export const STORM_QUIET_MS = 20;
export const STORM_MAX_DEFER_MS = 250;

/** A wait shorter than this runs at the next immediate instead: a timer cannot do better. */
const MIN_TIMER_MS = 1;

/** What a flush writes; called by the policy when it is due. */
export interface FlushWriter {
  /** Writes the connections with output of their own (a reply, a greeting, their end). */
  writeUrgent(): void;
  /** Writes every connection with output queued; its cost paces the next full flush. */
  writeAll(): void;
}

export class FlushPolicy {
  readonly #clock: WorkerClock;
  readonly #writer: FlushWriter;
  #isUrgentFlushScheduled = false;
  #isFullFlushScheduled = false;
  #lastFlushEnd = 0;
  #lastFlushCost = 0;
  #lastAcceptAt = -Infinity;
  /** When the oldest broadcast not yet flushed was queued. */
  #oldestQueuedAt = 0;

  constructor(clock: WorkerClock, writer: FlushWriter) {
    this.#clock = clock;
    this.#writer = writer;
  }

  /** A connection was accepted just now: a storm lasts until none has been for STORM_QUIET_MS. */
  accepted(): void {
    this.#lastAcceptAt = this.#clock.now();
  }

  /**
   * Output for one client is queued. Written after the poll phase of this turn (setImmediate):
   * every message from the primary read in this turn goes out together, and a greeting or a
   * `who` reply does not wait for the broadcasts' pace.
   */
  urgentQueued(): void {
    if (this.#isUrgentFlushScheduled) return;
    this.#isUrgentFlushScheduled = true;
    this.#clock.setImmediate(this.#flushUrgent);
  }

  /** Output is queued for the full flush; the first since the last full flush schedules it. */
  queued(): void {
    if (this.#isFullFlushScheduled) return;
    this.#isFullFlushScheduled = true;
    const now = this.#clock.now();
    this.#oldestQueuedAt = now;
    this.#schedule(now);
  }

  /** A full flush now, whatever the pace (at shutdown: the notice must not wait). */
  flushNow(): void {
    this.#flushAll();
  }

  /** When the full flush is due: paced after the last one, and later while a storm lasts. */
  #due(now: number): number {
    const paced = this.#lastFlushEnd + FLUSH_PACING * this.#lastFlushCost;
    if (now - this.#lastAcceptAt >= STORM_QUIET_MS) return paced;
    return Math.max(paced, Math.min(this.#lastAcceptAt + STORM_QUIET_MS, this.#oldestQueuedAt + STORM_MAX_DEFER_MS));
  }

  #schedule(now: number): void {
    const wait = this.#due(now) - now;
    if (wait < MIN_TIMER_MS) this.#clock.setImmediate(this.#flushWhenDue);
    else this.#clock.setTimeout(this.#flushWhenDue, wait);
  }

  /**
   * The scheduled full flush; a storm that went on meanwhile puts it off again (within its bound).
   * Outside a storm it flushes as scheduled: a timer may fire a fraction of a millisecond early,
   * and checking the pace again would only add a turn to every flush.
   */
  readonly #flushWhenDue = (): void => {
    const now = this.#clock.now();
    if (now - this.#lastAcceptAt < STORM_QUIET_MS && this.#due(now) - now >= MIN_TIMER_MS) return this.#schedule(now);
    this.#flushAll();
  };

  readonly #flushUrgent = (): void => {
    this.#isUrgentFlushScheduled = false;
    this.#writer.writeUrgent();
  };

  #flushAll(): void {
    this.#isFullFlushScheduled = false;
    const started = this.#clock.now();
    this.#writer.writeAll();
    this.#lastFlushEnd = this.#clock.now();
    this.#lastFlushCost = this.#lastFlushEnd - started;
  }
}
