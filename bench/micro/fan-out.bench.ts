// The worker's side of one broadcast: append it to the fan-out batch's shared stream and gather
// it, queue its range on every admitted Connection as it catches up, then seal the batch and
// write it once per socket (server/chat-worker.ts `deliver` + the full flush). Without sockets this step is a loop over an
// array, so it runs on real loopback TCP; the socket pairs are opened once, before any timing,
// and the clients read and discard in untimed time between samples.

import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { DEFAULT_MAX_LINE_BYTES, encodeChat } from '../../protocol/index.ts';
import { encodeText } from '../../server/bytes.ts';
import { NUMBER_OPTIONS } from '../../server/config.ts';
import { Connection, type ConnectionHooks } from '../../server/connection.ts';
import { MAX_WORKERS } from '../../server/messages.ts';
import { FanOutBatch } from '../../server/fan-out-batch.ts';
import { TcpTransport } from '../../server/tcp-transport.ts';
import { createBench, runAndReport, type OperationSize } from './harness.ts';

const HOST = '127.0.0.1';
const CLIENT_COUNTS = [100, 1000] as const;
/** Connections opened at once: well under the listen backlog, so no SYN is dropped and retried. */
const CONNECT_BATCH = 100;
/** How long the clients may take to read one sample's bytes before the bench gives up. */
const DRAIN_DEADLINE_MS = 10_000;
const MAX_PENDING_BYTES = NUMBER_OPTIONS.find((option) => option.key === 'maxPendingBytes')!.default;

interface SocketPair {
  readonly server: Socket;
  readonly client: Socket;
}

/** Opens `count` connected pairs on one listener; the client ends count what they read. */
async function openPairs(listener: Server, count: number, onRead: (bytes: number) => void): Promise<SocketPair[]> {
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');
  const accepted: Socket[] = [];
  const clients: Socket[] = [];
  const onConnection = (socket: Socket): void => {
    accepted.push(socket);
  };
  listener.on('connection', onConnection);
  while (clients.length < count) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - clients.length) }, () => {
      const client = connect({ host: HOST, port: address.port, noDelay: true });
      client.on('data', (chunk: Buffer) => onRead(chunk.length));
      return client;
    });
    await Promise.all(batch.map((client) => once(client, 'connect')));
    clients.push(...batch);
  }
  while (accepted.length < count) await new Promise<void>((resolve) => setImmediate(resolve));
  listener.off('connection', onConnection);
  // Pairing by order is not needed: every client gets every broadcast.
  return clients.map((client, i) => ({ client, server: accepted[i]! }));
}

// As it comes from the primary: a Uint8Array with an ArrayBuffer of its own.
const bytesPerBroadcast = encodeText(encodeChat('127.0.0.1:52814', 'alice', 'x'.repeat(64)));
const batch = new FanOutBatch();

let dirty: Connection[] = [];
const hooks: ConnectionHooks = {
  onEvent: () => {},
  onOutput: (connection) => {
    dirty.push(connection);
  },
  onClosed: () => {},
  onFailure: (connection, error) => {
    throw new Error(`connection ${connection.id} failed`, { cause: error });
  },
};

/**
 * ChatWorker `deliver` of a message with one broadcast to everyone, then the full flush
 * (`#writeAll`): the timed step. The broadcast is gathered, and every connection catches up
 * (`#settle`).
 */
function deliverBroadcast(connections: ReadonlyMap<number, Connection>, bytes: Uint8Array): void {
  batch.gatherShared(bytes, 1);
  for (const connection of connections.values()) connection.catchUp();
  batch.gathered.clear();
  const written = dirty;
  dirty = [];
  const sealed = batch.seal();
  for (const connection of written) {
    connection.flush(sealed);
    // The server would cut this client; here it means the rig let the clients fall behind.
    if (connection.unsentBytes > MAX_PENDING_BYTES && !connection.isClosing) {
      throw new Error(`connection ${connection.id} has ${connection.unsentBytes} B unsent: the clients are not draining`);
    }
  }
}

let readBytes = 0;
let sentBytes = 0;
let onCaughtUp: (() => void) | null = null;
function countRead(bytes: number): void {
  readBytes += bytes;
  if (onCaughtUp !== null && readBytes >= sentBytes) {
    const resolve = onCaughtUp;
    onCaughtUp = null;
    resolve();
  }
}

/** Resolves once the clients have read every byte written so far. */
function drained(): Promise<void> {
  if (readBytes >= sentBytes) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      onCaughtUp = null;
      reject(new Error(`clients read ${readBytes} of ${sentBytes} B within ${DRAIN_DEADLINE_MS} ms`));
    }, DRAIN_DEADLINE_MS);
    onCaughtUp = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

const listener = createServer({ allowHalfOpen: true, noDelay: true });
listener.listen({ host: HOST, port: 0, backlog: 1024 });
await once(listener, 'listening');
const maxClients = Math.max(...CLIENT_COUNTS);
const pairs = await openPairs(listener, maxClients, countRead);
const connections = pairs.map(({ server }, i) => {
  const transport = TcpTransport.of(server);
  if (transport === null) throw new Error('an accepted bench socket closed before the bench began');
  const settings = { maxLineBytes: DEFAULT_MAX_LINE_BYTES, rateLimit: 0, rateBurst: 1 };
  const connection = new Connection((i + 1) * MAX_WORKERS, `${HOST}:${transport.remotePort}`, transport, settings, hooks, batch);
  connection.admit();
  return connection;
});

// Fewer tasks' worth of samples than the CPU-only benches: every sample also waits for the
// clients to read N lines, which takes longer than the write it follows.
const bench = createBench(`fan-out: one ${bytesPerBroadcast.length} B broadcast to N loopback sockets`, { time: 500, iterations: 64 });
const sizes: Record<string, OperationSize> = {};
for (const count of CLIENT_COUNTS) {
  const room = new Map(connections.slice(0, count).map((connection) => [connection.id, connection] as const));
  // The name of the days of worker.ts `flushOutput`, kept so that old and new runs line up.
  const name = `deliver + flushOutput, N = ${count}`;
  bench.add(
    name,
    () => {
      sentBytes += bytesPerBroadcast.length * room.size;
      deliverBroadcast(room, bytesPerBroadcast);
    },
    { async: false, beforeEach: drained },
  );
  sizes[name] = { items: { count, unit: 'delivery' } };
}

try {
  await runAndReport(bench, sizes);
  await drained();
  console.log(`clients read ${readBytes} B in all; every write reached its reader`);
} finally {
  for (const { client, server } of pairs) {
    client.destroy();
    server.destroy();
  }
  listener.close();
}
