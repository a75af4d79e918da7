// One client socket inside a worker: frames its bytes into commands and coalesces its output.
// Runs in the worker thread that accepted the socket; never touches presence.

import type { Socket } from 'node:net';
import { decodeLine, encodeError, flooding, lineTooLong, LineReader, rateLimited, type LineHandler } from '../protocol/index.ts';
import { CloseReason } from './close-reason.ts';
import { FLOOD_LINES, FloodControl } from './flood-control.ts';
import type { ClientEvent } from './messages.ts';
import type { TrafficCounters } from './metrics.ts';

export interface ConnectionLimits {
  readonly maxLineBytes: number;
  /** Lines per second (0: no flood control) and the burst allowed before the rate applies. */
  readonly rateLimit: number;
  readonly rateBurst: number;
}

/** An event from one complete line (or a framing error): what flood control meters. */
type LineEvent = Extract<ClientEvent, { kind: 'command' | 'framing-error' }>;

/** How long a closing connection may take to flush its last lines before it is cut. */
const CLOSE_GRACE_MS = 2000;

/** Where the counts go when nobody reads them (a Connection made outside a worker, as the micro-benchmarks do). */
const UNREAD_COUNTERS: TrafficCounters = { linesIn: 0, bytesIn: 0, bytesOut: 0 };

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
  readonly #limits: ConnectionLimits;
  readonly #flood: FloodControl<LineEvent> | null;
  /** Shared by every connection of the worker; only ever incremented here. */
  readonly #counters: TrafficCounters;
  /** The client half-closed while lines waited for flood control: report it once they are out. */
  #isEndingAfterFlood = false;
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

  constructor(
    id: number,
    addr: string,
    socket: Socket,
    limits: ConnectionLimits,
    hooks: ConnectionHooks,
    counters: TrafficCounters = UNREAD_COUNTERS,
  ) {
    this.id = id;
    this.addr = addr;
    this.#socket = socket;
    this.#hooks = hooks;
    this.#limits = limits;
    this.#counters = counters;
    this.#reader = new LineReader(limits.maxLineBytes, this);
    this.#flood = limits.rateLimit === 0 ? null : new FloodControl<LineEvent>(limits.rateLimit, limits.rateBurst, {
      pass: (event) => hooks.onEvent(event),
      pause: () => socket.pause(),
      resume: () => {
        if (this.#isEndingAfterFlood) this.#report(CloseReason.ClientClosed);
        else if (!this.isClosing) socket.resume();
      },
      warn: () => this.queue(Buffer.from(encodeError(rateLimited(limits.rateLimit, limits.rateBurst)))),
      kick: () => {
        const seconds = Math.round(FLOOD_LINES / limits.rateLimit);
        this.kick(CloseReason.Flooding, Buffer.from(encodeError(flooding(limits.rateLimit, seconds))));
      },
    });
    socket.setNoDelay(true); // we coalesce ourselves, once per turn; Nagle would only add delay
    socket.on('data', (chunk: Buffer) => {
      this.#counters.bytesIn += chunk.length;
      if (this.isClosing) return;
      try {
        this.#reader.push(chunk);
      } catch (error) {
        // A bug must cost this client its connection, never its worker and everyone on it.
        hooks.onFailure(this, error);
      }
    });
    // The client half-closed (EOF): carry out what it sent, then close once the replies are out.
    socket.on('end', () => {
      if ((this.#flood?.waiting ?? 0) > 0) this.#isEndingAfterFlood = true;
      else this.#report(CloseReason.ClientClosed);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const isReset = error.code === 'ECONNRESET' || error.code === 'EPIPE';
      this.#report(isReset ? CloseReason.ClientClosed : CloseReason.SocketError);
    });
    socket.on('close', () => {
      // Lines still over the rate when the client vanished are dropped: nobody was to see them yet.
      this.#flood?.stop();
      this.#report(CloseReason.ClientClosed);
      hooks.onClosed(this);
    });
  }

  // LineHandler: called by the reader, in stream order.
  onLine(line: Buffer): void {
    this.#counters.linesIn++;
    this.#submit({ kind: 'command', id: this.id, command: decodeLine(line) });
  }

  onLineTooLong(): void {
    this.#submit({ kind: 'framing-error', id: this.id, error: lineTooLong(this.#limits.maxLineBytes) });
  }

  onDiscardedLineEnd(): void {
    this.#submit({ kind: 'command', id: this.id, command: { type: 'empty' } });
  }

  /** Every line goes through flood control, when it is on, so the order of lines is kept. */
  #submit(event: LineEvent): void {
    if (this.#flood === null) this.#hooks.onEvent(event);
    else this.#flood.line(event);
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
      this.#counters.bytesOut += pending[0]!.length;
      this.#socket.write(pending[0]!);
      return;
    }
    this.#socket.cork();
    for (const chunk of pending) {
      this.#counters.bytesOut += chunk.length;
      this.#socket.write(chunk);
    }
    this.#socket.uncork();
  }

  /** Flushes, then ends the socket; cuts it if the client does not take the last bytes in time. */
  end(): void {
    this.isAdmitted = false;
    this.isClosing = true;
    this.#flood?.stop();
    this.#isReported = true; // the primary decided this, or already knows
    this.flush();
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.#socket.once('close', () => clearTimeout(timer));
  }

  /** Sends a last line, tells the primary why, and closes: the worker's own decision. */
  kick(reason: CloseReason, lastLine: Buffer): void {
    this.queue(lastLine);
    this.#report(reason);
    this.end();
  }

  /** Cuts the connection at once, dropping unsent output, and tells the primary why. */
  destroy(reason: CloseReason): void {
    this.isAdmitted = false;
    this.isClosing = true;
    this.#flood?.stop();
    this.#report(reason);
    this.#socket.destroy();
  }

  #report(reason: CloseReason): void {
    if (this.#isReported) return;
    this.#isReported = true;
    this.#hooks.onEvent({ kind: 'disconnect', id: this.id, reason });
  }
}
