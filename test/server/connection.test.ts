// One Connection over a fake transport: events in stream order, admission, its output and its
// close, and the slow-consumer cut. The transport is a test double, as a WebSocket or TLS one
// would be another implementation: Connection must not tell the difference.

import { describe, expect, it } from 'vitest';
import { CloseReason } from '../../room/close-reason.ts';
import { Connection, type ConnectionHooks, type ConnectionSettings } from '../../server/connection.ts';
import { FanOutBatch } from '../../server/fan-out-batch.ts';
import type { ClientEvent } from '../../server/messages.ts';
import { FakeTransport } from './worker-fakes.ts';

const NO_FLOOD_CONTROL: ConnectionSettings = { maxLineBytes: 16, rateLimit: 0, rateBurst: 1 };
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function connect(settings: ConnectionSettings = NO_FLOOD_CONTROL) {
  const transport = new FakeTransport();
  const batch = new FanOutBatch();
  const events: ClientEvent[] = [];
  const outputs: string[] = [];
  const seen: string[] = [];
  const hooks: ConnectionHooks = {
    onEvent: (event) => events.push(event),
    onOutput: (_connection, isUrgent) => outputs.push(isUrgent ? 'urgent' : 'output'),
    onClosed: () => seen.push('closed'),
    onFailure: (_connection, error) => seen.push(`failure: ${String(error)}`),
    onSlowConsumer: (_connection, unsent) => seen.push(`slow consumer: ${unsent}`),
  };
  const connection = new Connection(7 * 256, '[192.0.2.7]:50000', transport, settings, hooks, batch);
  /** A broadcast of `text` to this connection, as ChatWorker `deliver` queues it. */
  const broadcast = (text: string): void => {
    const start = batch.sharedEnd;
    batch.appendShared(bytes(text));
    connection.queueShared(start, batch.sharedEnd);
  };
  const disconnects = (): ClientEvent[] => events.filter((event) => event.kind === 'disconnect');
  return { connection, transport, batch, events, outputs, seen, broadcast, disconnects };
}

describe('Connection', () => {
  it('reports each complete line as a command event, in stream order, across chunks', () => {
    const { transport, events } = connect();
    transport.send('hel');
    transport.send('lo\r\nwho\n');
    expect(events).toEqual([
      { kind: 'command', id: 7 * 256, command: { type: 'text', text: 'hello' } },
      { kind: 'command', id: 7 * 256, command: { type: 'who' } },
    ]);
  });

  it('reports a line over maxLineBytes as a framing error, and the LF that ends it as an empty line', () => {
    const { transport, events } = connect();
    transport.send(`${'x'.repeat(17)}\n`);
    expect(events.map((event) => (event.kind === 'command' ? event.command.type : event.kind))).toEqual(['framing-error', 'empty']);
  });

  it('is admitted only by admit(), and not once the server is closing it', () => {
    const first = connect();
    expect(first.connection.isAdmitted).toBe(false);
    first.connection.admit();
    expect(first.connection.isAdmitted).toBe(true);
    first.connection.end();
    expect(first.connection.isAdmitted).toBe(false);
    first.connection.admit();
    expect(first.connection.isAdmitted).toBe(false);
  });

  it('is admitted after the client half-closed: it still receives what was decided before its close', () => {
    const { connection, transport } = connect();
    transport.sendEnd();
    connection.admit();
    expect(connection.isAdmitted).toBe(true);
  });

  it('asks for the full flush for a broadcast, and for the urgent flush for a line of its own, each once', () => {
    const { connection, outputs, broadcast } = connect();
    broadcast('one\r\n');
    broadcast('two\r\n');
    expect(outputs).toEqual(['output']);
    connection.queue(bytes('you\r\n'));
    connection.queue(bytes('you again\r\n'));
    expect(outputs).toEqual(['output', 'urgent']);
  });

  it('writes what was queued, in order, in one write, then ends the transport after end()', () => {
    const { connection, transport, batch, broadcast } = connect();
    broadcast('one\r\n');
    connection.queue(bytes('bye\r\n'));
    connection.end();
    expect(transport.isEnded).toBe(false);
    connection.flush(batch.seal());
    expect(transport.writes).toHaveLength(1);
    expect(transport.text).toBe('one\r\nbye\r\n');
    expect(transport.isEnded).toBe(true);
  });

  it('asks for the urgent flush on end() with nothing queued, and ends the transport at it', () => {
    const { connection, transport, batch, outputs } = connect();
    connection.end();
    expect(outputs).toEqual(['urgent']);
    connection.flush(batch);
    expect(transport.writes).toEqual([]);
    expect(transport.isEnded).toBe(true);
  });

  it('queues nothing once end() was called', () => {
    const { connection, transport, batch, broadcast } = connect();
    connection.end();
    broadcast('late\r\n');
    connection.queue(bytes('late too\r\n'));
    connection.flush(batch.seal());
    expect(transport.writes).toEqual([]);
  });

  it('does not report a close the primary decided', () => {
    const { connection, transport, seen, disconnects } = connect();
    connection.end();
    transport.close();
    expect(disconnects()).toEqual([]);
    expect(seen).toEqual(['closed']);
  });

  it('reports ClientClosed once when the client half-closes and then closes', () => {
    const { transport, disconnects } = connect();
    transport.sendEnd();
    transport.close();
    expect(disconnects()).toEqual([{ kind: 'disconnect', id: 7 * 256, reason: CloseReason.ClientClosed }]);
  });

  it('reports a peer reset as ClientClosed and any other failure as SocketError', () => {
    const reset = connect();
    reset.transport.fail(true);
    expect(reset.disconnects()).toEqual([{ kind: 'disconnect', id: 7 * 256, reason: CloseReason.ClientClosed }]);
    const failed = connect();
    failed.transport.fail(false);
    expect(failed.disconnects()).toEqual([{ kind: 'disconnect', id: 7 * 256, reason: CloseReason.SocketError }]);
  });

  it('cuts a slow consumer without the delivery: says how much it held, reports SlowConsumer, destroys the transport', () => {
    const { connection, transport, batch, seen, broadcast, disconnects } = connect({ ...NO_FLOOD_CONTROL, maxPendingBytes: 10 });
    connection.admit();
    transport.keepsWrites = true; // a client that does not read
    broadcast('one two\r\n'); // 9 bytes: within the cap
    connection.flush(batch.seal());
    broadcast('three\r\n'); // 9 pending + 7 > 10
    expect(seen).toEqual(['slow consumer: 9', 'closed']);
    expect(disconnects()).toEqual([{ kind: 'disconnect', id: 7 * 256, reason: CloseReason.SlowConsumer }]);
    expect(transport.isDestroyed).toBe(true);
    expect(transport.text).toBe('one two\r\n');
    expect(connection.isAdmitted).toBe(false);
  });

  it('reads nothing more once the server is closing it', () => {
    const { connection, transport, events } = connect();
    connection.end();
    transport.send('hello\n');
    expect(events).toEqual([]);
  });

  it('pauses its transport when the client sends past its byte budget (flood control on)', () => {
    const { transport } = connect({ maxLineBytes: 4096, rateLimit: 2, rateBurst: 5 });
    transport.send('x'.repeat(1000));
    expect(transport.isPaused).toBe(false);
    transport.send('x'.repeat(64 * 1024)); // past the 64 KiB burst of MIN_BYTES_PER_SECOND
    expect(transport.isPaused).toBe(true);
  });
});
