// Flood control for one connection (issues #4, #10): lines within the client's rate pass at once;
// past it they wait in a bounded backlog and are let out at the rate, in order, so a paste is
// slowed down and never loses a line. A client that keeps sending faster than its rate until the
// backlog is full is disconnected. Bytes are metered too: past its byte budget the socket is not
// read until the budget has refilled. Runs in the worker that owns the socket.

import { TokenBucket } from './token-bucket.ts';

/**
 * Lines read and not yet let through, at most. A client this far ahead of its rate is not
 * pasting but flooding: 256 lines are over three screens of text and take 128 s at 2 a second.
 * #10: the rule used to be a time (over the rate for 30 s), which cut an 80-line paste at its
 * 64th line and lost the rest. Also bounds what a client's input holds: 256 × --max-line bytes.
 */
export const MAX_BACKLOG_LINES = 256;

/**
 * Bytes a second any client may send, at the least: eight times the longest lines the default
 * rate lets through (2 a second of --max-line 4096), so it never slows a person. #10: a client
 * sending bytes without a newline was read at 1.5 GB/s, since nothing else meters bytes that
 * make no line.
 */
export const MIN_BYTES_PER_SECOND = 64 * 1024;

/** The line terminator a client line may carry on top of its --max-line bytes. */
const CRLF_BYTES = 2;

export interface FloodLimits {
  readonly linesPerSecond: number;
  /** Lines that pass at once before the rate applies. */
  readonly lineBurst: number;
  readonly bytesPerSecond: number;
  /** Bytes that are read at once before the byte rate applies. */
  readonly byteBurst: number;
}

/**
 * The limits for --rate-limit, --rate-burst and --max-line. The byte budget never binds before
 * the line rate: a client within its line rate sending lines of the longest kind stays within it,
 * and its whole line burst of such lines is read at once.
 */
export function floodLimits(rateLimit: number, rateBurst: number, maxLineBytes: number): FloodLimits {
  const lineBytes = maxLineBytes + CRLF_BYTES;
  const bytesPerSecond = Math.max(MIN_BYTES_PER_SECOND, rateLimit * lineBytes);
  return { linesPerSecond: rateLimit, lineBurst: rateBurst, bytesPerSecond, byteBurst: Math.max(bytesPerSecond, rateBurst * lineBytes) };
}

export interface FloodHooks<Line> {
  /** A line within the rate, in order. */
  pass(line: Line): void;
  /** Stop reading the socket (over the byte budget) / read it again (the budget has refilled). */
  pause(): void;
  resume(): void;
  /** The client went over its line rate; told once per episode. */
  warn(): void;
  /** The backlog has just been let out to its last line. */
  drained(): void;
  /** The client kept flooding: disconnect it. Nothing more is passed. */
  kick(): void;
}

export class FloodControl<Line> {
  readonly #lines: TokenBucket;
  readonly #bytes: TokenBucket;
  readonly #hooks: FloodHooks<Line>;
  readonly #now: () => number;
  /** Lines read but over the rate, oldest first; at most MAX_BACKLOG_LINES. */
  #backlog: Line[] = [];
  /** Told it is over its rate, in this episode: from its first held line until its bucket is full again. */
  #isWarned = false;
  /** Not reading: over the byte budget. */
  #isPaused = false;
  #isStopped = false;
  #releaseTimer: NodeJS.Timeout | undefined;
  #readTimer: NodeJS.Timeout | undefined;

  constructor(limits: FloodLimits, hooks: FloodHooks<Line>, now: () => number = () => performance.now()) {
    this.#now = now;
    this.#lines = new TokenBucket(limits.linesPerSecond, limits.lineBurst, now());
    this.#bytes = new TokenBucket(limits.bytesPerSecond, limits.byteBurst, now());
    this.#hooks = hooks;
  }

  /** Lines waiting for their turn. */
  get waiting(): number {
    return this.#backlog.length;
  }

  /**
   * `count` bytes were read from the socket (before framing, so bytes that never make a line
   * count too). Past the budget, reading stops until it has refilled.
   */
  bytes(count: number): void {
    const now = this.#now();
    if (!this.#bytes.spend(count, now) || this.#isPaused || this.#isStopped) return;
    this.#isPaused = true;
    this.#hooks.pause();
    this.#scheduleRead(now);
  }

  /**
   * A complete line from the client. The contract:
   * 1. a line within the rate, with none waiting, passes at once;
   * 2. else it waits its turn behind the others, and the first to wait in an episode warns;
   * 3. a line that finds MAX_BACKLOG_LINES waiting kicks the client, and nothing more passes.
   */
  line(line: Line): void {
    if (this.#isStopped) return;
    const now = this.#now();
    if (this.#backlog.length === 0) {
      // Quiet long enough to refill the bucket: the last episode is over.
      if (this.#isWarned && this.#lines.isFull(now)) this.#isWarned = false;
      if (this.#lines.take(now)) {
        this.#hooks.pass(line);
        return;
      }
    }
    if (this.#backlog.length >= MAX_BACKLOG_LINES) {
      this.stop();
      this.#hooks.kick();
      return;
    }
    this.#backlog.push(line);
    if (!this.#isWarned) {
      this.#isWarned = true;
      this.#hooks.warn();
    }
    if (this.#backlog.length === 1) this.#scheduleRelease(now);
  }

  /** The connection is gone: nothing more is passed, paused or resumed. */
  stop(): void {
    this.#isStopped = true;
    clearTimeout(this.#releaseTimer);
    clearTimeout(this.#readTimer);
    this.#backlog = [];
  }

  #release(): void {
    const now = this.#now();
    let released = 0;
    while (released < this.#backlog.length && this.#lines.take(now)) this.#hooks.pass(this.#backlog[released++]!);
    // One splice per timer, not a shift per line.
    this.#backlog.splice(0, released);
    if (this.#backlog.length > 0) this.#scheduleRelease(now);
    else this.#hooks.drained();
  }

  #scheduleRelease(now: number): void {
    this.#releaseTimer = setTimeout(() => this.#release(), Math.max(1, this.#lines.waitMs(now)));
  }

  #readAgain(): void {
    const now = this.#now();
    if (this.#bytes.waitMs(now, 0) > 0) return this.#scheduleRead(now);
    this.#isPaused = false;
    this.#hooks.resume();
  }

  #scheduleRead(now: number): void {
    this.#readTimer = setTimeout(() => this.#readAgain(), Math.max(1, this.#bytes.waitMs(now, 0)));
  }
}
