import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseReason } from '../../room/close-reason.ts';
import { Dispatcher } from '../../server/dispatcher.ts';
import { NOBODY } from '../../room/delivery.ts';
import { MAX_WORKERS, type DeliveryOp } from '../../server/messages.ts';

const decode = (bytes: Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString('utf8'));
const readable = (ops: DeliveryOp[]) =>
  ops.map((op) => {
    if (op.kind === 'admit' || op.kind === 'position') return op;
    if (op.kind === 'broadcast') {
      const { positioned, ...rest } = op;
      return positioned === null ? { ...rest, bytes: decode(op.bytes) } : { ...rest, bytes: decode(op.bytes), positioned: decode(positioned) };
    }
    return { ...op, bytes: decode(op.bytes) };
  });

/** A client of worker `index`: connection ids name their worker (server/messages.ts). */
const clientOf = (index: number, serial = 5): number => serial * MAX_WORKERS + index;

/** A dispatcher for these workers; with `online`, a client of each is admitted first, and what that posted is cleared. */
function dispatcherFor(workers: number[], options: { online?: boolean } = {}): { dispatcher: Dispatcher; posted: Map<number, DeliveryOp[][]> } {
  const posted = new Map<number, DeliveryOp[][]>();
  const dispatcher = new Dispatcher({
    post: (index, ops) => posted.set(index, [...(posted.get(index) ?? []), ops]),
    workerIndexes: () => workers,
  });
  if (options.online === true) {
    for (const index of workers) dispatcher.admit(clientOf(index, 1));
    dispatcher.flush();
    posted.clear();
  }
  return { dispatcher, posted };
}

describe('Dispatcher', () => {
  afterEach(() => vi.useRealTimers());

  it('merges consecutive broadcasts to everyone into one buffer per batch', () => {
    const { dispatcher, posted } = dispatcherFor([0, 1], { online: true });
    dispatcher.broadcast('a\r\n', NOBODY);
    dispatcher.broadcast('b\r\n', NOBODY);
    dispatcher.flush();
    for (const index of [0, 1]) {
      expect(posted.get(index)!.map(readable)).toEqual([[{ kind: 'broadcast', bytes: 'a\r\nb\r\n', messages: 2, except: NOBODY }]]);
    }
  });

  it('makes the positioned form of a run only once a broadcast of it has one, the plain ones copied into it', () => {
    const { dispatcher, posted } = dispatcherFor([0], { online: true });
    const onWorker0 = 5 * MAX_WORKERS;
    dispatcher.broadcast('login\r\n', NOBODY);
    dispatcher.broadcast('chat\r\n', NOBODY, '@7 chat\r\n');
    dispatcher.broadcast('leave\r\n', NOBODY);
    dispatcher.broadcast('renamed\r\n', onWorker0, '@8 renamed\r\n');
    dispatcher.broadcast('plain\r\n', NOBODY);
    dispatcher.position(onWorker0);
    dispatcher.flush();
    expect(posted.get(0)!.map(readable)).toEqual([
      [
        { kind: 'broadcast', bytes: 'login\r\nchat\r\nleave\r\n', positioned: 'login\r\n@7 chat\r\nleave\r\n', messages: 3, except: NOBODY },
        { kind: 'broadcast', bytes: 'renamed\r\n', positioned: '@8 renamed\r\n', messages: 1, except: onWorker0 },
        { kind: 'broadcast', bytes: 'plain\r\n', messages: 1, except: NOBODY },
        { kind: 'position', id: onWorker0 },
      ],
    ]);
  });

  it('keeps the global order and routes one-client ops to the worker that owns the client', () => {
    const { dispatcher, posted } = dispatcherFor([0, 1], { online: true });
    const onWorker1 = 5 * MAX_WORKERS + 1;
    dispatcher.admit(onWorker1);
    dispatcher.broadcast('login\r\n', NOBODY);
    dispatcher.send(onWorker1, 'hello\r\n');
    dispatcher.broadcast('renamed\r\n', onWorker1);
    dispatcher.close(onWorker1, null, CloseReason.Quit);
    dispatcher.flush();
    expect(posted.get(0)!.map(readable)).toEqual([
      [
        { kind: 'broadcast', bytes: 'login\r\n', messages: 1, except: NOBODY },
        { kind: 'broadcast', bytes: 'renamed\r\n', messages: 1, except: onWorker1 },
      ],
    ]);
    expect(posted.get(1)!.map(readable)).toEqual([
      [
        { kind: 'admit', id: onWorker1 },
        { kind: 'broadcast', bytes: 'login\r\n', messages: 1, except: NOBODY },
        { kind: 'send', id: onWorker1, bytes: 'hello\r\n' },
        { kind: 'broadcast', bytes: 'renamed\r\n', messages: 1, except: onWorker1 },
        { kind: 'close', id: onWorker1, bytes: null, reason: CloseReason.Quit },
      ],
    ]);
  });

  it('posts once per turn of the event loop, however many decisions the turn made', async () => {
    const { dispatcher, posted } = dispatcherFor([0], { online: true });
    for (let i = 0; i < 100; i++) dispatcher.broadcast(`${i}\r\n`, NOBODY);
    expect(posted.size).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(posted.get(0)).toHaveLength(1);
  });

  it('gives each batch bytes of its own, never a view into a shared pool', () => {
    const { dispatcher, posted } = dispatcherFor([0], { online: true });
    dispatcher.broadcast('x\r\n', NOBODY);
    dispatcher.flush();
    const op = posted.get(0)![0]![0]!;
    expect(op.kind === 'broadcast' && op.bytes.buffer.byteLength).toBe(3);
  });

  it('sends a broadcast only to the workers with someone online when it was decided', () => {
    const { dispatcher, posted } = dispatcherFor([0, 1, 2]);
    dispatcher.broadcast('nobody hears this\r\n', NOBODY);
    dispatcher.admit(clientOf(1));
    dispatcher.broadcast('login\r\n', NOBODY);
    dispatcher.broadcast('hi\r\n', NOBODY);
    dispatcher.admit(clientOf(2));
    dispatcher.broadcast('login 2\r\n', NOBODY);
    dispatcher.broadcast('renamed\r\n', clientOf(2));
    dispatcher.flush();
    expect(posted.has(0)).toBe(false);
    expect(posted.get(1)!.map(readable)).toEqual([
      [
        { kind: 'admit', id: clientOf(1) },
        { kind: 'broadcast', bytes: 'login\r\nhi\r\n', messages: 2, except: NOBODY },
        { kind: 'broadcast', bytes: 'login 2\r\n', messages: 1, except: NOBODY },
        { kind: 'broadcast', bytes: 'renamed\r\n', messages: 1, except: clientOf(2) },
      ],
    ]);
    expect(posted.get(2)!.map(readable)).toEqual([
      [
        { kind: 'admit', id: clientOf(2) },
        { kind: 'broadcast', bytes: 'login 2\r\n', messages: 1, except: NOBODY },
        { kind: 'broadcast', bytes: 'renamed\r\n', messages: 1, except: clientOf(2) },
      ],
    ]);
  });

  it('still delivers what was decided before a worker lost its last client, and its close, and nothing after', () => {
    const { dispatcher, posted } = dispatcherFor([0, 1], { online: true });
    const last = clientOf(1, 1);
    // A time-out as the room decides it: everyone else told, then the client forgotten and closed.
    dispatcher.broadcast('timed out\r\n', last);
    dispatcher.broadcast('before\r\n', NOBODY);
    dispatcher.forget(last);
    dispatcher.close(last, 'bye\r\n', CloseReason.IdleTimeout);
    dispatcher.broadcast('after\r\n', NOBODY);
    dispatcher.flush();
    expect(posted.get(1)!.map(readable)).toEqual([
      [
        { kind: 'broadcast', bytes: 'timed out\r\n', messages: 1, except: last },
        { kind: 'broadcast', bytes: 'before\r\n', messages: 1, except: NOBODY },
        { kind: 'close', id: last, bytes: 'bye\r\n', reason: CloseReason.IdleTimeout },
      ],
    ]);
    expect(posted.get(0)!.map(readable)).toEqual([
      [
        { kind: 'broadcast', bytes: 'timed out\r\n', messages: 1, except: last },
        { kind: 'broadcast', bytes: 'before\r\n', messages: 1, except: NOBODY },
        { kind: 'broadcast', bytes: 'after\r\n', messages: 1, except: NOBODY },
      ],
    ]);
    // Forgetting twice, or a connection never admitted, changes nothing.
    dispatcher.forget(last);
    dispatcher.forget(clientOf(0, 9));
    dispatcher.broadcast('later\r\n', NOBODY);
    dispatcher.flush();
    expect(readable(posted.get(0)!.at(-1)!)).toEqual([{ kind: 'broadcast', bytes: 'later\r\n', messages: 1, except: NOBODY }]);
    expect(posted.get(1)).toHaveLength(1);
  });
});
