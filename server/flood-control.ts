// Flood control for one connection (issue #4): lines within the client's rate pass at once;
// past it the socket stops being read and the lines already read wait their turn, so the client
// is slowed down, not dropped; a client that stays over its rate for as long as FLOOD_LINES take
// at that rate is disconnected. Runs in the worker that owns the socket.

import { TokenBucket } from './token-bucket.ts';

/** Over the rate for as long as this many lines take at the rate: flooding (30 s at 2 lines/s). */
export const FLOOD_LINES = 60;

export interface FloodHooks<Line> {
  /** A line within the rate, in order. */
  pass(line: Line): void;
  /** Stop reading the socket / read it again. */
  pause(): void;
  resume(): void;
  /** The client went over its rate; told once per episode. */
  warn(): void;
  /** The client kept flooding: disconnect it. */
  kick(): void;
}

export class FloodControl<Line> {
  readonly #bucket: TokenBucket;
  readonly #hooks: FloodHooks<Line>;
  readonly #floodMs: number;
  readonly #now: () => number;
  /** Lines read but over the rate, oldest first. Bounded: the socket is paused while any wait. */
  #waiting: Line[] = [];
  /** When the client went over its rate; 0 while it is within it. */
  #overSince = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(ratePerSecond: number, burst: number, hooks: FloodHooks<Line>, now: () => number = () => performance.now()) {
    this.#now = now;
    this.#bucket = new TokenBucket(ratePerSecond, burst, now());
    this.#hooks = hooks;
    this.#floodMs = (FLOOD_LINES / ratePerSecond) * 1000;
  }

  /** Lines waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** A complete line from the client. */
  line(line: Line): void {
    const now = this.#now();
    // Quiet long enough to refill the bucket: the last episode is over.
    if (this.#overSince !== 0 && this.#waiting.length === 0 && this.#bucket.isFull(now)) this.#overSince = 0;
    if (this.#waiting.length === 0 && this.#bucket.take(now)) {
      this.#hooks.pass(line);
      return;
    }
    this.#waiting.push(line);
    if (this.#waiting.length > 1) return; // already paused, and the timer is set
    if (this.#overSince === 0) {
      this.#overSince = now;
      this.#hooks.warn();
    }
    this.#hooks.pause();
    this.#schedule(now);
  }

  /** The connection is gone: nothing more is passed. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#waiting = [];
  }

  #release(): void {
    const now = this.#now();
    while (this.#waiting.length > 0 && this.#bucket.take(now)) this.#hooks.pass(this.#waiting.shift()!);
    if (this.#waiting.length === 0) {
      this.#hooks.resume();
      return;
    }
    if (now - this.#overSince >= this.#floodMs) {
      this.stop();
      this.#hooks.kick();
      return;
    }
    this.#schedule(now);
  }

  #schedule(now: number): void {
    this.#timer = setTimeout(() => this.#release(), Math.max(1, this.#bucket.waitMs(now)));
  }
}
