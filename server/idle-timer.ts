// Idle deadlines for every online client, in O(1) per line: a Map ordered by last activity, so
// the client to time out next is always the first entry. Pure; the clock is injected (as in
// ergo's fakelag), and the primary asks `nextDeadline()` to arm its one timer.

export class IdleTimer {
  readonly #timeoutMs: number;
  /** id -> time of its last complete line; insertion order is activity order. */
  readonly #lastActive = new Map<number, number>();

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Records activity now: the client moves to the back of the line. */
  touch(id: number, now: number): void {
    this.#lastActive.delete(id);
    this.#lastActive.set(id, now);
  }

  remove(id: number): void {
    this.#lastActive.delete(id);
  }

  /** When the next client would time out, or undefined when nobody is tracked. */
  nextDeadline(): number | undefined {
    for (const last of this.#lastActive.values()) return last + this.#timeoutMs;
    return undefined;
  }

  /** Removes and returns every client whose deadline is at or before `now`, oldest first. */
  takeExpired(now: number): number[] {
    const expired: number[] = [];
    for (const [id, last] of this.#lastActive) {
      if (last + this.#timeoutMs > now) break;
      expired.push(id);
    }
    for (const id of expired) this.#lastActive.delete(id);
    return expired;
  }
}
