// One client's replies in the order of its commands (docs/CLUSTER.md §5). A command that goes to
// Redis answers later, and the entries it caused come back through the stream later still; a
// reply that follows it (`who` after a rename, say) must wait for both, or the client would see
// its answers out of order. Each step therefore waits for the steps before it and for the stream
// to be read up to the id its script returned.

import { compareStreamIds, type StreamId } from './stream-id.ts';

export interface PendingStep {
  /** The script answered: run `reply` once the stream has been read up to `after` (null: at once). */
  complete(after: StreamId | null, reply: () => void): void;
}

interface Step {
  isReady: boolean;
  after: StreamId | null;
  reply: () => void;
}

const NOTHING = (): void => {};

export class ReplyQueue {
  readonly #steps: Step[] = [];
  #head = 0;

  get isEmpty(): boolean {
    return this.#head === this.#steps.length;
  }

  /** A reply that needs nothing from Redis: it runs once every step before it has. */
  local(reply: () => void): void {
    this.#steps.push({ isReady: true, after: null, reply });
  }

  /** A step whose script has been sent; completed when it answers. */
  pending(): PendingStep {
    const step: Step = { isReady: false, after: null, reply: NOTHING };
    this.#steps.push(step);
    return {
      complete(after, reply) {
        step.isReady = true;
        step.after = after;
        step.reply = reply;
      },
    };
  }

  /**
   * Runs every step that is due, in order, with the stream read up to `position` (null: no
   * longer wait for the stream, as when the link to Redis is down).
   */
  run(position: StreamId | null): void {
    while (this.#head < this.#steps.length) {
      const step = this.#steps[this.#head]!;
      if (!step.isReady) break;
      if (position !== null && step.after !== null && compareStreamIds(step.after, position) > 0) break;
      this.#head++;
      step.reply();
    }
    if (this.#head === this.#steps.length) {
      this.#steps.length = 0;
      this.#head = 0;
    }
  }
}
