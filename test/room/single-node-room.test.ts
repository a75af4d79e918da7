// The single node's room alone: a SingleNodeRoom driven by events, with a recording Delivery and a fake clock.

import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkName, type Command } from '../../protocol/index.ts';
import { SingleNodeRoom } from '../../room/single-node-room.ts';
import { CloseReason } from '../../room/close-reason.ts';
import { RecordingDelivery } from '../helpers/recording-delivery.ts';

const ALICE = 1;
const BOB = 2;
const A = '127.0.0.1:1001';
const B = '127.0.0.1:1002';
const rename = (name: string): Command => {
  const checked = checkName(name);
  if ('error' in checked) throw new Error(`bad test name ${name}`);
  return { type: 'rename', name: checked.name };
};

describe('SingleNodeRoom', () => {
  let delivery: RecordingDelivery;
  let room: SingleNodeRoom;

  beforeEach(() => {
    delivery = new RecordingDelivery();
    room = new SingleNodeRoom({ maxClients: 2, maxPerIp: 0, idleTimeoutSeconds: 60, rateLimit: 2, rateBurst: 5 }, { delivery, log: pino({ level: 'silent' }) });
    room.handle({ kind: 'connect', id: ALICE, addr: A, ip: '127.0.0.1' }, 0);
    room.handle({ kind: 'connect', id: BOB, addr: B, ip: '127.0.0.1' }, 0);
    delivery.take();
  });

  it('admits a newcomer before announcing it, then greets it alone', () => {
    const fresh = new RecordingDelivery();
    const other = new SingleNodeRoom({ maxClients: 5, maxPerIp: 0, idleTimeoutSeconds: 60, rateLimit: 2, rateBurst: 5 }, { delivery: fresh, log: pino({ level: 'silent' }) });
    other.handle({ kind: 'connect', id: 7, addr: A, ip: '127.0.0.1' }, 0);
    expect(fresh.ops).toEqual([
      ['admit', 7],
      ['broadcast', `[${A}]${A}:login\r\n`, -1],
      ['send', 7, `[${A}]${A}:I am here\r\n`],
    ]);
  });

  it('tells the delivery when it forgets a client, however it went: a quit, a drop, a time-out', () => {
    room.handle({ kind: 'connect', id: 3, addr: '127.0.0.1:1003', ip: '127.0.0.1' }, 0); // refused: full, never in
    room.handle({ kind: 'command', id: BOB, command: { type: 'quit' } }, 1);
    expect(delivery.forgotten).toEqual([BOB]);
    room.handle({ kind: 'connect', id: 4, addr: '127.0.0.1:1004', ip: '127.0.0.1' }, 1);
    room.handle({ kind: 'disconnect', id: 4, reason: CloseReason.ClientClosed }, 2);
    expect(room.expireIdle(61_000)).toBeUndefined();
    expect(delivery.forgotten).toEqual([BOB, 4, ALICE]);
    expect(room.online).toBe(0);
  });

  it('refuses a client past maxClients without a login for anyone', () => {
    room.handle({ kind: 'connect', id: 3, addr: '127.0.0.1:1003', ip: '127.0.0.1' }, 0);
    expect(delivery.take()).toEqual([
      ['close', 3, 'error: server full (2 clients); try again later\r\n', CloseReason.ServerFull],
    ]);
    expect(room.online).toBe(2);
  });

  it('refuses a client past maxPerIp from its address, and counts the address again when one leaves', () => {
    const fresh = new RecordingDelivery();
    const other = new SingleNodeRoom({ maxClients: 10, maxPerIp: 1, idleTimeoutSeconds: 60, rateLimit: 2, rateBurst: 5 }, { delivery: fresh, log: pino({ level: 'silent' }) });
    other.handle({ kind: 'connect', id: 1, addr: A, ip: '10.0.0.1' }, 0);
    other.handle({ kind: 'connect', id: 2, addr: '10.0.0.2:5', ip: '10.0.0.2' }, 0);
    fresh.take();
    other.handle({ kind: 'connect', id: 3, addr: '10.0.0.1:6', ip: '10.0.0.1' }, 0);
    expect(fresh.take()).toEqual([
      ['close', 3, 'error: too many connections from your address (1); close one and try again\r\n', CloseReason.TooManyFromAddress],
    ]);
    other.handle({ kind: 'disconnect', id: 1, reason: CloseReason.ClientClosed }, 1);
    other.handle({ kind: 'connect', id: 4, addr: '10.0.0.1:7', ip: '10.0.0.1' }, 1);
    expect(fresh.take().some((op) => op[0] === 'admit' && op[1] === 4)).toBe(true);
  });

  it('renames, tells the sender and announces to everyone else', () => {
    room.handle({ kind: 'command', id: ALICE, command: rename('alice') }, 1);
    expect(delivery.take()).toEqual([
      ['send', ALICE, 'rename ok\r\n'],
      ['broadcast', `[${A}]${A}:renamed to alice\r\n`, ALICE],
    ]);
    room.handle({ kind: 'command', id: ALICE, command: { type: 'text', text: 'hi' } }, 2);
    expect(delivery.take()).toEqual([['broadcast', `[${A}]alice:hi\r\n`, -1]]);
  });

  it('refuses a name someone else holds in another case, and allows a change of case of your own', () => {
    room.handle({ kind: 'command', id: ALICE, command: rename('alice') }, 1);
    delivery.take();
    room.handle({ kind: 'command', id: BOB, command: rename('ALICE') }, 1);
    expect(delivery.take()).toEqual([['send', BOB, 'error: the name ALICE is taken; pick another\r\n']]);
    room.handle({ kind: 'command', id: ALICE, command: rename('Alice') }, 1);
    expect(delivery.take()).toEqual([
      ['send', ALICE, 'rename ok\r\n'],
      ['broadcast', `[${A}]alice:renamed to Alice\r\n`, ALICE],
    ]);
  });

  it('frees a name when its holder leaves', () => {
    room.handle({ kind: 'command', id: ALICE, command: rename('alice') }, 1);
    room.handle({ kind: 'disconnect', id: ALICE, reason: CloseReason.ClientClosed }, 2);
    room.handle({ kind: 'command', id: BOB, command: rename('alice') }, 3);
    expect(delivery.take().at(-1)).toEqual(['broadcast', `[${B}]${B}:renamed to alice\r\n`, BOB]);
  });

  it('lists who is online in order of arrival, keeping the place of one who renamed', () => {
    room.handle({ kind: 'command', id: ALICE, command: rename('zed') }, 1);
    delivery.take();
    room.handle({ kind: 'command', id: BOB, command: { type: 'who' } }, 1);
    expect(delivery.take()).toEqual([['send', BOB, `user list:\r\n${A}:zed\r\n${B}:${B}\r\n`]]);
  });

  it('closes a leaving client before announcing it, so it is not sent its own login out', () => {
    room.handle({ kind: 'command', id: BOB, command: { type: 'quit' } }, 1);
    expect(delivery.take()).toEqual([
      ['close', BOB, null, CloseReason.Quit],
      ['broadcast', `[${B}]${B}:login out\r\n`, -1],
    ]);
  });

  it('ignores lines in flight from a client that already left', () => {
    room.handle({ kind: 'disconnect', id: BOB, reason: CloseReason.ClientClosed }, 1);
    delivery.take();
    room.handle({ kind: 'command', id: BOB, command: { type: 'text', text: 'late' } }, 2);
    room.handle({ kind: 'disconnect', id: BOB, reason: CloseReason.ClientClosed }, 2);
    expect(delivery.take()).toEqual([]);
  });

  it('delivers a private message to its recipient only and acknowledges it', () => {
    room.handle({ kind: 'command', id: BOB, command: rename('bob') }, 1);
    delivery.take();
    room.handle({ kind: 'command', id: ALICE, command: { type: 'msg', to: 'BOB', text: 'psst' } }, 2);
    expect(delivery.take()).toEqual([
      ['send', BOB, `[${A}]${A} (private):psst\r\n`],
      ['send', ALICE, 'msg ok\r\n'],
    ]);
    room.handle({ kind: 'command', id: ALICE, command: { type: 'msg', to: 'carol', text: 'psst' } }, 2);
    expect(delivery.take()).toEqual([['send', ALICE, 'error: nobody named carol is online; try who\r\n']]);
  });

  it('times out a client idle for the timeout, telling everyone else and then closing it', () => {
    room.handle({ kind: 'command', id: BOB, command: { type: 'empty' } }, 30_000);
    expect(room.expireIdle(49_999)).toBe(50_000);
    expect(delivery.take()).toEqual([]);
    // #10 §7: warned once, 10 s before.
    expect(room.expireIdle(50_000)).toBe(60_000);
    expect(delivery.take()).toEqual([['send', ALICE, '*** you will be timed out in 10 s; send any line to stay\r\n']]);
    expect(room.expireIdle(59_999)).toBe(60_000);
    expect(delivery.take()).toEqual([]);
    expect(room.expireIdle(60_000)).toBe(80_000);
    expect(delivery.take()).toEqual([
      ['broadcast', `[${A}]${A}:time out leave out\r\n`, ALICE],
      ['close', ALICE, 'error: no line from you for 60 s; disconnected (send any line to stay)\r\n', CloseReason.IdleTimeout],
    ]);
    expect(room.online).toBe(1);
  });

  it('does not count a framing error as activity', () => {
    room.handle(
      { kind: 'framing-error', id: ALICE, error: { code: 'CHAT_ERR_LINE_TOO_LONG', message: 'x', fatal: false } },
      50_000,
    );
    room.expireIdle(60_000);
    expect(delivery.take().some((op) => op[0] === 'close' && op[1] === ALICE)).toBe(true);
  });

  it('announces every client of a failed worker as gone', () => {
    room.dropConnections((id) => id === BOB, 0);
    expect(delivery.take()).toEqual([
      ['close', BOB, null, CloseReason.WorkerFailed],
      ['broadcast', `[${B}]${B}:login out\r\n`, -1],
    ]);
    expect(room.online).toBe(1);
  });

  it('gives the who list as data, in order of arrival, for GET /who', () => {
    room.handle({ kind: 'command', id: BOB, command: rename('bob') }, 1);
    expect(room.who()).toEqual([
      { addr: A, name: A },
      { addr: B, name: 'bob' },
    ]);
  });

  it('broadcasts an announcement to everyone as one system line and says how many were online', () => {
    expect(room.announce('maintenance at 5')).toBe(2);
    expect(delivery.take()).toEqual([['broadcast', '*** maintenance at 5\r\n', -1]]);
  });

  it('tells its observer of every kick with its reason, a refusal included, and of no leave', () => {
    const kicks: CloseReason[] = [];
    const fresh = new RecordingDelivery();
    const other = new SingleNodeRoom({ maxClients: 2, maxPerIp: 0, idleTimeoutSeconds: 60, rateLimit: 2, rateBurst: 5 }, {
      delivery: fresh,
      log: pino({ level: 'silent' }),
      observer: { onKick: (reason) => kicks.push(reason) },
    });
    other.handle({ kind: 'connect', id: ALICE, addr: A, ip: '127.0.0.1' }, 0);
    other.handle({ kind: 'connect', id: BOB, addr: B, ip: '127.0.0.1' }, 0);
    other.handle({ kind: 'connect', id: 3, addr: '127.0.0.1:1003', ip: '127.0.0.1' }, 0);
    other.handle({ kind: 'disconnect', id: BOB, reason: CloseReason.SlowConsumer }, 1);
    other.handle({ kind: 'connect', id: 4, addr: '127.0.0.1:1004', ip: '127.0.0.1' }, 1);
    other.handle({ kind: 'command', id: 4, command: { type: 'quit' } }, 2);
    other.expireIdle(60_000);
    expect(kicks).toEqual([CloseReason.ServerFull, CloseReason.SlowConsumer, CloseReason.IdleTimeout]);
  });
});
