// Fakes for the worker's unit tests: a transport the test plays the client of (Transport). Not a
// test file itself; the tests under test/server/ import it.

import type { Transport, TransportHandler } from '../../server/transport.ts';

/** The client's end of a fake transport: what the server wrote, and the events the test sends. */
export class FakeTransport implements Transport {
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

  destroy(): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    this.pendingWriteBytes = 0;
    this.#handler?.onClose();
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
    this.#started().onError(isPeerReset);
    this.close();
  }

  /** The stream closes (after an end, the client closing its side too). */
  close(): void {
    this.isDestroyed = true;
    this.#started().onClose();
  }

  #started(): TransportHandler {
    if (this.#handler === null) throw new Error('the transport was never started');
    return this.#handler;
  }
}
