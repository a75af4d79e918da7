// The broadcasts of one 'deliver' message that go to everyone online, gathered so that each
// connection queues them together once the message is carried out, instead of once per broadcast.
// In a connection storm the primary's message for a turn holds a login for each client it
// admitted in that turn, an admit between each two, so they cannot merge into one buffer as
// chat does (server/dispatcher.ts); queueing each to every connection as it came was a fifth of a
// worker's time in W1 (docs/BENCHMARKS.md §2.4). Nothing stays gathered past the message: the
// worker settles at its end (ChatWorker `deliver`), in the same turn that queued them before,
// so the slow-consumer rule sees the kernel as it did. Runs in the worker threads only.

/** Where a connection is in the gathered broadcasts: what `catchUp` owes it is from `index` on. */
export interface GatherCursor {
  /** The gathering the cursor belongs to; one of an earlier gathering has taken all of it. */
  epoch: number;
  /** How many of that gathering's broadcasts it already has, or was admitted after. */
  index: number;
}

/** Queues [start, end) of the batch's shared stream for a connection; false if it was refused (the connection was cut). */
export type TakeRange = (start: number, end: number) => boolean;

export class GatheredBroadcasts {
  /** Where the first gathered broadcast starts in the batch's shared stream. */
  #start = 0;
  /** Where each gathered broadcast ends; they are adjacent, each starting where the last ended. */
  readonly #ends: number[] = [];
  /** Server messages before each gathered broadcast, and after the last. */
  readonly #messagesBefore: number[] = [0];
  #epoch = 0;

  /** How many broadcasts are gathered. */
  get length(): number {
    return this.#ends.length;
  }

  /** A cursor that owes nothing gathered so far: for a connection admitted now. */
  cursorNow(cursor: GatherCursor): void {
    cursor.epoch = this.#epoch;
    cursor.index = this.#ends.length;
  }

  /**
   * Gathers a broadcast already appended to the batch's shared stream at [start, end): right
   * after the last one gathered, since nothing else is appended to that stream meanwhile.
   */
  add(start: number, end: number, messages: number): void {
    const count = this.#ends.length;
    if (count === 0) this.#start = start;
    else if (start !== this.#ends[count - 1]) throw new Error(`gathered broadcasts must be adjacent: one starts at ${start}, the last ended at ${this.#ends[count - 1]}`);
    this.#ends.push(end);
    this.#messagesBefore.push(this.#messagesBefore[count]! + messages);
  }

  /**
   * Gives what `cursor` is owed, and moves it past: as one range when `fits` says the whole
   * would pass the slow-consumer rule's fast path, else broadcast by broadcast, as they were
   * queued before gathering, so that the rule writes ahead and decides at the same points.
   * Stops at the first range `take` refuses (the connection was cut). Returns the server
   * messages owed, taken or not: what the worker counts as deliveries.
   */
  catchUp(cursor: GatherCursor, fits: (bytes: number) => boolean, take: TakeRange): number {
    const count = this.#ends.length;
    const from = cursor.epoch === this.#epoch ? cursor.index : 0;
    cursor.epoch = this.#epoch;
    cursor.index = count;
    if (from >= count) return 0;
    const owed = this.#messagesBefore[count]! - this.#messagesBefore[from]!;
    const start = this.#startOf(from);
    const end = this.#ends[count - 1]!;
    if (fits(end - start)) {
      take(start, end);
      return owed;
    }
    for (let i = from; i < count && take(this.#startOf(i), this.#ends[i]!); i++);
    return owed;
  }

  /** Forgets the gathered broadcasts once every connection has caught up: every cursor is now of an earlier gathering. */
  clear(): void {
    if (this.#ends.length === 0) return;
    this.#ends.length = 0;
    this.#messagesBefore.length = 1;
    this.#epoch++;
  }

  #startOf(index: number): number {
    return index === 0 ? this.#start : this.#ends[index - 1]!;
  }
}
