// One client inside a worker: frames the bytes of its transport into events, meters them (flood
// control), queues its output (server/output-queue.ts) and runs its close. Runs in the worker
// thread that accepted the client; never touches presence. Speaks to its stream only through
// Transport (server/transport.ts), so TCP is one implementation of it and not a part of this file.

import { decodeLine, encodeError, flooding, lineTooLong, LineReader, rateLimited, type LineHandler } from '../protocol/index.ts';
import { encodeText } from './bytes.ts';
import { CloseReason } from '../room/close-reason.ts';
import type { FanOutBatch, RangeSource } from './fan-out-batch.ts';
import type { GatherCursor } from './gathered-broadcasts.ts';
import { FloodControl, floodLimits, MAX_BACKLOG_LINES } from './flood-control.ts';
import type { ClientEvent } from './messages.ts';
import type { TrafficCounters } from './metrics.ts';
import { Offer, OutputQueue } from './output-queue.ts';
import type { Transport, TransportKind } from './transport.ts';

/** What a connection is made with: the limits of WorkerSettings that apply to one client. */
export interface ConnectionSettings {
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
const UNREAD_COUNTERS: TrafficCounters = { linesIn: 0, deliveries: 0, bytesIn: 0, bytesOut: 0 };

export interface ConnectionHooks {
  /** Called with every event of this connection, in order. */
  onEvent(event: ClientEvent): void;
  /**
   * Called when the connection first has output waiting to be flushed, and again if that output
   * becomes urgent: a line for this client alone, or its end, which should not wait for the
   * paced flush of the broadcasts (server/flush-policy.ts).
   */
  onOutput(connection: Connection, isUrgent: boolean): void;
  /** Called once, when the transport is gone. */
  onClosed(connection: Connection): void;
  /** Called when handling this connection's input threw: a bug, logged, and the client cut. */
  onFailure(connection: Connection, error: unknown): void;
  /** Called once, just before the connection is cut for holding more than maxPendingBytes unsent. */
  onSlowConsumer?(connection: Connection, unsentBytes: number): void;
}

export class Connection implements LineHandler {
  readonly id: number;
  readonly addr: string;
  readonly #transport: Transport;
  readonly #reader: LineReader;
  readonly #hooks: ConnectionHooks;
  readonly #settings: ConnectionSettings;
  readonly #flood: FloodControl<LineEvent> | null;
  /** Shared by every connection of the worker; only ever incremented here. */
  readonly #counters: TrafficCounters;
  /** The worker's batch, shared by all its connections: one-client lines go into it too. */
  readonly #batch: FanOutBatch;
  readonly #output: OutputQueue;
  /** The client half-closed while lines waited for flood control: report it once they are out. */
  #isEndingAfterFlood = false;
  /** Online: receives broadcasts. From the primary's 'admit' (`admit`) until closing starts. */
  #isAdmitted = false;
  /** It asked for a token: it gets the positioned form of broadcasts that have one (PROTOCOL.md §10.3). */
  isPositioned = false;
  /** The server is closing it: nothing more is read or queued. A half-closed client is not closing. */
  #isClosing = false;
  /** Output for this client alone is queued: it is in its worker's urgent list. */
  #isUrgent = false;
  /** end() was called: the transport ends once what is queued is written (flush). */
  #isEndRequested = false;
  /** transport.end() has been called (#endTransport), which must happen once. */
  #isTransportEnded = false;
  /** Destroys a transport that was ended and did not close within CLOSE_GRACE_MS. */
  #graceTimer: NodeJS.Timeout | undefined;
  /** Whether the primary has been told this connection is gone. */
  #isReported = false;
  /** Which of the batch's gathered broadcasts it has, or was admitted after (server/gathered-broadcasts.ts). */
  readonly #gatherCursor: GatherCursor = { epoch: -1, index: 0 };

  constructor(
    id: number,
    addr: string,
    transport: Transport,
    settings: ConnectionSettings,
    hooks: ConnectionHooks,
    batch: FanOutBatch,
    counters: TrafficCounters = UNREAD_COUNTERS,
  ) {
    this.id = id;
    this.addr = addr;
    this.#transport = transport;
    this.#hooks = hooks;
    this.#settings = settings;
    this.#counters = counters;
    this.#batch = batch;
    this.#output = new OutputQueue(transport, settings.maxPendingBytes ?? Infinity, counters);
    this.#reader = new LineReader(settings.maxLineBytes, this);
    const { rateLimit, rateBurst } = settings;
    this.#flood = rateLimit === 0 ? null : new FloodControl<LineEvent>(floodLimits(rateLimit, rateBurst, settings.maxLineBytes), {
      pass: (event) => hooks.onEvent(event),
      pause: () => transport.pause(),
      resume: () => {
        if (!this.#isClosing) transport.resume();
      },
      warn: () => this.queue(encodeText(encodeError(rateLimited(rateLimit, rateBurst)))),
      drained: () => {
        if (this.#isEndingAfterFlood) this.#report(CloseReason.ClientClosed);
      },
      kick: () => this.kick(CloseReason.Flooding, encodeText(encodeError(flooding(rateLimit, MAX_BACKLOG_LINES)))),
    });
    transport.start({
      onData: (chunk) => {
        this.#counters.bytesIn += chunk.length;
        if (this.#isClosing) return;
        this.#flood?.bytes(chunk.length);
        try {
          this.#reader.push(chunk);
        } catch (error) {
          // A bug must cost this client its connection, never its worker and everyone on it.
          hooks.onFailure(this, error);
        }
      },
      // The client half-closed (EOF): carry out what it sent, then close once the replies are out.
      onEnd: () => {
        if ((this.#flood?.waiting ?? 0) > 0) this.#isEndingAfterFlood = true;
        else this.#report(CloseReason.ClientClosed);
      },
      onError: (reason) => this.#report(reason),
      onClose: () => {
        clearTimeout(this.#graceTimer);
        // Lines still over the rate when the client vanished are dropped: nobody was to see them yet.
        this.#flood?.stop();
        this.#report(CloseReason.ClientClosed);
        hooks.onClosed(this);
      },
    });
  }

  get transportKind(): TransportKind {
    return this.#transport.kind;
  }

  /** Online: broadcasts are queued for it. */
  get isAdmitted(): boolean {
    return this.#isAdmitted;
  }

  /** The server is ending or has cut it: nothing more is read, and it is never admitted. */
  get isClosing(): boolean {
    return this.#isClosing;
  }

  /** Bytes queued for this client and not yet taken by the kernel: what --max-pending caps. */
  get unsentBytes(): number {
    return this.#output.unsentBytes;
  }

  /**
   * The primary's 'admit': from now on the worker queues broadcasts for it. A connection already
   * closing stays out (docs/ARCHITECTURE.md §3.4); a client that only half-closed is admitted.
   */
  admit(): void {
    if (this.#isClosing || this.#isAdmitted) return;
    this.#isAdmitted = true;
    // Broadcasts gathered before its admit were decided before it was online (docs/ARCHITECTURE.md §3.4).
    this.#batch.gathered.cursorNow(this.#gatherCursor);
  }

  /**
   * Queues the broadcasts gathered since it last caught up: before anything else is queued for
   * it or it ends, so that its bytes keep the global order, and when the worker settles.
   */
  catchUp(): void {
    const gathered = this.#batch.gathered;
    // fast path: nothing gathered, as outside a 'deliver' message.
    if (gathered.length === 0 || !this.#isAdmitted) return;
    this.#counters.deliveries += gathered.catchUp(this.#gatherCursor, this.#fits, this.#take);
  }

  readonly #fits = (bytes: number): boolean => this.#output.fits(bytes);
  readonly #take = (start: number, end: number): boolean => this.#offer(start, end);

  // LineHandler: called by the reader, in stream order.
  onLine(line: Buffer): void {
    this.#counters.linesIn++;
    this.#submit({ kind: 'command', id: this.id, command: decodeLine(line) });
  }

  onLineTooLong(): void {
    this.#submit({ kind: 'framing-error', id: this.id, error: lineTooLong(this.#settings.maxLineBytes) });
  }

  onDiscardedLineEnd(): void {
    this.#submit({ kind: 'command', id: this.id, command: { type: 'empty' } });
  }

  /** Every line goes through flood control, when it is on, so the order of lines is kept. */
  #submit(event: LineEvent): void {
    if (this.#flood === null) this.#hooks.onEvent(event);
    else this.#flood.line(event);
  }

  /** Queues a line for this client alone (copied into the batch's one-client stream at the full flush). */
  queue(bytes: Uint8Array): void {
    this.catchUp();
    const start = this.#batch.privateEnd;
    // The range is offered before its bytes are appended: a line the queue refuses is never copied.
    if (!this.#offer(start, start + bytes.byteLength)) return;
    this.#batch.appendPrivate(bytes);
    this.#markUrgent();
  }

  #markUrgent(): void {
    if (this.#isUrgent) return;
    this.#isUrgent = true;
    this.#hooks.onOutput(this, true);
  }

  /** Queues the broadcast at [start, end) of the batch's shared stream (FanOutBatch appendShared). */
  queueShared(start: number, end: number): void {
    this.catchUp();
    this.#offer(start, end);
  }

  /** Offers a range to the output queue; whether it was queued. A slow consumer is cut here. */
  #offer(start: number, end: number): boolean {
    const offer = this.#output.offer(start, end, this.#batch);
    if (offer === Offer.Queued) return true;
    if (offer === Offer.QueuedFirst) {
      this.#hooks.onOutput(this, false);
      return true;
    }
    if (offer === Offer.SlowConsumer) {
      this.#hooks.onSlowConsumer?.(this, this.#output.unsentAtWrite);
      this.destroy(CloseReason.SlowConsumer);
    }
    return false;
  }

  /**
   * Writes what is queued, in order, with one write, reading it from `source`: the open batch
   * (a copy) for a client written ahead of the full flush, the sealed batch (a slice) at the full
   * flush. Then ends the transport if end() was called. Calling it again without new output does
   * nothing.
   */
  flush(source: RangeSource): void {
    this.#isUrgent = false;
    this.#output.write(source);
    if (this.#isEndRequested && !this.#isTransportEnded) this.#endTransport();
  }

  /**
   * Stops receiving broadcasts and ends the transport once what is queued is written (at the
   * next flush, which it asks for as urgent); cuts it if the client does not take the last bytes
   * in time.
   */
  end(): void {
    this.catchUp();
    this.#isAdmitted = false;
    this.#isClosing = true;
    this.#flood?.stop();
    this.#isReported = true; // the primary decided this, or already knows
    if (this.#isEndRequested) return;
    this.#isEndRequested = true;
    this.#output.close();
    this.#markUrgent();
  }

  /**
   * Once per connection, by a flag of its own: a socket that has failed (a reset) does not count
   * as ended after `end()`, and every later flush would add another timer.
   */
  #endTransport(): void {
    this.#isTransportEnded = true;
    this.#transport.end();
    this.#graceTimer = setTimeout(() => this.#transport.destroy(), CLOSE_GRACE_MS);
    this.#graceTimer.unref();
  }

  /** Sends a last line, tells the primary why, and closes: the worker's own decision. */
  kick(reason: CloseReason, lastLine: Uint8Array): void {
    this.queue(lastLine);
    this.#report(reason);
    this.end();
  }

  /** Cuts the connection at once, dropping unsent output, and tells the primary why. */
  destroy(reason: CloseReason): void {
    this.#isAdmitted = false;
    this.#isClosing = true;
    this.#flood?.stop();
    this.#report(reason);
    this.#transport.destroy();
  }

  #report(reason: CloseReason): void {
    if (this.#isReported) return;
    this.#isReported = true;
    this.#hooks.onEvent({ kind: 'disconnect', id: this.id, reason });
  }
}
