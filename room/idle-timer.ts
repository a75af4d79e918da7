// Idle deadlines for every online client, in O(1) per line: Maps ordered by last activity, so
// the client to warn or time out next is always the first entry. Pure; the clock is injected (as
// in ergo's fakelag), and the primary asks `nextDeadline()` to arm its one timer.

/**
 * How many seconds before its timeout a quiet client is warned (#10 §7): 10 s, or half the
 * timeout when that is shorter; none under 4 s, where a warning would come too late to act on.
 */
export function idleWarningLeadSeconds(idleTimeoutSeconds: number): number {
  if (idleTimeoutSeconds >= 20) return 10;
  return idleTimeoutSeconds >= 4 ? Math.floor(idleTimeoutSeconds / 2) : 0;
}

export class IdleTimer {
  readonly #timeoutMs: number;
  /** How long before its timeout a client is warned; 0: never. */
  readonly #warningLeadMs: number;
  /** id -> time of its last complete line; insertion order is activity order. */
  readonly #lastActive = new Map<number, number>();
  /** The same, for the clients not yet warned since their last line. */
  readonly #toWarn = new Map<number, number>();

  constructor(timeoutMs: number, warningLeadMs = 0) {
    this.#timeoutMs = timeoutMs;
    this.#warningLeadMs = warningLeadMs;
  }

  /** Records activity now: the client moves to the back of the line, and may be warned again. */
  touch(id: number, now: number): void {
    this.#lastActive.delete(id);
    this.#lastActive.set(id, now);
    if (this.#warningLeadMs === 0) return;
    this.#toWarn.delete(id);
    this.#toWarn.set(id, now);
  }

  remove(id: number): void {
    this.#lastActive.delete(id);
    this.#toWarn.delete(id);
  }

  /** When the next client is due a warning or a timeout, or undefined when nobody is tracked. */
  nextDeadline(): number | undefined {
    let deadline: number | undefined;
    for (const last of this.#lastActive.values()) {
      deadline = last + this.#timeoutMs;
      break;
    }
    for (const last of this.#toWarn.values()) {
      const warnAt = last + this.#timeoutMs - this.#warningLeadMs;
      if (deadline === undefined || warnAt < deadline) deadline = warnAt;
      break;
    }
    return deadline;
  }

  /** Removes and returns every client due a warning at `now` (each once per quiet spell), oldest first. */
  takeWarnings(now: number): number[] {
    const due: number[] = [];
    for (const [id, last] of this.#toWarn) {
      if (last + this.#timeoutMs - this.#warningLeadMs > now) break;
      due.push(id);
    }
    for (const id of due) this.#toWarn.delete(id);
    return due;
  }

  /** Removes and returns every client whose deadline is at or before `now`, oldest first. */
  takeExpired(now: number): number[] {
    const expired: number[] = [];
    for (const [id, last] of this.#lastActive) {
      if (last + this.#timeoutMs > now) break;
      expired.push(id);
    }
    for (const id of expired) this.remove(id);
    return expired;
  }
}
