// One client socket inside a worker: frames its bytes into commands and coalesces its output.
// Runs in the worker thread that accepted the socket; never touches presence.

import type { Socket } from 'node:net';
import { decodeLine, encodeError, flooding, lineTooLong, LineReader, rateLimited, type LineHandler } from '../protocol/index.ts';
import { encodeText } from './bytes.ts';
import { CloseReason } from '../room/close-reason.ts';
import { FloodControl, floodLimits, MAX_BACKLOG_LINES } from './flood-control.ts';
import type { ClientEvent } from './messages.ts';
import type { TrafficCounters } from './metrics.ts';
import type { OutputTurn } from './output-turn.ts';

export interface ConnectionLimits {
  readonly maxLineBytes: number;
  /** Lines per second (0: no flood control, of lines or bytes) and the burst allowed before the rate applies. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  /**
   * Bytes queued and not yet taken by the kernel past which the client is cut as a slow consumer
   * (--max-pending). Absent: no cap, as for a Connection made outside a worker.
   */
  readonly maxPendingBytes?: number;
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
  /**
   * Called when the connection first has output waiting to be flushed, and again if that output
   * becomes urgent: a line for this client alone, or its end, which should not wait for the
   * paced flush of the broadcasts (server/worker.ts `flushUrgent`).
   */
  onOutput(connection: Connection, isUrgent: boolean): void;
  /** Called once, when the socket is gone. */
  onClosed(connection: Connection): void;
  /** Called when handling this connection's input threw: a bug, logged, and the client cut. */
  onFailure(connection: Connection, error: unknown): void;
  /** Called once, just before the connection is cut for holding more than maxPendingBytes unsent. */
  onSlowConsumer?(connection: Connection, unsentBytes: number): void;
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
  /** Output for this client alone is queued: it is in its worker's urgent list too. */
  #isUrgent = false;
  readonly #turn: OutputTurn;
  /**
   * What is queued and not yet written, as positions in the worker's OutputTurn: the open range
   * [#start, #end), and before it the closed ranges in #ranges (start, end pairs). A client that
   * gets every broadcast has one range and no array: nothing is allocated per delivery.
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
  /** socket.writableLength after the last write: since then the kernel has only taken bytes. */
  #unsentAtWrite = 0;
  readonly #maxPendingBytes: number;
  /** end() was called: the socket ends once what is queued is written (flush). */
  #isEndRequested = false;
  /** socket.end() has been called (#endSocket), which must happen once. */
  #isSocketEnded = false;
  /** Whether the primary has been told this connection is gone. */
  #isReported = false;

  constructor(
    id: number,
    addr: string,
    socket: Socket,
    limits: ConnectionLimits,
    hooks: ConnectionHooks,
    turn: OutputTurn,
    counters: TrafficCounters = UNREAD_COUNTERS,
  ) {
    this.#turn = turn;
    this.id = id;
    this.addr = addr;
    this.#socket = socket;
    this.#hooks = hooks;
    this.#limits = limits;
    this.#counters = counters;
    this.#maxPendingBytes = limits.maxPendingBytes ?? Infinity;
    this.#reader = new LineReader(limits.maxLineBytes, this);
    const flood = floodLimits(limits.rateLimit, limits.rateBurst, limits.maxLineBytes);
    this.#flood = limits.rateLimit === 0 ? null : new FloodControl<LineEvent>(flood, {
      pass: (event) => hooks.onEvent(event),
      pause: () => socket.pause(),
      resume: () => {
        if (!this.isClosing) socket.resume();
      },
      warn: () => this.queue(encodeText(encodeError(rateLimited(limits.rateLimit, limits.rateBurst)))),
      drained: () => {
        if (this.#isEndingAfterFlood) this.#report(CloseReason.ClientClosed);
      },
      kick: () => this.kick(CloseReason.Flooding, encodeText(encodeError(flooding(limits.rateLimit, MAX_BACKLOG_LINES)))),
    });
    socket.setNoDelay(true); // we coalesce ourselves, once per turn; Nagle would only add delay
    socket.on('data', (chunk: Buffer) => {
      this.#counters.bytesIn += chunk.length;
      if (this.isClosing) return;
      this.#flood?.bytes(chunk.length);
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

  /** Bytes queued for this client and not yet taken by the kernel: what --max-pending caps. */
  get unsentBytes(): number {
    return this.#queuedBytes + this.#socket.writableLength;
  }

  /** Queues a line for this client alone (copied into the turn's one-client stream at flush). */
  queue(bytes: Uint8Array): void {
    if (!this.#canQueue() || !this.#admit(bytes.byteLength)) return;
    const start = this.#turn.privateEnd;
    this.#turn.appendPrivate(bytes);
    this.#queueRange(start, this.#turn.privateEnd);
    this.#queuedBytes += bytes.byteLength;
    this.#markUrgent();
  }

  #markUrgent(): void {
    if (this.#isUrgent) return;
    this.#isUrgent = true;
    this.#hooks.onOutput(this, true);
  }

  /** Queues the broadcast at [start, end) of the turn's shared stream (OutputTurn appendShared). */
  queueShared(start: number, end: number): void {
    if (!this.#canQueue() || !this.#admit(end - start)) return;
    this.#queueRange(start, end);
    this.#queuedBytes += end - start;
  }

  /**
   * The slow-consumer rule (PROTOCOL.md §6.2), checked before `bytes` more are queued. Returns
   * whether they may be; if not, the client has been cut.
   * 1. Within maxPendingBytes, counting what is queued and what the socket held at the last
   *    write, they may: one addition and one compare per delivery.
   * 2. Past it, what is queued is written now, ahead of the paced or storm-deferred flush (as
   *    nats-server flushes at a size threshold), so that only what the kernel refuses counts: a
   *    client that reads is never cut by a flush that carries much.
   * 3. If the kernel then refuses bytes and these would take what the socket holds past the cap,
   *    the client is cut without them, so it never holds more than maxPendingBytes.
   * A connection the server is closing is exempt: the close grace bounds it.
   */
  #admit(bytes: number): boolean {
    // fast path: within the cap even if the kernel has taken nothing since the last write.
    if (this.#queuedBytes + this.#unsentAtWrite + bytes <= this.#maxPendingBytes || this.isClosing) return true;
    if (this.#queuedBytes > 0) this.flush();
    else this.#unsentAtWrite = this.#socket.writableLength;
    if (this.#unsentAtWrite === 0 || this.#unsentAtWrite + bytes <= this.#maxPendingBytes) return true;
    this.#hooks.onSlowConsumer?.(this, this.#unsentAtWrite);
    this.destroy(CloseReason.SlowConsumer);
    return false;
  }

  #canQueue(): boolean {
    // After end() nothing may be written: Node would destroy the socket and drop its last line.
    return !this.#isEndRequested && !this.#socket.destroyed && !this.#socket.writableEnded;
  }

  #queueRange(start: number, end: number): void {
    if (!this.hasOutput) {
      this.hasOutput = true;
      this.#start = start;
      this.#end = end;
      this.#hooks.onOutput(this, false);
      return;
    }
    // fast path: the next broadcast of the turn follows the last one this client got.
    if (start === this.#end) {
      this.#end = end;
      return;
    }
    (this.#ranges ??= []).push(this.#start, this.#end);
    this.#start = start;
    this.#end = end;
  }

  /**
   * Writes what is queued, in order, with one write: when the turn is sealed (a full flush), a
   * slice of its shared buffer in the common case, else the pieces joined. Then ends the socket
   * if end() was called. Calling it again without new output does nothing.
   */
  flush(): void {
    this.#isUrgent = false;
    if (this.hasOutput) {
      this.hasOutput = false;
      this.#queuedBytes = 0;
      const ranges = this.#ranges;
      this.#ranges = null;
      if (!this.#socket.destroyed && (ranges !== null || this.#end > this.#start)) {
        let bytes: Buffer;
        if (ranges === null) {
          bytes = this.#turn.bytes(this.#start, this.#end);
        } else {
          // Rare: one-client lines between broadcasts, or a broadcast that skipped this client.
          ranges.push(this.#start, this.#end);
          const pieces: Buffer[] = [];
          for (let i = 0; i < ranges.length; i += 2) pieces.push(this.#turn.bytes(ranges[i]!, ranges[i + 1]!));
          bytes = Buffer.concat(pieces);
        }
        this.#counters.bytesOut += bytes.length;
        this.#socket.write(bytes);
        this.#unsentAtWrite = this.#socket.writableLength;
      }
    }
    if (this.#isEndRequested && !this.#isSocketEnded) this.#endSocket();
  }

  /**
   * Stops receiving broadcasts and ends the socket once what is queued is written (at this
   * turn's flush); cuts it if the client does not take the last bytes in time.
   */
  end(): void {
    this.isAdmitted = false;
    this.isClosing = true;
    this.#flood?.stop();
    this.#isReported = true; // the primary decided this, or already knows
    if (this.#isEndRequested) return;
    this.#isEndRequested = true;
    if (!this.hasOutput) {
      // Nothing queued: an empty range, so the socket ends at the next flush.
      this.hasOutput = true;
      this.#start = this.#end = this.#turn.sharedEnd;
    }
    this.#markUrgent();
  }

  /**
   * Once per connection. Not `socket.writableEnded`: on a socket that has failed (a reset),
   * `end()` leaves it false, and every later flush would add another timer and 'close' listener.
   */
  #endSocket(): void {
    this.#isSocketEnded = true;
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.#socket.once('close', () => clearTimeout(timer));
  }

  /** Sends a last line, tells the primary why, and closes: the worker's own decision. */
  kick(reason: CloseReason, lastLine: Uint8Array): void {
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
