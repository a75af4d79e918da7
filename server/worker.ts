// Worker thread entry: listens on the shared port (reusePort), owns its client sockets, turns
// their bytes into events for the primary, and carries out the primary's deliveries.
// Runs in worker threads only; never touches presence (docs/ARCHITECTURE.md §2).

import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { formatAddress } from '../protocol/index.ts';
import { CloseReason } from './close-reason.ts';
import { Connection } from './connection.ts';
import { createLogger } from './log.ts';
import { MAX_WORKERS, type ClientEvent, type DeliveryOp, type PrimaryMessage, type WorkerMessage, type WorkerSettings } from './messages.ts';
import { createWorkerCounters, WorkerMetrics } from './metrics.ts';

if (parentPort === null) throw new Error('server/worker.ts runs as a worker thread; start chatd instead');
const port = parentPort;
const settings = workerData as WorkerSettings;
const log = createLogger(settings.logLevel, { thread: `worker-${settings.index}` });

const connections = new Map<number, Connection>();
/** Connections with output queued this turn. */
let dirty: Connection[] = [];
/** Events of this turn, posted to the primary in one message. */
let events: ClientEvent[] = [];
let isEventFlushScheduled = false;
let isOutputFlushScheduled = false;
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
  onOutput(connection: Connection): void {
    dirty.push(connection);
    // Deliveries flush at the end of their batch; output of the worker's own (a flood-control
    // notice) is flushed after this turn.
    if (!isOutputFlushScheduled) {
      isOutputFlushScheduled = true;
      setImmediate(flushOutput);
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
};

function flushEvents(): void {
  isEventFlushScheduled = false;
  const batch = events;
  events = [];
  if (batch.length > 0) post({ type: 'events', events: batch });
}

function accept(socket: Socket): void {
  if (isShuttingDown || socket.remoteAddress === undefined || socket.remotePort === undefined) {
    socket.destroy(); // already gone before we saw it, or we are closing
    return;
  }
  const id = ++serial * MAX_WORKERS + settings.index;
  const addr = formatAddress(socket.remoteAddress, socket.remotePort);
  const connection = new Connection(id, addr, socket, settings, hooks, counters);
  connections.set(id, connection);
  hooks.onEvent({ kind: 'connect', id, addr, ip: socket.remoteAddress });
}

function deliver(ops: readonly DeliveryOp[]): void {
  for (const op of ops) {
    switch (op.kind) {
      case 'admit': {
        const connection = connections.get(op.id);
        if (connection !== undefined && !connection.isClosing) connection.isAdmitted = true;
        break;
      }
      case 'broadcast': {
        // Encoded once by the primary; the same bytes go to every socket.
        const bytes = asBuffer(op.bytes);
        let recipients = 0;
        for (const connection of connections.values()) {
          if (connection.isAdmitted && connection.id !== op.except) {
            connection.queue(bytes);
            recipients++;
          }
        }
        counters.deliveries += recipients * op.messages;
        break;
      }
      case 'send': {
        const connection = connections.get(op.id);
        if (connection === undefined) break;
        connection.queue(asBuffer(op.bytes));
        counters.deliveries++;
        break;
      }
      case 'close': {
        const connection = connections.get(op.id);
        if (connection === undefined) break;
        if (op.bytes !== null) {
          connection.queue(asBuffer(op.bytes));
          counters.deliveries++;
        }
        connection.end();
        break;
      }
    }
  }
  flushOutput();
}

/** One write per socket per batch, then the slow-consumer rule on what is left unsent. */
function flushOutput(): void {
  isOutputFlushScheduled = false;
  const batch = dirty;
  dirty = [];
  for (const connection of batch) {
    connection.flush();
    if (connection.unsentBytes > settings.maxPendingBytes && !connection.isClosing) {
      // Its last line would wait behind a megabyte it is not reading: cut it (PROTOCOL.md §6.2).
      log.warn({ event: 'kick', addr: connection.addr, unsent: connection.unsentBytes }, 'slow consumer');
      counters.slowConsumers++;
      connection.destroy(CloseReason.SlowConsumer);
    }
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

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function shutdown(notice: Uint8Array): void {
  isShuttingDown = true;
  server.close();
  metrics.stop();
  if (connections.size === 0) {
    post({ type: 'drained' });
    return;
  }
  const bytes = asBuffer(notice);
  for (const connection of connections.values()) {
    connection.queue(bytes);
    connection.end();
  }
  dirty = [];
}

port.on('message', (message: PrimaryMessage) => {
  switch (message.type) {
    case 'deliver': {
      // Once per batch, never per message: the cost of two clock reads and one histogram bucket.
      const started = performance.now();
      deliver(message.ops);
      metrics.observeFanOut((performance.now() - started) / 1000);
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
