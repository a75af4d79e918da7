// Decides when a connection to Redis has stopped answering (docs/CLUSTER.md §6, #10). A Redis that
// hangs with its sockets open (SIGSTOP, a stalled VM, a long fork, a partition without RST) never
// makes anything fail by itself: each command is therefore given a deadline, and one passed is a
// stall. Pure; the clock is injected, and RedisLink calls check() every CHECK_EVERY_MS.

/** How long Redis may leave a command unanswered before the link counts as down. */
export const STALL_TIMEOUT_MS = 2000;
/** How often the link asks; a stall is seen at most this much after its deadline. */
export const CHECK_EVERY_MS = 250;

interface Outstanding {
  /** The time Redis is given from the moment the clock (re)starts. */
  readonly allowanceMs: number;
  deadline: number;
}

export class StallDetector {
  readonly #timeoutMs: number;
  readonly #checkEveryMs: number;
  /** token -> its deadline; one entry per command sent and not yet answered. */
  readonly #outstanding = new Map<number, Outstanding>();
  #nextToken = 1;
  #lastCheck: number | undefined;

  constructor(timeoutMs = STALL_TIMEOUT_MS, checkEveryMs = CHECK_EVERY_MS) {
    this.#timeoutMs = timeoutMs;
    this.#checkEveryMs = checkEveryMs;
  }

  /** Commands sent and not yet answered. */
  get pending(): number {
    return this.#outstanding.size;
  }

  /**
   * A command went out at `now`; `extraMs` is what Redis may take on purpose on top of the timeout
   * (an XREAD's BLOCK). Returns the token to pass to `answered`.
   */
  sent(now: number, extraMs = 0): number {
    const token = this.#nextToken++;
    const allowanceMs = this.#timeoutMs + extraMs;
    this.#outstanding.set(token, { allowanceMs, deadline: now + allowanceMs });
    return token;
  }

  /** Its answer came, or it failed: either way Redis is no longer waited for. */
  answered(token: number): void {
    this.#outstanding.delete(token);
  }

  /** The connection is gone: nothing on it is waited for any more. */
  clear(): void {
    this.#outstanding.clear();
  }

  /**
   * Whether a command has gone unanswered past its deadline at `now`.
   *
   * A check that comes more than half the timeout later than due means this process itself did
   * not run (SIGSTOP, a stalled VM, a long GC pause): the answers may be waiting unread in the
   * socket, and the timers run before the sockets are read. Then nothing is judged, and every
   * command's clock starts again: Redis is only ever blamed for time this process was running.
   */
  check(now: number): boolean {
    const last = this.#lastCheck;
    this.#lastCheck = now;
    if (last !== undefined && now - last > this.#checkEveryMs + this.#timeoutMs / 2) {
      for (const command of this.#outstanding.values()) command.deadline = now + command.allowanceMs;
      return false;
    }
    for (const command of this.#outstanding.values()) if (command.deadline <= now) return true;
    return false;
  }
}
