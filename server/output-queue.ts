// One connection's output queue: what is queued for it and not yet written, as ranges of the
// worker's fan-out batch, the count of those bytes, and the slow-consumer rule that reads it (as
// ws's Sender and nats-server's queueOutbound own theirs). Counting as bytes are queued is what
// lets the rule cut a client before it holds more than --max-pending. Runs in the worker thread
// that owns the connection.

import type { RangeSource } from './fan-out-batch.ts';
import type { TrafficCounters } from './metrics.ts';
import type { Transport } from './transport.ts';

/** What became of a range offered to the queue (`offer`). */
export const Offer = {
  /** Queued behind output already waiting. */
  Queued: 0,
  /** Queued, and the first since the last write: the connection now has output to flush. */
  QueuedFirst: 1,
  /** Not queued: the queue is closed (the connection is ending) or its transport is gone. */
  Refused: 2,
  /** Not queued: the client is a slow consumer (the rule below) and must be cut without it. */
  SlowConsumer: 3,
} as const;
export type Offer = (typeof Offer)[keyof typeof Offer];

export class OutputQueue {
  readonly #transport: Transport;
  readonly #maxPendingBytes: number;
  readonly #counters: Pick<TrafficCounters, 'bytesOut'>;
  /** close() was called: nothing more is queued. */
  #isClosed = false;
  /** True from the first range queued until the next write. */
  #hasOutput = false;
  /**
   * What is queued, as positions in the fan-out batch: the open range [#start, #end), and before
   * it the closed ranges in #ranges (start, end pairs). A client that gets every broadcast has
   * one range and no array: nothing is allocated per delivery.
   */
  #start = 0;
  #end = 0;
  #ranges: number[] | null = null;
  /**
   * Bytes in those ranges, counted as they are queued (nats-server `queueOutbound`), so bytes
   * that wait for a paced or storm-deferred flush count too. #10: checked only after the write,
   * a client was cut with four times --max-pending unsent.
   */
  #queuedBytes = 0;
  /** The transport's pending bytes after the last write: since then the peer has only taken bytes. */
  #unsentAtWrite = 0;

  constructor(transport: Transport, maxPendingBytes: number, counters: Pick<TrafficCounters, 'bytesOut'>) {
    this.#transport = transport;
    this.#maxPendingBytes = maxPendingBytes;
    this.#counters = counters;
  }

  /** Bytes queued and not yet taken by the kernel: what --max-pending caps. */
  get unsentBytes(): number {
    return this.#queuedBytes + this.#transport.pendingWriteBytes;
  }

  /** What the transport held when the rule last looked: the figure a slow consumer is cut with. */
  get unsentAtWrite(): number {
    return this.#unsentAtWrite;
  }

  /**
   * Nothing more is queued from now on: the connection is ending, and Node would destroy a socket
   * written after end() and drop its last line. So the slow-consumer rule never cuts a connection
   * the server is closing; the close grace bounds it instead (Connection `end`).
   */
  close(): void {
    this.#isClosed = true;
  }

  /** Whether `bytes` more would be queued on the rule's fast path, without writing ahead (step 1 below). */
  fits(bytes: number): boolean {
    return this.#queuedBytes + this.#unsentAtWrite + bytes <= this.#maxPendingBytes;
  }

  /**
   * Queues [start, end) of the batch if the slow-consumer rule (PROTOCOL.md §6.2) lets it:
   * 1. Within maxPendingBytes, counting what is queued and what the transport held at the last
   *    write, it is queued: one addition and one compare per delivery.
   * 2. Past it, what is queued is written now from `source`, ahead of the paced or storm-deferred
   *    flush (as nats-server flushes at a size threshold), so that only what the kernel refuses
   *    counts: a client that reads is never cut by a flush that carries much.
   * 3. If the kernel then refuses bytes and these would take what the transport holds past the
   *    cap, they are not queued (SlowConsumer), so the client never holds more than maxPendingBytes.
   * The range's bytes need not be in the batch yet, only by the time it is written.
   */
  offer(start: number, end: number, source: RangeSource): Offer {
    if (this.#isClosed || !this.#transport.isWritable) return Offer.Refused;
    const bytes = end - start;
    // fast path: within the cap even if the kernel has taken nothing since the last write.
    if (!this.fits(bytes) && !this.#makeRoom(bytes, source)) {
      return Offer.SlowConsumer;
    }
    this.#queuedBytes += bytes;
    if (!this.#hasOutput) {
      this.#hasOutput = true;
      this.#start = start;
      this.#end = end;
      return Offer.QueuedFirst;
    }
    // fast path: the next broadcast of the batch follows the last one this client got.
    if (start === this.#end) {
      this.#end = end;
      return Offer.Queued;
    }
    (this.#ranges ??= []).push(this.#start, this.#end);
    this.#start = start;
    this.#end = end;
    return Offer.Queued;
  }

  /** Rule steps 2 and 3: writes ahead, then whether `bytes` fit beside what the kernel refuses. */
  #makeRoom(bytes: number, source: RangeSource): boolean {
    if (this.#queuedBytes > 0) this.write(source);
    else this.#unsentAtWrite = this.#transport.pendingWriteBytes;
    return this.#unsentAtWrite === 0 || this.#unsentAtWrite + bytes <= this.#maxPendingBytes;
  }

  /**
   * Writes what is queued, in order, with one write, reading the ranges from `source`: a slice
   * of the sealed batch in the common case, else the pieces joined. Calling it again without
   * new output does nothing.
   */
  write(source: RangeSource): void {
    if (!this.#hasOutput) return;
    this.#hasOutput = false;
    this.#queuedBytes = 0;
    const ranges = this.#ranges;
    this.#ranges = null;
    if (!this.#transport.isWritable || (ranges === null && this.#end === this.#start)) return;
    let bytes: Buffer;
    if (ranges === null) {
      bytes = source.bytes(this.#start, this.#end);
    } else {
      // Rare: one-client lines between broadcasts, or a broadcast that skipped this client.
      ranges.push(this.#start, this.#end);
      const pieces: Buffer[] = [];
      for (let i = 0; i < ranges.length; i += 2) pieces.push(source.bytes(ranges[i]!, ranges[i + 1]!));
      bytes = Buffer.concat(pieces);
    }
    this.#counters.bytesOut += bytes.length;
    this.#transport.write(bytes);
    this.#unsentAtWrite = this.#transport.pendingWriteBytes;
  }
}
