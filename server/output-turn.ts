// The bytes a worker writes between two full flushes, gathered into two streams: one for
// broadcasts (shared by every recipient) and one for lines to one client. A connection keeps
// only positions into them, so queueing a broadcast for a client is two number compares, and
// writing it is one write of a slice of the sealed shared buffer. Runs in the worker threads only.

/**
 * Positions at or past this are in the one-client stream: a range never spans both streams,
 * so a position is a plain number and adjacency (`end === start`) needs no stream check.
 */
const PRIVATE_BASE = 2 ** 40;

class Stream {
  chunks: Uint8Array[] = [];
  /** Where each chunk starts, for `copy`. */
  starts: number[] = [];
  bytes = 0;
  sealed: Buffer = EMPTY;

  append(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.starts.push(this.bytes);
    this.bytes += bytes.byteLength;
  }

  seal(): void {
    this.sealed = join(this.chunks, this.bytes);
    this.chunks = [];
    this.starts = [];
    this.bytes = 0;
  }

  /** A copy of [start, end) of the unsealed chunks. */
  copy(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    // The last chunk that starts at or before `start` (binary search: a turn may hold many).
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

const EMPTY = Buffer.alloc(0);

export class OutputTurn {
  readonly #shared = new Stream();
  readonly #private = new Stream();
  #isSealed = false;

  /** Where the next broadcast starts. */
  get sharedEnd(): number {
    return this.#shared.bytes;
  }

  /** Where the next one-client line starts. */
  get privateEnd(): number {
    return PRIVATE_BASE + this.#private.bytes;
  }

  /** Appends a broadcast; its range is [sharedEnd before, sharedEnd after). Not copied yet. */
  appendShared(bytes: Uint8Array): void {
    this.#shared.append(bytes);
  }

  /** Appends a line for one client; its range is [privateEnd before, privateEnd after). */
  appendPrivate(bytes: Uint8Array): void {
    this.#private.append(bytes);
  }

  /**
   * Ends the turn for a full flush: joins each stream into one Buffer (one copy), which `bytes`
   * then slices, and starts the next turn empty. The sealed buffers are never modified: sockets
   * keep slices of them until the kernel has taken the bytes.
   */
  seal(): void {
    this.#shared.seal();
    this.#private.seal();
    this.#isSealed = true;
  }

  /** After the full flush: every range of the sealed turn has been written. */
  release(): void {
    this.#shared.sealed = EMPTY;
    this.#private.sealed = EMPTY;
    this.#isSealed = false;
  }

  /**
   * The bytes of [start, end). Sealed: a slice, or the whole shared buffer itself when that is
   * the range (no allocation). Not sealed (a client written ahead of the full flush): a copy.
   */
  bytes(start: number, end: number): Buffer {
    if (start >= PRIVATE_BASE) {
      return this.#isSealed
        ? this.#private.sealed.subarray(start - PRIVATE_BASE, end - PRIVATE_BASE)
        : this.#private.copy(start - PRIVATE_BASE, end - PRIVATE_BASE);
    }
    if (!this.#isSealed) return this.#shared.copy(start, end);
    const sealed = this.#shared.sealed;
    return start === 0 && end === sealed.length ? sealed : sealed.subarray(start, end);
  }
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
