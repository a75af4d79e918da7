// The bytes a worker queues between two full flushes (a fan-out batch), in three streams: one for
// broadcasts, shared by every recipient; the same broadcasts with the positions of their history
// lines, shared by the clients that asked for them (PROTOCOL.md §10.3); and one for lines to one
// client. Each broadcast goes to each client from one stream only, so its ranges stay adjacent and
// merge into one slice per flush. A connection keeps only
// positions into them (server/output-queue.ts), so queueing a broadcast for a client is two number
// compares, and at the full flush it is written as one slice of one shared buffer: zero copies per
// recipient. Runs in the worker threads only.

import { GatheredBroadcasts } from './gathered-broadcasts.ts';

/**
 * Positions at or past POSITIONED_BASE are in the positioned stream, at or past PRIVATE_BASE in
 * the one-client stream: a range never spans two streams, so a position is a plain number and
 * adjacency (`end === start`) needs no stream check.
 */
const POSITIONED_BASE = 2 ** 40;
const PRIVATE_BASE = 2 ** 41;

const EMPTY = Buffer.alloc(0);

/** Where a connection's queued ranges are read from when it is written. */
export interface RangeSource {
  /** The bytes of [start, end), a range handed out by the batch these came from. */
  bytes(start: number, end: number): Buffer;
}

class Stream {
  chunks: Uint8Array[] = [];
  /** Where each chunk starts, for `copy`. */
  starts: number[] = [];
  bytes = 0;

  append(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.starts.push(this.bytes);
    this.bytes += bytes.byteLength;
  }

  /** Joins the chunks into one Buffer (one copy) and starts empty again. */
  seal(): Buffer {
    const sealed = join(this.chunks, this.bytes);
    this.chunks = [];
    this.starts = [];
    this.bytes = 0;
    return sealed;
  }

  /** A copy of [start, end) of the chunks. */
  copy(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    // The last chunk that starts at or before `start` (binary search: a batch may hold many).
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle]! <= start) low = middle;
      else high = middle - 1;
    }
    let written = 0;
    for (let i = low; written < out.length; i++) {
      const chunk = this.chunks[i]!;
      const from = Math.max(0, start - this.starts[i]!);
      const to = Math.min(chunk.byteLength, end - this.starts[i]!);
      out.set(chunk.subarray(from, to), written);
      written += to - from;
    }
    return out;
  }
}

/**
 * The batch still being filled. Reading a range of it (a client written ahead of the full flush:
 * an urgent line, or the slow-consumer rule writing early) copies, since its bytes are still in
 * the pieces the primary sent; the full flush reads from `seal()`'s SealedBatch instead.
 */
export class FanOutBatch implements RangeSource {
  readonly #shared = new Stream();
  readonly #positioned = new Stream();
  readonly #private = new Stream();
  /** The broadcasts to everyone of the 'deliver' message being carried out, not yet queued for each connection. */
  readonly gathered = new GatheredBroadcasts();

  /** Where the next broadcast starts. */
  get sharedEnd(): number {
    return this.#shared.bytes;
  }

  /** Where the next broadcast's positioned form starts. */
  get positionedEnd(): number {
    return POSITIONED_BASE + this.#positioned.bytes;
  }

  /** Where the next one-client line starts. */
  get privateEnd(): number {
    return PRIVATE_BASE + this.#private.bytes;
  }

  /** Appends a broadcast; its range is [sharedEnd before, sharedEnd after). Not copied yet. */
  appendShared(bytes: Uint8Array): void {
    this.#shared.append(bytes);
  }

  /** Appends a broadcast to everyone and gathers it: each connection takes it at its next `catchUp`. */
  gatherShared(bytes: Uint8Array, messages: number): void {
    const start = this.#shared.bytes;
    this.#shared.append(bytes);
    this.gathered.add(start, this.#shared.bytes, messages);
  }

  /** Appends a broadcast's positioned form; its range is [positionedEnd before, positionedEnd after). */
  appendPositioned(bytes: Uint8Array): void {
    this.#positioned.append(bytes);
  }

  /** Appends a line for one client; its range is [privateEnd before, privateEnd after). */
  appendPrivate(bytes: Uint8Array): void {
    this.#private.append(bytes);
  }

  /** A copy of [start, end). */
  bytes(start: number, end: number): Buffer {
    if (start >= PRIVATE_BASE) return this.#private.copy(start - PRIVATE_BASE, end - PRIVATE_BASE);
    if (start >= POSITIONED_BASE) return this.#positioned.copy(start - POSITIONED_BASE, end - POSITIONED_BASE);
    return this.#shared.copy(start, end);
  }

  /**
   * Ends the batch for a full flush: joins each stream into one Buffer (one copy) and returns
   * them, so the ranges handed out so far are read from there; this batch starts the next one,
   * empty, at position 0. Every connection must have caught up with `gathered` first (ChatWorker
   * settles before it seals). The sealed buffers are never modified: sockets keep slices of them
   * until the kernel has taken the bytes.
   */
  seal(): SealedBatch {
    return new SealedBatch(this.#shared.seal(), this.#positioned.seal(), this.#private.seal());
  }
}

/** A batch whose bytes are joined: every range of it is a slice, never a copy. */
export class SealedBatch implements RangeSource {
  readonly #shared: Buffer;
  readonly #positioned: Buffer;
  readonly #private: Buffer;

  constructor(shared: Buffer, positioned: Buffer, privateBytes: Buffer) {
    this.#shared = shared;
    this.#positioned = positioned;
    this.#private = privateBytes;
  }

  /** A slice of [start, end), or a whole shared buffer itself when that is the range. */
  bytes(start: number, end: number): Buffer {
    if (start >= PRIVATE_BASE) return this.#private.subarray(start - PRIVATE_BASE, end - PRIVATE_BASE);
    if (start >= POSITIONED_BASE) return whole(this.#positioned, start - POSITIONED_BASE, end - POSITIONED_BASE);
    return whole(this.#shared, start, end);
  }
}

/** fast path: a client that got every broadcast of the batch writes the buffer itself, no allocation. */
function whole(buffer: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === buffer.length ? buffer : buffer.subarray(start, end);
}

function join(chunks: readonly Uint8Array[], bytes: number): Buffer {
  if (chunks.length === 0) return EMPTY;
  if (chunks.length === 1) {
    const only = chunks[0]!;
    // fast path: one message's bytes, already in an ArrayBuffer of their own; no copy.
    return Buffer.from(only.buffer, only.byteOffset, only.byteLength);
  }
  return Buffer.concat(chunks, bytes);
}
