// Worker thread entry: listens on the shared port (reusePort), owns its client sockets, turns
// their bytes into events for the primary, and carries out the primary's deliveries.
// Runs in worker threads only; never touches presence (docs/ARCHITECTURE.md §2).

import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { formatAddress } from '../protocol/index.ts';
import { CloseReason } from '../room/close-reason.ts';
import { Connection } from './connection.ts';
import { FanOutBatch } from './fan-out-batch.ts';
import { FlushPolicy } from './flush-policy.ts';
import { createLogger } from './log.ts';
import { MAX_WORKERS, type ClientEvent, type DeliveryOp, type PrimaryMessage, type WorkerMessage, type WorkerSettings } from './messages.ts';
import { createWorkerCounters, WorkerMetrics } from './metrics.ts';
import { TcpTransport } from './tcp-transport.ts';
import { SYSTEM_CLOCK } from './worker-clock.ts';

if (parentPort === null) throw new Error('server/worker.ts runs as a worker thread; start chatd instead');
const port = parentPort;
const settings = workerData as WorkerSettings;
const log = createLogger(settings.logLevel, { thread: `worker-${settings.index}` });

const connections = new Map<number, Connection>();
/** Connections with output queued since the last full flush. */
let dirty: Connection[] = [];
/** Connections with output for them alone (a reply, a greeting, their end): written after this turn. */
let urgent: Connection[] = [];
/** Every byte queued since the last full flush (a fan-out batch); written once per socket (flushOutput). */
const batch = new FanOutBatch();
/** Time spent this turn carrying out deliveries, for the fan-out histogram (seconds). */
let deliverSeconds = 0;
/** Events of this turn, posted to the primary in one message. */
let events: ClientEvent[] = [];
let isEventFlushScheduled = false;
/** When to write: urgent output after this turn, the rest paced and storm-deferred (server/flush-policy.ts). */
const flushPolicy = new FlushPolicy(SYSTEM_CLOCK, { writeUrgent: flushUrgent, writeAll: flushOutput });
/** Ids of a replacement worker start past any id its predecessor could have given. */
let serial = settings.firstSerial;
let isShuttingDown = false;
/** Plain numbers on the hot path; copied into the registry only when the primary asks (server/metrics.ts). */
const counters = createWorkerCounters();
const metrics = new WorkerMetrics(settings.index, counters, countAdmitted);

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

const hooks = {
  onEvent(event: ClientEvent): void {
    events.push(event);
    if (!isEventFlushScheduled) {
      isEventFlushScheduled = true;
      // After the poll phase: every socket read in this turn goes out in one message.
      setImmediate(flushEvents);
    }
  },
  onOutput(connection: Connection, isUrgent: boolean): void {
    if (isUrgent) {
      urgent.push(connection);
      flushPolicy.urgentQueued();
    } else {
      dirty.push(connection);
      flushPolicy.queued();
    }
  },
  onClosed(connection: Connection): void {
    connections.delete(connection.id);
    if (isShuttingDown && connections.size === 0) post({ type: 'drained' });
  },
  onFailure(connection: Connection, error: unknown): void {
    log.error({ event: 'kick', addr: connection.addr, reason: CloseReason.InternalError, err: error }, 'handling a client failed');
    connection.destroy(CloseReason.InternalError);
  },
  onSlowConsumer(connection: Connection, unsentBytes: number): void {
    // Its last line would wait behind a megabyte it is not reading: it is cut without one (PROTOCOL.md §6.2).
    log.warn({ event: 'kick', addr: connection.addr, unsent: unsentBytes }, 'slow consumer');
    counters.slowConsumers++;
  },
};

function flushEvents(): void {
  isEventFlushScheduled = false;
  const batch = events;
  events = [];
  if (batch.length > 0) post({ type: 'events', events: batch });
}

function accept(socket: Socket): void {
  const transport = TcpTransport.of(socket);
  if (isShuttingDown || transport === null) {
    socket.destroy(); // already gone before we saw it, or we are closing
    return;
  }
  flushPolicy.accepted();
  const id = ++serial * MAX_WORKERS + settings.index;
  const addr = formatAddress(transport.remoteAddress, transport.remotePort);
  const connection = new Connection(id, addr, transport, settings, hooks, batch, counters);
  connections.set(id, connection);
  hooks.onEvent({ kind: 'connect', id, addr, ip: transport.remoteAddress });
}

function deliver(ops: readonly DeliveryOp[]): void {
  for (const op of ops) {
    switch (op.kind) {
      case 'admit':
        connections.get(op.id)?.admit();
        break;
      case 'broadcast': {
        // Encoded once by the primary; every recipient gets the same range of the batch.
        const start = batch.sharedEnd;
        batch.appendShared(op.bytes);
        const end = batch.sharedEnd;
        let recipients = 0;
        for (const connection of connections.values()) {
          if (connection.isAdmitted && connection.id !== op.except) {
            connection.queueShared(start, end);
            recipients++;
          }
        }
        counters.deliveries += recipients * op.messages;
        break;
      }
      case 'send': {
        const connection = connections.get(op.id);
        if (connection === undefined) break;
        connection.queue(op.bytes);
        counters.deliveries++;
        break;
      }
      case 'close': {
        const connection = connections.get(op.id);
        if (connection === undefined) break;
        if (op.bytes !== null) {
          connection.queue(op.bytes);
          counters.deliveries++;
        }
        connection.end();
        break;
      }
    }
  }
}

/** Writes the clients with output of their own now, ahead of the paced full flush: copies from the open batch. */
function flushUrgent(): void {
  const written = urgent;
  urgent = [];
  for (const connection of written) connection.flush(batch);
}

/**
 * The full flush: one write per socket, each a slice of the sealed batch. The slow-consumer rule
 * is not checked here: a connection counts its bytes as they are queued and is cut then
 * (OutputQueue makeRoom, onSlowConsumer).
 */
function flushOutput(): void {
  const started = performance.now();
  const written = dirty;
  dirty = [];
  const sealed = batch.seal();
  const urgentWritten = urgent;
  urgent = [];
  for (const connection of urgentWritten) connection.flush(sealed);
  for (const connection of written) connection.flush(sealed);
  if (deliverSeconds > 0) {
    // Once per turn with deliveries, never per message: the queueing and the writes together.
    metrics.observeFanOut(deliverSeconds + (performance.now() - started) / 1000);
    deliverSeconds = 0;
  }
}

/** Clients online on this worker, for the metrics: counted at scrape time, not kept up to date. */
function countAdmitted(): number {
  let admitted = 0;
  for (const connection of connections.values()) if (connection.isAdmitted) admitted++;
  return admitted;
}

/** Answers the primary's scrape; a failure leaves this worker out of it, as a late answer would. */
function answerMetrics(requestId: number): void {
  metrics.collect().then(
    (json) => post({ type: 'metrics', requestId, metrics: json }),
    (error: unknown) => log.error({ err: error }, 'could not collect metrics; left out of this scrape'),
  );
}

function shutdown(notice: Uint8Array): void {
  isShuttingDown = true;
  server.close();
  metrics.stop();
  if (connections.size === 0) {
    post({ type: 'drained' });
    return;
  }
  const start = batch.sharedEnd;
  batch.appendShared(notice);
  for (const connection of connections.values()) {
    connection.queueShared(start, batch.sharedEnd);
    connection.end();
  }
  flushPolicy.flushNow();
}

port.on('message', (message: PrimaryMessage) => {
  switch (message.type) {
    case 'deliver': {
      const started = performance.now();
      deliver(message.ops);
      deliverSeconds += (performance.now() - started) / 1000;
      return;
    }
    case 'metrics-request':
      return answerMetrics(message.requestId);
    case 'shutdown':
      return shutdown(message.notice);
    case 'test-crash': {
      // First what a buggy worker might post: a message of no known type, an events message
      // without events, and an event the room cannot handle. The primary must log and go on.
      const garbage: unknown[] = [
        { type: 'test-garbage' },
        { type: 'events' },
        { type: 'events', events: [{ kind: 'command', id: connections.keys().next().value ?? 0, command: null }] },
      ];
      for (const message of garbage) port.postMessage(message);
      // Then a throw outside any client's try/catch, so it takes the whole thread down.
      setImmediate(() => {
        throw new Error(`test hook: worker ${settings.index} crashes on purpose`);
      });
      return;
    }
  }
});

const server = createServer({ allowHalfOpen: true, noDelay: true }, accept);
server.on('error', (error: NodeJS.ErrnoException) => {
  post({ type: 'listen-failed', code: error.code ?? 'UNKNOWN', message: error.message });
});
// Every worker binds the same port; the kernel spreads new connections across them.
server.listen({ host: settings.host, port: settings.port, reusePort: true, backlog: 4096 }, () => {
  post({ type: 'listening' });
});
