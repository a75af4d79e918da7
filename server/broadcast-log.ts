// The broadcasts of one fan-out batch, in the order the primary gave them, so that queueing a
// broadcast costs the same whatever the number of clients: the worker appends it here once, and
// each connection takes what it has not yet queued when it next needs its output in order (a
// line of its own, its end, a flush), as a few ranges of adjacent broadcasts. Before it, every
// broadcast was queued to every connection as it came: in a connection storm each login is a
// broadcast of its own, and that loop was a third of a worker's time (BENCHMARKS.md §2.4).
// Runs in the worker threads only; server/fan-out-batch.ts holds one per batch.

/**
 * Broadcasts taken together go to the output queue as one range of at most about this many
 * bytes. The slow-consumer rule (server/output-queue.ts) writes ahead and checks the kernel
 * range by range; one range per batch would let a reading client look slow beside a large batch.
 */
export const PIECE_BYTES = 16 * 1024;

/** What a connection is given as it catches up: a range of the batch, and how many server messages it holds. */
export type TakeRange = (start: number, end: number, messages: number) => boolean;

export class BroadcastLog {
  /** Per broadcast: its range in the shared stream and, if it was appended, in the positioned one (else -1). */
  readonly #sharedStart: number[] = [];
  readonly #sharedEnd: number[] = [];
  readonly #positionedStart: number[] = [];
  readonly #positionedEnd: number[] = [];
  /** Server messages before each broadcast, and after the last: the deliveries of a span are a difference. */
  readonly #messagesBefore: number[] = [0];
  /** Where each piece starts (a broadcast index), and the piece of each broadcast. */
  readonly #pieceStarts: number[] = [];
  readonly #pieceOf: number[] = [];
  #pieceBytes = 0;
  /** The broadcasts each connection is not to receive (`except`): rare, so kept by connection id. */
  readonly #excepts = new Map<number, number[]>();
  /** Changes at every `clear`: a cursor of an earlier generation has taken everything of it. */
  #generation = 0;

  get length(): number {
    return this.#sharedStart.length;
  }

  get generation(): number {
    return this.#generation;
  }

  /**
   * Logs a broadcast already appended to the batch's streams at these ranges; `positioned` is
   * null when the positioned stream did not get it (nobody on the worker asked for positions).
   */
  append(shared: readonly [number, number], positioned: readonly [number, number] | null, except: number, messages: number): void {
    const index = this.length;
    const last = index - 1;
    // A piece is adjacent in both streams, so that it is one range in either.
    const isAdjacent =
      index > 0 &&
      this.#sharedEnd[last] === shared[0] &&
      (positioned === null ? this.#positionedStart[last] === -1 : this.#positionedEnd[last] === positioned[0]);
    const bytes = shared[1] - shared[0];
    if (!isAdjacent || this.#pieceBytes + bytes > PIECE_BYTES) {
      this.#pieceStarts.push(index);
      this.#pieceBytes = 0;
    }
    this.#pieceBytes += bytes;
    this.#pieceOf.push(this.#pieceStarts.length - 1);
    this.#sharedStart.push(shared[0]);
    this.#sharedEnd.push(shared[1]);
    this.#positionedStart.push(positioned === null ? -1 : positioned[0]);
    this.#positionedEnd.push(positioned === null ? -1 : positioned[1]);
    this.#messagesBefore.push(this.#messagesBefore[index]! + messages);
    if (except >= 0) {
      const excepted = this.#excepts.get(except);
      if (excepted === undefined) this.#excepts.set(except, [index]);
      else excepted.push(index);
    }
  }

  /**
   * Gives connection `id` the broadcasts from `cursor` on, in order and in as few ranges as the
   * pieces allow, skipping those it is excepted from; from the positioned stream if it asked for
   * positions. Stops when `take` refuses a range (the connection was cut). Returns the new cursor.
   */
  catchUp(cursor: number, id: number, isPositioned: boolean, take: TakeRange): number {
    const length = this.length;
    const excepted = this.#excepts.get(id);
    let from = cursor;
    while (from < length) {
      const piece = this.#pieceOf[from]!;
      const pieceEnd = this.#pieceStarts[piece + 1] ?? length;
      if (excepted !== undefined) {
        for (const skip of excepted) {
          if (skip < from || skip >= pieceEnd) continue;
          if (from < skip && !this.#take(from, skip, isPositioned, take)) return skip;
          from = skip + 1;
        }
      }
      if (from < pieceEnd && !this.#take(from, pieceEnd, isPositioned, take)) return pieceEnd;
      from = pieceEnd;
    }
    return length;
  }

  /** Forgets every broadcast: the batch was sealed, and every connection had caught up. */
  clear(): void {
    if (this.length === 0) return;
    this.#sharedStart.length = 0;
    this.#sharedEnd.length = 0;
    this.#positionedStart.length = 0;
    this.#positionedEnd.length = 0;
    this.#messagesBefore.length = 1;
    this.#pieceStarts.length = 0;
    this.#pieceOf.length = 0;
    this.#pieceBytes = 0;
    this.#excepts.clear();
    this.#generation++;
  }

  /** Broadcasts [from, to) as one range: they are adjacent within a piece. */
  #take(from: number, to: number, isPositioned: boolean, take: TakeRange): boolean {
    const messages = this.#messagesBefore[to]! - this.#messagesBefore[from]!;
    if (isPositioned) return take(this.#positionedStart[from]!, this.#positionedEnd[to - 1]!, messages);
    return take(this.#sharedStart[from]!, this.#sharedEnd[to - 1]!, messages);
  }
}
