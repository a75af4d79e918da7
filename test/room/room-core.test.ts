// RoomCore.apply, the one function that decides who receives what, driven event by event as a
// cluster node would drive it: members on other nodes (no local connection) and members here.

import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloseReason } from '../../room/close-reason.ts';
import { RoomCore, type LocalClient } from '../../room/room-core.ts';
import { RecordingDelivery } from '../helpers/recording-delivery.ts';

const SETTINGS = { maxClients: 10, maxPerIp: 0, idleTimeoutSeconds: 60, rateLimit: 2, rateBurst: 5, motd: ['hello'] };
const A = '127.0.0.1:1001';
const R = '10.0.0.2:2002';
/** Alice is this node's connection 1; rita is on another node. */
const ALICE = 'here/1';
const RITA = 'there/7';

function local(id: number, client: string, addr: string): LocalClient<string> {
  return { id, client, addr, ip: '127.0.0.1', name: addr, isAdmitted: false, isLeaving: false, seenUpTo: 0, isPositioned: false };
}

describe('RoomCore.apply', () => {
  let delivery: RecordingDelivery;
  let core: RoomCore<string>;
  let alice: LocalClient<string>;

  beforeEach(() => {
    delivery = new RecordingDelivery();
    core = new RoomCore<string>(SETTINGS, { delivery, log: pino({ level: 'silent' }) });
    alice = local(1, ALICE, A);
    core.enter(alice, 0);
  });

  it('admits, announces to everyone and then greets a local login, with the message of the day', () => {
    core.apply({ kind: 'login', client: ALICE, addr: A, name: A });
    expect(delivery.take()).toEqual([
      ['admit', 1],
      ['broadcast', `[${A}]${A}:login\r\n`, -1],
      ['send', 1, `[${A}]${A}:I am here\r\n`],
      ['send', 1, '*** hello\r\n'],
    ]);
    expect(alice.isAdmitted).toBe(true);
  });

  it('only announces the login of a member on another node', () => {
    core.apply({ kind: 'login', client: RITA, addr: R, name: 'rita' });
    expect(delivery.take()).toEqual([['broadcast', `[${R}]rita:login\r\n`, -1]]);
    expect(core.members.get(RITA)?.name).toBe('rita');
  });

  it('shows a login it has already shown under the same name as no news', () => {
    core.apply({ kind: 'login', client: RITA, addr: R, name: 'rita' });
    delivery.take();
    core.apply({ kind: 'login', client: RITA, addr: R, name: 'rita' });
    expect(delivery.take()).toEqual([]);
  });

  it('confirms a local rename to the renamed client and tells everyone else', () => {
    core.apply({ kind: 'login', client: ALICE, addr: A, name: A });
    delivery.take();
    core.apply({ kind: 'rename', client: ALICE, addr: A, name: A, newName: 'alice' });
    expect(delivery.take()).toEqual([
      ['send', 1, 'rename ok\r\n'],
      ['broadcast', `[${A}]${A}:renamed to alice\r\n`, 1],
    ]);
    expect(alice.name).toBe('alice');
  });

  it('sends a private line to a local recipient and confirms to a local sender, nobody else', () => {
    core.apply({ kind: 'login', client: ALICE, addr: A, name: 'alice' });
    core.apply({ kind: 'login', client: RITA, addr: R, name: 'rita' });
    delivery.take();
    core.apply({ kind: 'private', from: RITA, to: ALICE, addr: R, name: 'rita', text: 'psst' });
    core.apply({ kind: 'private', from: ALICE, to: RITA, addr: A, name: 'alice', text: 'hi' });
    expect(delivery.take()).toEqual([
      ['send', 1, `[${R}]rita (private):psst\r\n`],
      ['send', 1, 'msg ok\r\n'],
    ]);
  });

  it('closes a local client before anyone is told it left (ARCHITECTURE §3.4), and forgets it', () => {
    core.apply({ kind: 'login', client: ALICE, addr: A, name: 'alice' });
    delivery.take();
    core.apply({ kind: 'leave', client: ALICE, reason: CloseReason.Quit });
    expect(delivery.take()).toEqual([
      ['close', 1, null, CloseReason.Quit],
      ['broadcast', `[${A}]alice:login out\r\n`, -1],
    ]);
    expect(core.local(1)).toBeUndefined();
    expect(core.connected).toBe(0);
  });

  it('tells everyone but the idle client that it timed out, then tells it why and closes it', () => {
    core.apply({ kind: 'login', client: ALICE, addr: A, name: 'alice' });
    delivery.take();
    core.apply({ kind: 'timeout', client: ALICE });
    const [broadcast, close] = delivery.take();
    expect(broadcast).toEqual(['broadcast', `[${A}]alice:time out leave out\r\n`, 1]);
    expect(close?.[0]).toBe('close');
    expect(close?.[1]).toBe(1);
    expect(String(close?.[2])).toMatch(/^error: /);
    expect(close?.[3]).toBe(CloseReason.IdleTimeout);
  });

  it('applies a leave twice as once: the second one sends nothing', () => {
    core.apply({ kind: 'login', client: RITA, addr: R, name: 'rita' });
    core.apply({ kind: 'leave', client: RITA, reason: CloseReason.ClientClosed });
    delivery.take();
    core.apply({ kind: 'leave', client: RITA, reason: CloseReason.ClientClosed });
    core.apply({ kind: 'timeout', client: RITA });
    expect(delivery.take()).toEqual([]);
  });

  it('broadcasts chat and announcements to everyone, in the order applied', () => {
    core.apply({ kind: 'chat', addr: R, name: 'rita', text: 'one' });
    core.apply({ kind: 'announce', text: 'maintenance' });
    expect(delivery.take()).toEqual([
      ['broadcast', `[${R}]rita:one\r\n`, -1],
      ['broadcast', '*** maintenance\r\n', -1],
    ]);
  });
});

describe('RoomCore connections', () => {
  it('refuses past --max-clients counting its own connections only, and tells the client why', () => {
    const delivery = new RecordingDelivery();
    const core = new RoomCore<string>({ ...SETTINGS, maxClients: 1 }, { delivery, log: pino({ level: 'silent' }) });
    core.apply({ kind: 'login', client: RITA, addr: R, name: 'rita' });
    expect(core.admits(1, A, '127.0.0.1')).toBe(true);
    core.enter(local(1, ALICE, A), 0);
    delivery.take();
    expect(core.admits(2, '127.0.0.1:1002', '127.0.0.1')).toBe(false);
    const [close] = delivery.take();
    expect(close?.slice(0, 2)).toEqual(['close', 2]);
    expect(close?.[3]).toBe(CloseReason.ServerFull);
  });

  it('hands over idle clients once, warns the admitted ones first, and skips those already leaving', () => {
    const delivery = new RecordingDelivery();
    const core = new RoomCore<string>(SETTINGS, { delivery, log: pino({ level: 'silent' }) });
    const alice = local(1, ALICE, A);
    const bob = local(2, 'here/2', '127.0.0.1:1002');
    core.enter(alice, 0);
    core.enter(bob, 0);
    core.apply({ kind: 'login', client: ALICE, addr: A, name: 'alice' });
    delivery.take();
    expect(core.takeIdle(50_000)).toEqual([]);
    expect(delivery.take().map((op) => op.slice(0, 2))).toEqual([['send', 1]]);
    core.startLeaving(bob, CloseReason.Quit);
    expect(core.takeIdle(60_000)).toEqual([alice]);
    expect(core.takeIdle(60_000)).toEqual([]);
  });
});
