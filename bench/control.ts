// The control block the bench's primary and its client threads share: one Int32Array on a
// SharedArrayBuffer, read and written with Atomics only. Phases move forward one way:
// CONNECT -> (LOAD -> DRAIN)* -> DONE; each LOAD/DRAIN pair is one round.

export const Phase = { Connect: 0, Load: 1, Drain: 2, Done: 3 } as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

const PHASE = 0;
const ROUND = 1;
const GREETED = 2;
const REFUSED = 3;
/** Messages per second per sender, × 1000 (Atomics hold integers). */
const RATE_MILLI = 4;
/** Client threads that published this round's sent counts. */
const STOPPED_TASKS = 5;
/** Chunks received before the first round: the primary waits for them to stop coming. */
const EARLY_CHUNKS = 6;
/** Clients that were greeted and then closed by the server before the run ended. */
const DROPPED = 7;
const HEADER = 8;

export class Control {
  readonly shared: SharedArrayBuffer;
  readonly #cells: Int32Array;
  readonly #senders: number;

  constructor(senders: number, shared?: SharedArrayBuffer) {
    this.#senders = senders;
    this.shared = shared ?? new SharedArrayBuffer((HEADER + senders) * Int32Array.BYTES_PER_ELEMENT);
    this.#cells = new Int32Array(this.shared);
  }

  get phase(): Phase {
    return Atomics.load(this.#cells, PHASE) as Phase;
  }

  get round(): number {
    return Atomics.load(this.#cells, ROUND);
  }

  get greeted(): number {
    return Atomics.load(this.#cells, GREETED);
  }

  get refused(): number {
    return Atomics.load(this.#cells, REFUSED);
  }

  get rate(): number {
    return Atomics.load(this.#cells, RATE_MILLI) / 1000;
  }

  get stoppedTasks(): number {
    return Atomics.load(this.#cells, STOPPED_TASKS);
  }

  countGreeted(): void {
    Atomics.add(this.#cells, GREETED, 1);
  }

  countRefused(): void {
    Atomics.add(this.#cells, REFUSED, 1);
  }

  countEarlyChunk(): void {
    Atomics.add(this.#cells, EARLY_CHUNKS, 1);
  }

  countDropped(): void {
    Atomics.add(this.#cells, DROPPED, 1);
  }

  get dropped(): number {
    return Atomics.load(this.#cells, DROPPED);
  }

  get earlyChunks(): number {
    return Atomics.load(this.#cells, EARLY_CHUNKS);
  }

  /** Primary: starts a round at `rate` messages per second per sender. */
  startLoad(rate: number): void {
    Atomics.store(this.#cells, RATE_MILLI, Math.round(rate * 1000));
    Atomics.store(this.#cells, STOPPED_TASKS, 0);
    Atomics.add(this.#cells, ROUND, 1);
    this.#setPhase(Phase.Load);
  }

  /** Primary: senders stop; clients wait for what is in flight. */
  startDrain(): void {
    this.#setPhase(Phase.Drain);
  }

  /** Primary: ends the run, from any phase (also a connect phase that will never complete). */
  finish(): void {
    this.#setPhase(Phase.Done);
  }

  /** Client thread: publishes how many messages its senders have sent in all. */
  publishSent(sender: number, totalSent: number): void {
    Atomics.store(this.#cells, HEADER + sender, totalSent);
  }

  taskStopped(): void {
    Atomics.add(this.#cells, STOPPED_TASKS, 1);
    Atomics.notify(this.#cells, STOPPED_TASKS);
  }

  /** Messages sent so far by every sender (valid once every task has stopped). */
  sentTotals(): Int32Array {
    return this.#cells.slice(HEADER, HEADER + this.#senders);
  }

  /** Resolves once the phase is no longer `from`. */
  async waitPhaseChange(from: Phase): Promise<Phase> {
    for (;;) {
      const current = this.phase;
      if (current !== from) return current;
      const wait = Atomics.waitAsync(this.#cells, PHASE, from);
      if (wait.async) await wait.value;
    }
  }

  /** Resolves once `count` tasks have stopped this round. */
  async waitStopped(count: number): Promise<void> {
    for (;;) {
      const stopped = this.stoppedTasks;
      if (stopped >= count) return;
      const wait = Atomics.waitAsync(this.#cells, STOPPED_TASKS, stopped);
      if (wait.async) await wait.value;
    }
  }

  #setPhase(phase: Phase): void {
    Atomics.store(this.#cells, PHASE, phase);
    Atomics.notify(this.#cells, PHASE);
  }
}
