// One client socket inside a worker: frames its bytes into commands and coalesces its output.
// Runs in the worker thread that accepted the socket; never touches presence.

import type { Socket } from 'node:net';
import { decodeLine, lineTooLong, LineReader, type LineHandler } from '../protocol/index.ts';
import { CloseReason } from './close-reason.ts';
import type { ClientEvent } from './messages.ts';

/** How long a closing connection may take to flush its last lines before it is cut. */
const CLOSE_GRACE_MS = 2000;

export interface ConnectionHooks {
  /** Called with every event of this connection, in order. */
  onEvent(event: ClientEvent): void;
  /** Called when the connection has output waiting to be flushed. */
  onOutput(connection: Connection): void;
  /** Called once, when the socket is gone. */
  onClosed(connection: Connection): void;
  /** Called when handling this connection's input threw: a bug, logged, and the client cut. */
  onFailure(connection: Connection, error: unknown): void;
}

export class Connection implements LineHandler {
  readonly id: number;
  readonly addr: string;
  readonly #socket: Socket;
  readonly #reader: LineReader;
  readonly #hooks: ConnectionHooks;
  readonly #maxLineBytes: number;
  /** Online: receives broadcasts. Set by the primary's 'admit', cleared when closing starts. */
  isAdmitted = false;
  /** The server is closing it: nothing more is read or queued. A half-closed client is not closing. */
  isClosing = false;
  /** True from the first queued chunk until flush(): the connection is in its worker's dirty list. */
  hasOutput = false;
  /** Chunks queued this turn; usually one shared broadcast buffer. */
  #pending: Buffer[] = [];
  /** Whether the primary has been told this connection is gone. */
  #isReported = false;

  constructor(id: number, addr: string, socket: Socket, maxLineBytes: number, hooks: ConnectionHooks) {
    this.id = id;
    this.addr = addr;
    this.#socket = socket;
    this.#hooks = hooks;
    this.#maxLineBytes = maxLineBytes;
    this.#reader = new LineReader(maxLineBytes, this);
    socket.setNoDelay(true); // we coalesce ourselves, once per turn; Nagle would only add delay
    socket.on('data', (chunk: Buffer) => {
      if (this.isClosing) return;
      try {
        this.#reader.push(chunk);
      } catch (error) {
        // A bug must cost this client its connection, never its worker and everyone on it.
        hooks.onFailure(this, error);
      }
    });
    // The client half-closed (EOF): carry out what it sent, then close once the replies are out.
    socket.on('end', () => this.#report(CloseReason.ClientClosed));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const isReset = error.code === 'ECONNRESET' || error.code === 'EPIPE';
      this.#report(isReset ? CloseReason.ClientClosed : CloseReason.SocketError);
    });
    socket.on('close', () => {
      this.#report(CloseReason.ClientClosed);
      hooks.onClosed(this);
    });
  }

  // LineHandler: called by the reader, in stream order.
  onLine(line: Buffer): void {
    this.#hooks.onEvent({ kind: 'command', id: this.id, command: decodeLine(line) });
  }

  onLineTooLong(): void {
    this.#hooks.onEvent({ kind: 'framing-error', id: this.id, error: lineTooLong(this.#maxLineBytes) });
  }

  onDiscardedLineEnd(): void {
    this.#hooks.onEvent({ kind: 'command', id: this.id, command: { type: 'empty' } });
  }

  /** Bytes written but not yet taken by the kernel. */
  get unsentBytes(): number {
    return this.#socket.writableLength;
  }

  /** Queues bytes for this turn's single write; the buffer is shared and never modified. */
  queue(bytes: Buffer): void {
    // After end() nothing may be written: Node would destroy the socket and drop its last line.
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#pending.push(bytes);
    if (!this.hasOutput) {
      this.hasOutput = true;
      this.#hooks.onOutput(this);
    }
  }

  /** Writes what this turn queued: one write, or one writev through cork/uncork. */
  flush(): void {
    this.hasOutput = false;
    const pending = this.#pending;
    if (pending.length === 0 || this.#socket.destroyed) return;
    this.#pending = [];
    if (pending.length === 1) {
      this.#socket.write(pending[0]!);
      return;
    }
    this.#socket.cork();
    for (const chunk of pending) this.#socket.write(chunk);
    this.#socket.uncork();
  }

  /** Flushes, then ends the socket; cuts it if the client does not take the last bytes in time. */
  end(): void {
    this.isAdmitted = false;
    this.isClosing = true;
    this.#isReported = true; // the primary decided this, or already knows
    this.flush();
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.#socket.once('close', () => clearTimeout(timer));
  }

  /** Cuts the connection at once, dropping unsent output, and tells the primary why. */
  destroy(reason: CloseReason): void {
    this.isAdmitted = false;
    this.isClosing = true;
    this.#report(reason);
    this.#socket.destroy();
  }

  #report(reason: CloseReason): void {
    if (this.#isReported) return;
    this.#isReported = true;
    this.#hooks.onEvent({ kind: 'disconnect', id: this.id, reason });
  }
}
