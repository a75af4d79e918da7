// Time for the cluster's unit tests, moved by hand: one ManualClock that the in-memory Redis
// (heartbeat TTLs, stream ids, a read's BLOCK) and every node's delays share, and ManualTimers,
// a node's ClusterTimers whose `every` runs only when the test calls `beat()`. Nothing here
// touches the real clock, so a test's outcome never depends on how fast the machine is.

import type { ClusterTimers } from '../../cluster/cluster-timers.ts';

interface Alarm {
  readonly at: number;
  readonly run: () => void;
}

export class ManualClock {
  #now: number;
  #alarms: Alarm[] = [];

  constructor(start = 1_000) {
    this.#now = start;
  }

  get now(): number {
    return this.#now;
  }

  /** Runs `run` once the clock has been moved `ms` on; the returned function cancels it. */
  after(ms: number, run: () => void): () => void {
    const alarm: Alarm = { at: this.#now + ms, run };
    this.#alarms.push(alarm);
    return () => {
      this.#alarms = this.#alarms.filter((each) => each !== alarm);
    };
  }

  /**
   * Moves the clock `ms` on, running each alarm that falls due on the way, earliest first. An
   * alarm set by what those alarms start (a read issued again after its BLOCK ran out) waits for
   * the next advance, so a loop of them cannot spin here.
   */
  advance(ms: number): void {
    const target = this.#now + ms;
    const due = this.#alarms.filter((alarm) => alarm.at <= target).sort((first, second) => first.at - second.at);
    this.#alarms = this.#alarms.filter((alarm) => alarm.at > target);
    for (const alarm of due) {
      this.#now = alarm.at;
      alarm.run();
    }
    this.#now = target;
  }
}

/** One node's timers: its heartbeat runs when the test says so; its delays run on the shared clock. */
export class ManualTimers implements ClusterTimers {
  readonly #clock: ManualClock;
  readonly #repeating = new Set<() => void>();

  constructor(clock: ManualClock) {
    this.#clock = clock;
  }

  every(run: () => void): { stop(): void } {
    this.#repeating.add(run);
    return { stop: () => this.#repeating.delete(run) };
  }

  delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.after(ms, resolve));
  }

  /** Runs every repeating timer once, as if its period had passed: the node's heartbeat. */
  beat(): void {
    for (const run of this.#repeating) run();
  }
}
