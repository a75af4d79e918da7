// A run of broadcasts to everyone within one 'deliver' message, as positions in the fan-out
// batch's shared stream (server/fan-out-batch.ts): where the run starts, where each connection
// that joined it late (admitted inside it) or was settled early (it got a line of its own inside
// it) starts instead, and how many server messages lie between two positions, for the metrics.
// Lets the worker queue a whole run to each connection with one range (server/chat-worker.ts
// deliver). Pure; runs in the worker threads.

export class BroadcastRun<Member> {
  #isOpen = false;
  #start = 0;
  /** Members that start elsewhere than the run's start. */
  readonly #starts = new Map<Member, number>();
  /** Messages from the run's start to each position a broadcast ended at (and 0 at the start). */
  readonly #messagesTo = new Map<number, number>();
  #messages = 0;

  get isOpen(): boolean {
    return this.#isOpen;
  }

  /** Opens the run at `position` unless it is open already. */
  open(position: number): void {
    if (this.#isOpen) return;
    this.#isOpen = true;
    this.#start = position;
    this.#messages = 0;
    this.#messagesTo.set(position, 0);
  }

  /** A broadcast of `messages` server messages was appended, ending at `position`. */
  appended(position: number, messages: number): void {
    this.#messages += messages;
    this.#messagesTo.set(position, this.#messages);
  }

  /** `member` gets the run from `position` on (a position the run was at); ignored while closed. */
  startAt(member: Member, position: number): void {
    if (this.#isOpen) this.#starts.set(member, position);
  }

  /** Where `member`'s share of the run starts. */
  startOf(member: Member): number {
    return this.#starts.get(member) ?? this.#start;
  }

  /** Server messages in [from, to), two positions the run was at. */
  messagesBetween(from: number, to: number): number {
    return (this.#messagesTo.get(to) ?? 0) - (this.#messagesTo.get(from) ?? 0);
  }

  close(): void {
    this.#isOpen = false;
    this.#starts.clear();
    this.#messagesTo.clear();
  }
}
