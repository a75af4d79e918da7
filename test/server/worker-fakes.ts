// Fakes for the worker's unit tests: a clock the test moves (WorkerClock) and a transport the test
// plays the client of (Transport). Not a test file itself; the tests under test/server/ import it.

import { CloseReason } from '../../room/close-reason.ts';
import type { Transport, TransportHandler } from '../../server/transport.ts';
import type { WorkerClock } from '../../server/worker-clock.ts';

interface FakeTimer {
  readonly at: number;
  readonly run: () => void;
}

/**
 * Time moves only when the test says. Timers run at their time, in the order of their times;
 * immediates run when the test runs a turn's check phase (`runImmediates`), and those queued
 * while it runs wait for the next one, as Node's do.
 */
export class FakeWorkerClock implements WorkerClock {
  time = 0;
  #timers: FakeTimer[] = [];
  #immediates: (() => void)[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): void {
    this.#timers.push({ at: this.time + ms, run });
  }

  setImmediate(run: () => void): void {
    this.#immediates.push(run);
  }

  /** When the pending timers are due, earliest first. */
  get timerTimes(): number[] {
    return this.#timers.map((timer) => timer.at).sort((a, b) => a - b);
  }

  get immediateCount(): number {
    return this.#immediates.length;
  }

  /** Runs the immediates queued so far: one check phase. */
  runImmediates(): void {
    const due = this.#immediates;
    this.#immediates = [];
    for (const run of due) run();
  }

  /** Moves time on by `ms`, running each timer at its own time, then the immediates it queued. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const next = this.#nextTimer();
      if (next === undefined || next.at > until) break;
      this.time = Math.max(this.time, next.at);
      this.#timers.splice(this.#timers.indexOf(next), 1);
      next.run();
      this.runImmediates();
    }
    this.time = until;
  }

  /** Runs the earliest timer now, before its time: a timer that fires a little early. */
  fireNextTimerEarly(): void {
    const next = this.#nextTimer();
    if (next === undefined) throw new Error('no timer is pending');
    this.#timers.splice(this.#timers.indexOf(next), 1);
    next.run();
  }

  #nextTimer(): FakeTimer | undefined {
    let next: FakeTimer | undefined;
    for (const timer of this.#timers) if (next === undefined || timer.at < next.at) next = timer;
    return next;
  }
}

/** The client's end of a fake transport: what the server wrote, and the events the test sends. */
export class FakeTransport implements Transport {
  readonly kind = 'tcp';
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Every write, as written. */
  readonly writes: Buffer[] = [];
  /** What the kernel has not taken; the test sets it to play a client that does not read. */
  pendingWriteBytes = 0;
  /** Written bytes the fake kernel keeps as pending: 0 plays a client that reads at once. */
  keepsWrites = false;
  isEnded = false;
  isDestroyed = false;
  isPaused = false;
  #handler: TransportHandler | null = null;
  #isClosed = false;

  constructor(remoteAddress = '192.0.2.7', remotePort = 50_000) {
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
  }

  get isWritable(): boolean {
    return !this.isEnded && !this.isDestroyed;
  }

  /** Everything written, as one string. */
  get text(): string {
    return Buffer.concat(this.writes).toString();
  }

  start(handler: TransportHandler): void {
    this.#handler = handler;
  }

  write(bytes: Uint8Array): void {
    if (!this.isWritable) throw new Error('write after end or destroy: the Transport contract forbids it');
    // The very object written, so that a test can tell a shared buffer from a copy.
    this.writes.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (this.keepsWrites) this.pendingWriteBytes += bytes.byteLength;
  }

  end(): void {
    this.isEnded = true;
  }

  /** Closes at once: TCP reports the close a tick later, and Connection must not depend on either. */
  destroy(): void {
    if (this.isDestroyed) return;
    this.pendingWriteBytes = 0;
    this.close();
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    this.isPaused = false;
  }

  /** The client sends `text`. */
  send(text: string): void {
    this.#started().onData(Buffer.from(text));
  }

  /** The client half-closes. */
  sendEnd(): void {
    this.#started().onEnd();
  }

  /** The stream fails, then closes. */
  fail(isPeerReset: boolean): void {
    this.#started().onError(isPeerReset ? CloseReason.ClientClosed : CloseReason.SocketError);
    this.close();
  }

  /** The stream closes (after an end, the client closing its side too); reported once. */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.isDestroyed = true;
    this.#handler?.onClose(); // a transport refused before anything started it has nobody to tell
  }

  #started(): TransportHandler {
    if (this.#handler === null) throw new Error('the transport was never started');
    return this.#handler;
  }
}
