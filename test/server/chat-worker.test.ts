// A ChatWorker without a thread or a socket: fake transports for its clients, a fake clock for its
// flushes, and the messages it posts to the primary recorded. What the e2e tests see through real
// TCP, seen here op by op.

import { afterEach, describe, expect, it } from 'vitest';
import { CloseReason } from '../../room/close-reason.ts';
import { NOBODY } from '../../room/delivery.ts';
import type { Log } from '../../room/log.ts';
import { ChatWorker } from '../../server/chat-worker.ts';
import { STORM_QUIET_MS } from '../../server/flush-policy.ts';
import type { DeliveryOp, WorkerMessage, WorkerSettings } from '../../server/messages.ts';
import { FakeTransport, FakeWorkerClock } from './worker-fakes.ts';

const SETTINGS: WorkerSettings = {
  index: 3,
  firstSerial: 0,
  host: '127.0.0.1',
  port: 0,
  maxLineBytes: 4096,
  maxPendingBytes: 1 << 20,
  rateLimit: 0,
  rateBurst: 1,
  logLevel: 'silent',
  webPort: null,
  tlsPort: null,
  tls: null,
  webOrigins: [],
  webKeepaliveSeconds: 20,
  webFiles: [],
};

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Keeps every line logged, as `level message`. */
function recordingLog(lines: string[]): Log {
  const log: Log = {
    debug: (_fields, message) => lines.push(`debug ${message ?? ''}`),
    info: (_fields, message) => lines.push(`info ${message ?? ''}`),
    warn: (_fields, message) => lines.push(`warn ${message ?? ''}`),
    error: (_fields, message) => lines.push(`error ${message ?? ''}`),
    child: () => log,
  };
  return log;
}

const running: ChatWorker[] = [];
afterEach(() => {
  // Stops each worker's event-loop monitor (WorkerMetrics).
  for (const worker of running.splice(0)) worker.shutdown(bytes(''));
});

function startWorker(settings: WorkerSettings = SETTINGS) {
  const clock = new FakeWorkerClock();
  const posted: WorkerMessage[] = [];
  const logged: string[] = [];
  const worker = new ChatWorker(settings, (message) => posted.push(message), recordingLog(logged), clock);
  running.push(worker);
  /** Accepts a client and returns its transport and connection id (serials count from 1). */
  let serial = settings.firstSerial;
  const accept = (): { transport: FakeTransport; id: number } => {
    const transport = new FakeTransport('192.0.2.7', 50_000 + serial);
    worker.accept(transport);
    return { transport, id: ++serial * 256 + settings.index };
  };
  const broadcast = (text: string, except = NOBODY): DeliveryOp => ({ kind: 'broadcast', bytes: bytes(text), positioned: null, messages: 1, except });
  return { worker, clock, posted, logged, accept, broadcast };
}

describe('ChatWorker', () => {
  it('posts a connect event for each client it accepts, with an id that names this worker', () => {
    const { clock, posted, accept } = startWorker();
    accept();
    expect(posted).toEqual([]);
    clock.runImmediates();
    expect(posted).toEqual([{ type: 'events', events: [{ kind: 'connect', id: 1 * 256 + 3, addr: '192.0.2.7:50000', ip: '192.0.2.7' }] }]);
  });

  it('starts the serials of a replacement worker where its settings say', () => {
    const { clock, posted, accept } = startWorker({ ...SETTINGS, firstSerial: 2 ** 30 });
    accept();
    clock.runImmediates();
    expect(posted).toEqual([{ type: 'events', events: [expect.objectContaining({ id: (2 ** 30 + 1) * 256 + 3 })] }]);
  });

  it('posts every event of one turn in one message, in order', () => {
    const { clock, posted, accept } = startWorker();
    const alice = accept();
    alice.transport.send('hello\n');
    accept();
    clock.runImmediates();
    expect(posted).toHaveLength(1);
    const message = posted[0]!;
    expect(message.type === 'events' && message.events.map((event) => event.kind)).toEqual(['connect', 'command', 'connect']);
  });

  it('writes a broadcast to every admitted client but the one excepted, one write each at the full flush', () => {
    const { worker, clock, accept, broadcast } = startWorker();
    const [alice, bob, carol] = [accept(), accept(), accept()];
    clock.advance(STORM_QUIET_MS); // no connection storm: the full flush is not put off
    worker.deliver([{ kind: 'admit', id: alice.id }, { kind: 'admit', id: bob.id }, { kind: 'admit', id: carol.id }]);
    worker.deliver([broadcast('one\r\n'), broadcast('two\r\n', bob.id)]);
    worker.deliver([broadcast('three\r\n')]);
    expect(alice.transport.writes).toEqual([]);
    clock.runImmediates();
    expect(alice.transport.writes).toHaveLength(1);
    expect(alice.transport.text).toBe('one\r\ntwo\r\nthree\r\n');
    expect(carol.transport.writes[0]).toBe(alice.transport.writes[0]); // the one shared buffer
    expect(bob.transport.text).toBe('one\r\nthree\r\n');
  });

  it('writes the positioned form of a broadcast to the clients that asked for positions, the plain one to the rest', () => {
    const { worker, clock, accept } = startWorker();
    const [alice, bob] = [accept(), accept()];
    clock.advance(STORM_QUIET_MS);
    worker.deliver([{ kind: 'admit', id: alice.id }, { kind: 'admit', id: bob.id }, { kind: 'position', id: bob.id }]);
    worker.deliver([{ kind: 'broadcast', bytes: bytes('login\r\nhi\r\n'), positioned: bytes('login\r\n@3 hi\r\n'), messages: 2, except: NOBODY }]);
    clock.runImmediates();
    expect(alice.transport.text).toBe('login\r\nhi\r\n');
    expect(bob.transport.text).toBe('login\r\n@3 hi\r\n');
  });

  it('writes a client with positions its broadcasts, with and without positions, as one adjacent range, as it writes the others', () => {
    const { worker, clock, accept } = startWorker();
    const [alice, bob] = [accept(), accept()];
    clock.advance(STORM_QUIET_MS);
    worker.deliver([{ kind: 'admit', id: alice.id }, { kind: 'admit', id: bob.id }, { kind: 'position', id: bob.id }]);
    worker.deliver([{ kind: 'broadcast', bytes: bytes('hi\r\n'), positioned: bytes('@1 hi\r\n'), messages: 1, except: NOBODY }]);
    worker.deliver([{ kind: 'broadcast', bytes: bytes('login\r\n'), positioned: null, messages: 1, except: NOBODY }]);
    worker.deliver([{ kind: 'broadcast', bytes: bytes('there\r\n'), positioned: bytes('@2 there\r\n'), messages: 1, except: NOBODY }]);
    clock.runImmediates();
    expect(alice.transport.writes).toHaveLength(1);
    expect(alice.transport.text).toBe('hi\r\nlogin\r\nthere\r\n');
    expect(bob.transport.writes).toHaveLength(1);
    expect(bob.transport.text).toBe('@1 hi\r\nlogin\r\n@2 there\r\n');
  });

  it('does not write a broadcast decided before a client was admitted', () => {
    const { worker, clock, accept, broadcast } = startWorker();
    const alice = accept();
    clock.advance(STORM_QUIET_MS);
    worker.deliver([broadcast('before\r\n'), { kind: 'admit', id: alice.id }, broadcast('after\r\n')]);
    clock.runImmediates();
    expect(alice.transport.text).toBe('after\r\n');
  });

  it("keeps each client's order when a storm's admits, logins and greetings come in one message", () => {
    const { worker, clock, accept, broadcast } = startWorker();
    const [carol, alice, bob] = [accept(), accept(), accept()];
    clock.advance(STORM_QUIET_MS);
    worker.deliver([{ kind: 'admit', id: carol.id }]);
    const greet = (id: number): DeliveryOp => ({ kind: 'send', id, bytes: bytes(`hello ${id}\r\n`) });
    worker.deliver([
      { kind: 'admit', id: alice.id },
      broadcast('alice login\r\n'),
      greet(alice.id),
      { kind: 'admit', id: bob.id },
      broadcast('bob login\r\n'),
      greet(bob.id),
      broadcast('chat\r\n'),
      { kind: 'close', id: carol.id, bytes: bytes('bye carol\r\n'), reason: CloseReason.Quit },
      broadcast('after carol\r\n'),
    ]);
    clock.runImmediates();
    clock.advance(STORM_QUIET_MS);
    expect(alice.transport.text).toBe(`alice login\r\nhello ${alice.id}\r\nbob login\r\nchat\r\nafter carol\r\n`);
    expect(bob.transport.text).toBe(`bob login\r\nhello ${bob.id}\r\nchat\r\nafter carol\r\n`);
    expect(carol.transport.text).toBe('alice login\r\nbob login\r\nchat\r\nbye carol\r\n');
  });

  it('cuts a slow consumer at the same broadcast whether a message brings its broadcasts one by one or several at once', () => {
    const { worker, clock, accept, broadcast } = startWorker({ ...SETTINGS, maxPendingBytes: 20 });
    const alice = accept();
    alice.transport.keepsWrites = true; // a client that reads nothing
    clock.advance(STORM_QUIET_MS);
    // Three lines of 9 bytes against a cap of 20: the first two are queued, the third finds them
    // written ahead and still in the kernel, so it is not queued and the client is cut. Queued as
    // one range of 27 bytes, all three would have been let through on an empty queue.
    worker.deliver([{ kind: 'admit', id: alice.id }, broadcast('one4567\r\n'), broadcast('two4567\r\n'), broadcast('three67\r\n')]);
    expect(alice.transport.text).toBe('one4567\r\ntwo4567\r\n');
    expect(alice.transport.isDestroyed).toBe(true);
  });

  it('counts a delivery for each message each admitted client gets, however the broadcasts of a message are queued', async () => {
    const { worker, clock, posted, accept, broadcast } = startWorker();
    const [alice, bob, carol] = [accept(), accept(), accept()];
    clock.advance(STORM_QUIET_MS);
    worker.deliver([{ kind: 'admit', id: alice.id }, { kind: 'admit', id: bob.id }]);
    const twoMessages: DeliveryOp = { kind: 'broadcast', bytes: bytes('b1\r\nb2\r\n'), positioned: null, messages: 2, except: NOBODY };
    worker.deliver([broadcast('a\r\n'), { kind: 'admit', id: carol.id }, twoMessages, broadcast('c\r\n', bob.id)]);
    clock.runImmediates();
    expect(bob.transport.text).toBe('a\r\nb1\r\nb2\r\n');
    expect(carol.transport.text).toBe('b1\r\nb2\r\nc\r\n');
    worker.answerMetrics(1);
    await expect.poll(() => posted.find((message) => message.type === 'metrics')).toBeDefined();
    const answer = posted.find((message) => message.type === 'metrics');
    const deliveries = answer?.type === 'metrics' ? answer.metrics.find((metric) => metric.name === 'chatd_deliveries_total') : undefined;
    // a: alice and bob; b1 b2: all three; c: alice and carol.
    expect(deliveries?.values[0]?.value).toBe(2 + 3 * 2 + 2);
  });

  it('greets a newcomer at once during a connection storm, while broadcasts wait for the storm to pause', () => {
    const { worker, clock, accept, broadcast } = startWorker();
    const alice = accept();
    worker.deliver([{ kind: 'admit', id: alice.id }, broadcast('login\r\n'), { kind: 'send', id: alice.id, bytes: bytes('I am here\r\n') }]);
    clock.runImmediates();
    // The greeting is written on its own, copied out of the open batch; the login waits.
    expect(alice.transport.text).toBe('login\r\nI am here\r\n');
    const bob = accept();
    worker.deliver([{ kind: 'admit', id: bob.id }, broadcast('bob login\r\n'), { kind: 'send', id: bob.id, bytes: bytes('I am here\r\n') }]);
    clock.runImmediates();
    expect(bob.transport.text).toBe('bob login\r\nI am here\r\n');
    expect(alice.transport.text).toBe('login\r\nI am here\r\n');
    clock.advance(STORM_QUIET_MS);
    expect(alice.transport.text).toBe('login\r\nI am here\r\nbob login\r\n');
  });

  it('never admits a client it is already closing', () => {
    const { worker, clock, accept, broadcast } = startWorker();
    const alice = accept();
    worker.deliver([{ kind: 'close', id: alice.id, bytes: null, reason: CloseReason.ServerFull }, { kind: 'admit', id: alice.id }, broadcast('one\r\n')]);
    clock.runImmediates();
    expect(alice.transport.writes).toEqual([]);
    expect(alice.transport.isEnded).toBe(true);
  });

  it('writes the last line of a close op, then ends the client, and does not report the close back', () => {
    const { worker, clock, posted, accept } = startWorker();
    const alice = accept();
    clock.runImmediates();
    posted.length = 0;
    worker.deliver([{ kind: 'close', id: alice.id, bytes: bytes('error: server full\r\n'), reason: CloseReason.ServerFull }]);
    clock.runImmediates();
    expect(alice.transport.text).toBe('error: server full\r\n');
    expect(alice.transport.isEnded).toBe(true);
    alice.transport.close();
    clock.runImmediates();
    expect(posted).toEqual([]);
  });

  it('ignores ops for a client that is gone', () => {
    const { worker, clock, accept } = startWorker();
    const alice = accept();
    alice.transport.close();
    worker.deliver([{ kind: 'send', id: alice.id, bytes: bytes('hello\r\n') }, { kind: 'admit', id: 999 * 256 + 3 }]);
    clock.runImmediates();
    expect(alice.transport.writes).toEqual([]);
  });

  it('cuts a slow consumer, logs it and counts it as gone for the primary', () => {
    const { worker, clock, posted, logged, accept, broadcast } = startWorker({ ...SETTINGS, maxPendingBytes: 10 });
    const alice = accept();
    alice.transport.keepsWrites = true;
    worker.deliver([{ kind: 'admit', id: alice.id }, broadcast('one two\r\n')]);
    clock.runImmediates();
    worker.deliver([broadcast('three\r\n')]);
    clock.runImmediates();
    expect(alice.transport.isDestroyed).toBe(true);
    expect(logged).toEqual(['warn slow consumer']);
    const events = posted.flatMap((message) => (message.type === 'events' ? message.events : []));
    expect(events.at(-1)).toEqual({ kind: 'disconnect', id: alice.id, reason: CloseReason.SlowConsumer });
  });

  it('sends the shutdown notice to every client, ends them, and posts drained once the last has closed', () => {
    const { worker, posted, accept } = startWorker();
    const [alice, bob] = [accept(), accept()];
    running.splice(0); // shut down here, not after the test
    worker.shutdown(bytes('error: server shutting down; goodbye\r\n'));
    for (const client of [alice, bob]) {
      expect(client.transport.text).toBe('error: server shutting down; goodbye\r\n');
      expect(client.transport.isEnded).toBe(true);
    }
    alice.transport.close();
    expect(posted.filter((message) => message.type === 'drained')).toEqual([]);
    bob.transport.close();
    expect(posted.filter((message) => message.type === 'drained')).toEqual([{ type: 'drained' }]);
  });

  it('posts drained at once when shut down with nobody connected, and refuses clients after that', () => {
    const { worker, posted, accept } = startWorker();
    running.splice(0);
    worker.shutdown(bytes('bye\r\n'));
    expect(posted).toEqual([{ type: 'drained' }]);
    const late = accept();
    expect(late.transport.isDestroyed).toBe(true);
  });
});
