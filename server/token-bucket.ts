// A token bucket holding up to `burst` tokens, refilled at `rate` tokens a second. Flood control
// meters a client's lines with one and its bytes with another (issues #4, #10). Pure; the clock
// is passed in, so the tests need no timers.

export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAt: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Takes `amount` tokens even if fewer are left, and returns whether the bucket is now in debt.
   * For bytes: a chunk already read cannot be refused, only paid for by not reading until the
   * debt is refilled.
   */
  spend(amount: number, now: number): boolean {
    this.#refill(now);
    this.#tokens -= amount;
    return this.#tokens < 0;
  }

  /** Milliseconds until the bucket holds `tokens` (1: the next line; 0: out of debt), 0 if it does now. */
  waitMs(now: number, tokens = 1): number {
    this.#refill(now);
    return this.#tokens >= tokens ? 0 : Math.ceil((tokens - this.#tokens) / this.#ratePerMs);
  }

  /** Whether the bucket is back to its burst: the client has been quiet long enough. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) * this.#ratePerMs);
    this.#updatedAt = now;
  }
}
