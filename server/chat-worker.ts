// One worker thread's chat side: owns its connections, turns their lines into events for the
// primary (one message per turn of the event loop), and carries out the primary's deliveries
// into the shared fan-out batch, written when the flush policy says. Runs in a worker thread
// (server/worker.ts wires it to the thread's port and its TCP listener); never touches presence.

import { formatAddress } from '../protocol/index.ts';
import type { ResumeRequest } from '../room/client-event.ts';
import { CloseReason } from '../room/close-reason.ts';
import { NOBODY } from '../room/delivery.ts';
import type { Log } from '../room/log.ts';
import { Connection, type ConnectionHooks } from './connection.ts';
import { FanOutBatch } from './fan-out-batch.ts';
import { FlushPolicy } from './flush-policy.ts';
import { MAX_WORKERS, type ClientEvent, type DeliveryOp, type WorkerMessage, type WorkerSettings } from './messages.ts';
import { Keepalive } from './keepalive.ts';
import { createWorkerCounters, perTransport, WorkerMetrics } from './metrics.ts';
import type { Transport, TransportKind } from './transport.ts';
import { TextFrames, type WebSocketShared } from './websocket-transport.ts';
import { SYSTEM_CLOCK, type WorkerClock } from './worker-clock.ts';

/** At most one origin-refused log line this often per worker; the metric counts every refusal. */
const ORIGIN_LOG_INTERVAL_MS = 1000;

export class ChatWorker {
  readonly #settings: WorkerSettings;
  readonly #post: (message: WorkerMessage) => void;
  readonly #log: Log;
  readonly #clock: WorkerClock;
  readonly #connections = new Map<number, Connection>();
  /** Every byte queued since the last full flush; each connection holds ranges of it. */
  readonly #batch = new FanOutBatch();
  readonly #flushPolicy: FlushPolicy;
  /** Connections with output queued since the last full flush. */
  #dirty: Connection[] = [];
  /** Connections with output for them alone (a reply, a greeting, their end): written after this turn. */
  #urgent: Connection[] = [];
  /** Connections that asked for positions (PROTOCOL.md §10.3): while there are any, broadcasts fill the positioned stream too. */
  #positionedConnections = 0;
  /** Events of this turn, posted to the primary in one message. */
  #events: ClientEvent[] = [];
  #isEventFlushScheduled = false;
  /** Time spent since the last full flush carrying out deliveries, for the fan-out histogram (seconds). */
  #deliverSeconds = 0;
  /** Ids of a replacement worker start past any id its predecessor could have given. */
  #serial: number;
  #isShuttingDown = false;
  /** Plain numbers on the hot path; copied into the registry only when the primary asks (server/metrics.ts). */
  readonly #counters = createWorkerCounters();
  readonly #metrics: WorkerMetrics;
  readonly #hooks: ConnectionHooks;
  /** Origin refusals are logged at most once an interval (refuseOrigin). */
  #originLogQuietUntil = -Infinity;
  #originRefusalsLogged = 0;
  /** What every WebSocket client of this worker shares: its frames of a flush, its keepalive sweep. */
  readonly webSockets: WebSocketShared;

  constructor(settings: WorkerSettings, post: (message: WorkerMessage) => void, log: Log, clock: WorkerClock = SYSTEM_CLOCK) {
    this.#settings = settings;
    this.#post = post;
    this.#log = log;
    this.#clock = clock;
    this.#serial = settings.firstSerial;
    this.#metrics = new WorkerMetrics(settings.index, this.#counters, () => this.#countAdmitted());
    this.webSockets = { frames: new TextFrames(), keepalive: new Keepalive(clock, settings.webKeepaliveSeconds * 1000), clock };
    this.#flushPolicy = new FlushPolicy(clock, { writeUrgent: () => this.#writeUrgent(), writeAll: () => this.#writeAll() });
    this.#hooks = {
      onEvent: (event) => this.#addEvent(event),
      onOutput: (connection, isUrgent) => {
        if (isUrgent) {
          this.#urgent.push(connection);
          this.#flushPolicy.urgentQueued();
        } else {
          this.#dirty.push(connection);
          this.#flushPolicy.queued();
        }
      },
      onClosed: (connection) => {
        this.#connections.delete(connection.id);
        if (connection.isPositioned) this.#positionedConnections--;
        if (this.#isShuttingDown && this.#connections.size === 0) this.#post({ type: 'drained' });
      },
      onFailure: (connection, error) => {
        this.#log.error({ event: 'kick', addr: connection.addr, reason: CloseReason.InternalError, err: error }, 'handling a client failed');
        connection.destroy(CloseReason.InternalError);
      },
      onSlowConsumer: (connection, unsentBytes) => {
        // Its last line would wait behind a megabyte it is not reading: it is cut without one (PROTOCOL.md §6.2).
        this.#log.warn({ event: 'kick', addr: connection.addr, unsent: unsentBytes }, 'slow consumer');
        this.#counters.slowConsumers++;
      },
    };
  }

  /** A new client on any transport; refused while shutting down. `resume`: PROTOCOL.md §10.5. */
  accept(transport: Transport, resume?: ResumeRequest): void {
    if (this.#isShuttingDown) {
      transport.destroy();
      return;
    }
    this.#flushPolicy.accepted();
    this.#counters.accepted[transport.kind]++;
    const id = ++this.#serial * MAX_WORKERS + this.#settings.index;
    const addr = formatAddress(transport.remoteAddress, transport.remotePort);
    const connection = new Connection(id, addr, transport, this.#settings, this.#hooks, this.#batch, this.#counters);
    this.#connections.set(id, connection);
    this.#addEvent(
      resume === undefined ? { kind: 'connect', id, addr, ip: transport.remoteAddress } : { kind: 'connect', id, addr, ip: transport.remoteAddress, resume },
    );
  }

  /**
   * Carries out one 'deliver' message, op by op in the order given (docs/ARCHITECTURE.md §2 rule
   * 7). Broadcasts to everyone are gathered, and every connection takes them at once at the end
   * (`#settle`), or before a line of its own or its end: one loop over the connections per
   * message, not per broadcast (server/gathered-broadcasts.ts).
   */
  deliver(ops: readonly DeliveryOp[]): void {
    const started = this.#clock.now();
    const connections = this.#connections;
    for (const op of ops) {
      switch (op.kind) {
        case 'admit':
          connections.get(op.id)?.admit();
          break;
        case 'position': {
          const connection = connections.get(op.id);
          if (connection === undefined || connection.isPositioned) break;
          // What it is owed so far, in the plain form: the positioned stream does not hold it.
          this.#settle();
          connection.isPositioned = true;
          this.#positionedConnections++;
          break;
        }
        case 'broadcast':
          // Encoded once by the primary; every recipient gets the same range of the batch.
          if (op.except === NOBODY && this.#positionedConnections === 0) this.#batch.gatherShared(op.bytes, op.messages);
          else this.#broadcastNow(op);
          break;
        case 'send': {
          const connection = connections.get(op.id);
          if (connection === undefined) break;
          connection.queue(op.bytes);
          this.#counters.deliveries++;
          break;
        }
        case 'close': {
          const connection = connections.get(op.id);
          if (connection === undefined) break;
          if (op.bytes !== null) {
            connection.queue(op.bytes);
            this.#counters.deliveries++;
          }
          connection.end();
          break;
        }
      }
    }
    this.#settle();
    this.#deliverSeconds += (this.#clock.now() - started) / 1000;
  }

  /** Every connection takes the broadcasts gathered: in this turn, as if each had been queued as it came. */
  #settle(): void {
    if (this.#batch.gathered.length === 0) return;
    for (const connection of this.#connections.values()) connection.catchUp();
    this.#batch.gathered.clear();
  }

  /**
   * A broadcast that is not gathered, queued to each recipient now, after what was gathered: one
   * that skips a client, or any while someone on the worker asked for positions. Those read
   * every broadcast from the positioned stream, the form with positions where it has one, so
   * that their ranges stay adjacent as the others' do.
   */
  #broadcastNow(op: Extract<DeliveryOp, { kind: 'broadcast' }>): void {
    this.#settle();
    const start = this.#batch.sharedEnd;
    this.#batch.appendShared(op.bytes);
    const end = this.#batch.sharedEnd;
    let recipients = 0;
    if (this.#positionedConnections === 0) {
      for (const connection of this.#connections.values()) {
        if (connection.isAdmitted && connection.id !== op.except) {
          connection.queueShared(start, end);
          recipients++;
        }
      }
    } else {
      const positionedStart = this.#batch.positionedEnd;
      this.#batch.appendPositioned(op.positioned ?? op.bytes);
      const positionedEnd = this.#batch.positionedEnd;
      for (const connection of this.#connections.values()) {
        if (!connection.isAdmitted || connection.id === op.except) continue;
        if (connection.isPositioned) connection.queueShared(positionedStart, positionedEnd);
        else connection.queueShared(start, end);
        recipients++;
      }
    }
    this.#counters.deliveries += recipients * op.messages;
  }

  /**
   * A WebSocket handshake the web listener refused for its Origin (server/web-listener.ts):
   * counted, and logged at most once a second with the number since the last line, since any
   * script can send any Origin, as often as it likes.
   */
  refuseOrigin(origin: string): void {
    this.#counters.originRefusals++;
    const now = this.#clock.now();
    if (now < this.#originLogQuietUntil) return;
    this.#originLogQuietUntil = now + ORIGIN_LOG_INTERVAL_MS;
    const since = this.#counters.originRefusals - this.#originRefusalsLogged;
    this.#originRefusalsLogged = this.#counters.originRefusals;
    this.#log.info({ event: 'origin-refused', origin, refused: since }, `refused a WebSocket from ${origin || 'an origin'} that --web-origin does not list`);
  }

  /** A TLS handshake that failed, on either TLS listener. */
  countTlsHandshakeFailure(): void {
    this.#counters.tlsHandshakeFailures++;
  }

  /** Answers the primary's scrape; a failure leaves this worker out of it, as a late answer would. */
  answerMetrics(requestId: number): void {
    this.#metrics.collect().then(
      (json) => this.#post({ type: 'metrics', requestId, metrics: json }),
      (error: unknown) => this.#log.error({ err: error }, 'could not collect metrics; left out of this scrape'),
    );
  }

  /**
   * Refuses new clients, sends `notice` to every one and ends them all; 'drained' is posted once
   * the last is gone (at once if there is none). The caller stops the listener.
   */
  shutdown(notice: Uint8Array): void {
    this.#isShuttingDown = true;
    this.#metrics.stop();
    if (this.#connections.size === 0) {
      this.#post({ type: 'drained' });
      return;
    }
    const start = this.#batch.sharedEnd;
    this.#batch.appendShared(notice);
    for (const connection of this.#connections.values()) {
      connection.queueShared(start, this.#batch.sharedEnd);
      connection.end();
    }
    this.#flushPolicy.flushNow();
  }

  /**
   * The 'test-crash' hook (CHATD_TEST_HOOKS=1 only): first what a buggy worker might post, through
   * `postUnchecked` since no WorkerMessage allows it: a message of no known type, an events
   * message without events, and an event the room cannot handle. The primary must log and go on.
   */
  crashOnPurpose(postUnchecked: (message: unknown) => void): void {
    const garbage: unknown[] = [
      { type: 'test-garbage' },
      { type: 'events' },
      { type: 'events', events: [{ kind: 'command', id: this.#connections.keys().next().value ?? 0, command: null }] },
    ];
    for (const message of garbage) postUnchecked(message);
    // Then a throw outside any client's try/catch, so it takes the whole thread down.
    this.#clock.setImmediate(() => {
      throw new Error(`test hook: worker ${this.#settings.index} crashes on purpose`);
    });
  }

  #addEvent(event: ClientEvent): void {
    this.#events.push(event);
    if (this.#isEventFlushScheduled) return;
    this.#isEventFlushScheduled = true;
    // After the poll phase: every socket read in this turn goes out in one message.
    this.#clock.setImmediate(this.#postEvents);
  }

  readonly #postEvents = (): void => {
    this.#isEventFlushScheduled = false;
    const batch = this.#events;
    this.#events = [];
    if (batch.length > 0) this.#post({ type: 'events', events: batch });
  };

  /** The clients with output of their own, ahead of the paced full flush: copies from the open batch. */
  #writeUrgent(): void {
    const batch = this.#urgent;
    this.#urgent = [];
    for (const connection of batch) connection.flush(this.#batch);
  }

  /**
   * The full flush: one write per socket, each a slice of the sealed batch. The slow-consumer
   * rule is not checked here: a connection counts its bytes as they are queued and is cut then
   * (OutputQueue makeRoom, onSlowConsumer).
   */
  #writeAll(): void {
    const started = this.#clock.now();
    this.#settle(); // nothing is gathered past a 'deliver' message unless carrying one out threw

    const batch = this.#dirty;
    this.#dirty = [];
    const sealed = this.#batch.seal();
    const urgent = this.#urgent;
    this.#urgent = [];
    for (const connection of urgent) connection.flush(sealed);
    for (const connection of batch) connection.flush(sealed);
    if (this.#deliverSeconds > 0) {
      // Once per full flush with deliveries, never per message: the queueing and the writes together.
      this.#metrics.observeFanOut(this.#deliverSeconds + (this.#clock.now() - started) / 1000);
      this.#deliverSeconds = 0;
    }
  }

  /** Clients online on this worker by transport, for the metrics: counted at scrape time, not kept up to date. */
  #countAdmitted(): Record<TransportKind, number> {
    const admitted = perTransport();
    for (const connection of this.#connections.values()) if (connection.isAdmitted) admitted[connection.transportKind]++;
    return admitted;
  }
}
