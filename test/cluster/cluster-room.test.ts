// The cluster's room alone: two or three ClusterRooms sharing one in-memory Redis (MemoryRedis),
// each with its own recording Delivery, a hand-moved clock and heartbeats that run when the test
// says (test/cluster/test-cluster.ts). No sockets and no redis-server: the real ones are
// test/cluster/cluster.test.ts and failures.test.ts, and test/cluster/scripts.test.ts holds the
// in-memory scripts to the Lua.

import { beforeEach, describe, expect, it } from 'vitest';
import { READ_RETRY_MS } from '../../cluster/cluster-stream.ts';
import { HEARTBEAT_MS, LINK_DOWN_NOTICE, LINK_UP_NOTICE, NODE_TTL_MS } from '../../cluster/cluster-room.ts';
import { CloseReason } from '../../room/close-reason.ts';
import type { Op } from '../helpers/recording-delivery.ts';
import { rename, SETTINGS, TestCluster, type TestNode } from './test-cluster.ts';

// The actors: alice and carol on n1, bob on n2, and mallory wherever a test needs trouble.
// Connection ids are each node's own: alice and bob are both 1.
const ALICE = 1;
const CAROL = 2;
const MALLORY = 3;
const BOB = 1;
const A = '10.0.0.1:1001';
const C = '10.0.0.3:1003';
const M = '10.0.0.6:1006';
const B = '10.0.0.2:2001';

const login = (addr: string, name = addr): string => `[${addr}]${name}:login\r\n`;
const greeting = (addr: string): string => `[${addr}]${addr}:I am here\r\n`;
const chat = (addr: string, name: string, text: string): string => `[${addr}]${name}:${text}\r\n`;
const loggedOut = (addr: string, name = addr): string => `[${addr}]${name}:login out\r\n`;
const notice = (text: string): string => `*** ${text}\r\n`;
const UNAVAILABLE = 'error: this server has lost its link to the other chat servers; try again in a moment\r\n';

describe('ClusterRoom', () => {
  let cluster: TestCluster;
  let n1: TestNode;
  let n2: TestNode;

  beforeEach(async () => {
    cluster = new TestCluster();
    n1 = await cluster.start('n1');
    n2 = await cluster.start('n2');
  });

  /** alice on n1 and bob on n2, online and seen by both nodes; the deliveries start empty. */
  async function aliceAndBob(): Promise<void> {
    n1.connect(ALICE, A);
    n2.connect(BOB, B);
    await cluster.settle();
    n1.take();
    n2.take();
  }

  /** `stalled` stops beating while every other node goes on, until its heartbeat runs out and one of them gives it up. */
  /** n1's link comes back: its notice, then bob's next line, and nothing of before shown again. */
  async function expectBackWithNothingTwice(): Promise<void> {
    n1.link.up();
    await cluster.advance(READ_RETRY_MS);
    n2.say(BOB, 'after');
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', notice(LINK_UP_NOTICE), -1],
      ['broadcast', chat(B, B, 'after'), -1],
    ]);
  }

  async function giveUp(stalled: TestNode): Promise<void> {
    const others = [n1, n2].filter((node) => node !== stalled);
    await cluster.advance(NODE_TTL_MS - HEARTBEAT_MS);
    for (const node of others) node.timers.beat();
    await cluster.advance(2 * HEARTBEAT_MS);
    for (const node of others) node.timers.beat();
    await cluster.settle();
  }

  it('admits a newcomer, announces its login on every node and greets it only on its own, in that order', async () => {
    const n3 = await cluster.start('n3');
    n1.connect(ALICE, A);
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['admit', ALICE],
      ['broadcast', login(A), -1],
      ['send', ALICE, greeting(A)],
    ]);
    expect(n2.take()).toEqual([['broadcast', login(A), -1]]);
    expect(n3.take()).toEqual([['broadcast', login(A), -1]]);
  });

  it('delivers the lines of two nodes in one order on every node, its own lines included', async () => {
    await aliceAndBob();
    n1.say(ALICE, 'one');
    n2.say(BOB, 'two');
    n1.say(ALICE, 'three');
    await cluster.settle();
    const inOrder: Op[] = [
      ['broadcast', chat(A, A, 'one'), -1],
      ['broadcast', chat(B, B, 'two'), -1],
      ['broadcast', chat(A, A, 'three'), -1],
    ];
    expect(n1.take()).toEqual(inOrder);
    expect(n2.take()).toEqual(inOrder);
  });

  it('refuses a rename to a name held on another node, in another case or a look-alike, and tells nobody else', async () => {
    n2.connect(BOB, B);
    n1.connect(MALLORY, M);
    n2.command(BOB, rename('Iris'));
    await cluster.settle();
    n1.take();
    n2.take();
    n1.command(MALLORY, rename('IRIS'));
    // The skeleton key: a capital I looks like an l.
    n1.command(MALLORY, rename('lris'));
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['send', MALLORY, 'error: the name IRIS is taken; pick another\r\n'],
      ['send', MALLORY, 'error: the name lris is taken; pick another\r\n'],
    ]);
    expect(n2.take()).toEqual([]);
    expect(n1.room.who()).toEqual([
      { addr: B, name: 'Iris' },
      { addr: M, name: M },
    ]);
  });

  it('answers who after a rename only once the rename is confirmed, even when Redis answers before the stream is read', async () => {
    await aliceAndBob();
    n1.link.hold();
    n1.command(ALICE, rename('alice'));
    n1.command(ALICE, { type: 'who' });
    await cluster.settle();
    expect(n1.take()).toEqual([]);
    // The other node reads the rename as soon as Redis has run it.
    expect(n2.take()).toEqual([['broadcast', `[${A}]${A}:renamed to alice\r\n`, -1]]);
    n1.link.release();
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['send', ALICE, 'rename ok\r\n'],
      ['broadcast', `[${A}]${A}:renamed to alice\r\n`, ALICE],
      ['send', ALICE, `user list:\r\n${A}:alice\r\n${B}:${B}\r\n`],
    ]);
  });

  it('delivers a /msg across nodes to its recipient only and confirms it to the sender', async () => {
    await aliceAndBob();
    n2.command(BOB, rename('bob'));
    n1.connect(CAROL, C);
    await cluster.settle();
    n1.take();
    n2.take();
    n1.command(ALICE, { type: 'msg', to: 'BOB', text: 'psst' });
    await cluster.settle();
    expect(n2.take()).toEqual([['send', BOB, `[${A}]${A} (private):psst\r\n`]]);
    expect(n1.take()).toEqual([['send', ALICE, 'msg ok\r\n']]);
  });

  it('answers a /msg to a name nobody holds with no-such-user, and nobody else hears of it', async () => {
    await aliceAndBob();
    n1.command(ALICE, { type: 'msg', to: 'dave', text: 'psst' });
    await cluster.settle();
    expect(n1.take()).toEqual([['send', ALICE, 'error: nobody named dave is online; try who\r\n']]);
    expect(n2.take()).toEqual([]);
  });

  it('closes a client that quits before anyone, on any node, is told it logged out', async () => {
    await aliceAndBob();
    n2.command(BOB, { type: 'quit' });
    await cluster.settle();
    expect(n2.take()).toEqual([
      ['close', BOB, null, CloseReason.Quit],
      ['broadcast', loggedOut(B), -1],
    ]);
    expect(n1.take()).toEqual([['broadcast', loggedOut(B), -1]]);
    expect(cluster.redis.online).toEqual([{ client: 'n1/1', name: A }]);
  });

  it('times out an idle client: the others see it time out, and it is told why and closed', async () => {
    await aliceAndBob();
    n1.room.expireIdle(50_000);
    expect(n1.take()).toEqual([['send', ALICE, '*** you will be timed out in 10 s; send any line to stay\r\n']]);
    n1.room.expireIdle(60_000);
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', `[${A}]${A}:time out leave out\r\n`, ALICE],
      ['close', ALICE, 'error: no line from you for 60 s; disconnected (send any line to stay)\r\n', CloseReason.IdleTimeout],
    ]);
    expect(n2.take()).toEqual([['broadcast', `[${A}]${A}:time out leave out\r\n`, -1]]);
  });

  it('still greets a client whose socket closed while its join was in flight, then closes it', async () => {
    n1.link.hold();
    n1.connect(ALICE, A);
    n1.disconnect(ALICE);
    await cluster.settle();
    expect(n1.take()).toEqual([]);
    n1.link.release();
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['admit', ALICE],
      ['broadcast', login(A), -1],
      ['send', ALICE, greeting(A)],
      ['close', ALICE, null, CloseReason.ClientClosed],
      ['broadcast', loggedOut(A), -1],
    ]);
    expect(n2.take()).toEqual([
      ['broadcast', login(A), -1],
      ['broadcast', loggedOut(A), -1],
    ]);
  });

  it('serves its own clients alone while its link is down: a notice, local lines, and no rename or /msg to another node', async () => {
    await aliceAndBob();
    n1.connect(CAROL, C);
    n1.command(CAROL, rename('carol'));
    n2.command(BOB, rename('bob'));
    await cluster.settle();
    n1.take();
    n2.take();
    n1.link.down();
    await cluster.settle();
    expect(n1.take()).toEqual([['broadcast', notice(LINK_DOWN_NOTICE), -1]]);
    n1.say(ALICE, 'anyone?');
    n1.command(ALICE, rename('alice'));
    n1.command(ALICE, { type: 'msg', to: 'bob', text: 'psst' });
    n1.command(ALICE, { type: 'msg', to: 'carol', text: 'psst' });
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', chat(A, A, 'anyone?'), -1],
      ['send', ALICE, UNAVAILABLE],
      ['send', ALICE, UNAVAILABLE],
      ['send', CAROL, `[${A}]${A} (private):psst\r\n`],
      ['send', ALICE, 'msg ok\r\n'],
    ]);
    expect(n2.take()).toEqual([]);
  });

  it('comes back with its link: the notice, a resync of who came and went meanwhile, and lines reach both nodes again', async () => {
    await aliceAndBob();
    n1.link.down();
    n1.connect(CAROL, C);
    n1.disconnect(ALICE);
    n2.say(BOB, 'still there?');
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', notice(LINK_DOWN_NOTICE), -1],
      ['admit', CAROL],
      ['broadcast', login(C), -1],
      ['send', CAROL, greeting(C)],
      ['close', ALICE, null, CloseReason.ClientClosed],
      ['broadcast', loggedOut(A), -1],
    ]);
    expect(n2.take()).toEqual([['broadcast', chat(B, B, 'still there?'), -1]]);
    n1.link.up();
    await cluster.settle();
    expect(n1.take()).toEqual([['broadcast', notice(LINK_UP_NOTICE), -1]]);
    expect(n2.take()).toEqual([
      ['broadcast', loggedOut(A), -1],
      ['broadcast', login(C), -1],
    ]);
    expect(cluster.redis.online).toEqual([
      { client: 'n2/1', name: B },
      { client: 'n1/2', name: C },
    ]);
    // n1 reads on from where it was: what n2 said meanwhile, once; its own resync is no news.
    await cluster.advance(READ_RETRY_MS);
    expect(n1.take()).toEqual([['broadcast', chat(B, B, 'still there?'), -1]]);
    n1.say(CAROL, 'hello again');
    n2.say(BOB, 'welcome');
    await cluster.settle();
    const both: Op[] = [
      ['broadcast', chat(C, C, 'hello again'), -1],
      ['broadcast', chat(B, B, 'welcome'), -1],
    ];
    expect(n1.take()).toEqual(both);
    expect(n2.take()).toEqual(both);
  });

  it('shows a line whose reply was held when the link dropped once, not again when its entry comes back', async () => {
    await aliceAndBob();
    n1.link.hold();
    n1.say(ALICE, 'hello');
    n1.link.down();
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', notice(LINK_DOWN_NOTICE), -1],
      ['broadcast', chat(A, A, 'hello'), -1],
    ]);
    // Redis did run it: the other node shows it from the stream.
    expect(n2.take()).toEqual([['broadcast', chat(A, A, 'hello'), -1]]);
    await expectBackWithNothingTwice();
  });

  it('shows a line and a rename once when the stream brought them before the link dropped with their replies still on the way', async () => {
    await aliceAndBob();
    n1.link.hold('scripts');
    n1.say(ALICE, 'hello');
    n1.command(ALICE, rename('alice'));
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', chat(A, A, 'hello'), -1],
      ['send', ALICE, 'rename ok\r\n'],
      ['broadcast', `[${A}]${A}:renamed to alice\r\n`, ALICE],
    ]);
    // Both are done and shown: the link's loss changes nothing for them.
    n1.link.down();
    await cluster.settle();
    expect(n1.take()).toEqual([['broadcast', notice(LINK_DOWN_NOTICE), -1]]);
  });

  it('shows a line Redis took but this node had not read at once when the link drops, before the notice, and not again', async () => {
    await aliceAndBob();
    n1.link.hold('reads');
    n1.say(ALICE, 'hello');
    await cluster.settle();
    expect(n1.take()).toEqual([]);
    n1.link.down();
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', chat(A, A, 'hello'), -1],
      ['broadcast', notice(LINK_DOWN_NOTICE), -1],
    ]);
    await expectBackWithNothingTwice();
  });

  it('does not show a client that joined as the link dropped and left during the outage logging in and out again afterwards', async () => {
    n2.connect(BOB, B);
    await cluster.settle();
    n1.take();
    n2.take();
    n1.link.hold();
    n1.connect(ALICE, A);
    n1.connect(CAROL, C);
    n1.link.down();
    await cluster.settle();
    n1.disconnect(ALICE);
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['broadcast', notice(LINK_DOWN_NOTICE), -1],
      ['admit', ALICE],
      ['broadcast', login(A), -1],
      ['send', ALICE, greeting(A)],
      ['admit', CAROL],
      ['broadcast', login(C), -1],
      ['send', CAROL, greeting(C)],
      ['close', ALICE, null, CloseReason.ClientClosed],
      ['broadcast', loggedOut(A), -1],
    ]);
    n1.link.up();
    await cluster.advance(READ_RETRY_MS);
    expect(n2.take()).toEqual([
      ['broadcast', login(A), -1],
      ['broadcast', login(C), -1],
      ['broadcast', loggedOut(A), -1],
    ]);
    // Both joins ran in Redis and come back; alice's is no news: she has been and gone here.
    expect(n1.take()).toEqual([['broadcast', notice(LINK_UP_NOTICE), -1]]);
  });

  it('answers a rename and a /msg, and shows a line, sent between its node being given up and its next heartbeat', async () => {
    await aliceAndBob();
    await giveUp(n1);
    n1.take();
    n2.take();
    // Redis no longer knows alice: each script answers `gone`. Until the heartbeat brings her
    // back, her node serves her alone, as while its link is down.
    n1.command(ALICE, rename('alice'));
    n1.say(ALICE, 'anyone?');
    n1.command(ALICE, { type: 'msg', to: B, text: 'psst' });
    await cluster.settle();
    expect(n2.take()).toEqual([]);
    expect(n1.take()).toEqual([
      ['send', ALICE, UNAVAILABLE],
      ['broadcast', chat(A, A, 'anyone?'), -1],
      ['send', ALICE, UNAVAILABLE],
    ]);
  });

  it('is not told its own clients left when its node is given up for dead, and brings them back once on its next heartbeat', async () => {
    await aliceAndBob();
    n1.command(ALICE, rename('alice'));
    await cluster.settle();
    n1.take();
    n2.take();
    await giveUp(n1);
    expect(n2.take()).toEqual([['broadcast', loggedOut(A, 'alice'), -1]]);
    expect(n1.take()).toEqual([]);
    expect(cluster.redis.online).toEqual([{ client: 'n2/1', name: B }]);
    // Two heartbeats answer `lost` before the first one's resync: it registers her once.
    n1.timers.beat();
    n1.timers.beat();
    await cluster.settle();
    expect(n2.take()).toEqual([['broadcast', login(A, 'alice'), -1]]);
    expect(n1.take()).toEqual([]);
    expect(cluster.redis.online).toEqual([
      { client: 'n2/1', name: B },
      { client: 'n1/1', name: 'alice' },
    ]);
    n1.say(ALICE, 'still me');
    await cluster.settle();
    expect(n1.take()).toEqual([['broadcast', chat(A, 'alice', 'still me'), -1]]);
    expect(n2.take()).toEqual([['broadcast', chat(A, 'alice', 'still me'), -1]]);
  });

  it('refuses a client past --max-clients by the count of its own node, not the cluster', async () => {
    const full = { ...SETTINGS, maxClients: 1 };
    const small1 = await cluster.start('s1', full);
    const small2 = await cluster.start('s2', full);
    small1.connect(ALICE, A);
    await cluster.settle();
    small2.connect(BOB, B);
    await cluster.settle();
    expect(small1.take()).toContainEqual(['admit', ALICE]);
    expect(small2.take()).toContainEqual(['admit', BOB]);
    small1.connect(MALLORY, M);
    await cluster.settle();
    expect(small1.take()).toEqual([['close', MALLORY, 'error: server full (1 clients); try again later\r\n', CloseReason.ServerFull]]);
    expect(small2.take()).toEqual([]);
    expect(small1.room.online).toBe(2);
    expect(cluster.redis.online.map(({ client }) => client)).toEqual(['s1/1', 's2/1']);
  });

  it('knows who is online from the snapshot when it starts after others, and follows the chat from there', async () => {
    await aliceAndBob();
    n2.command(BOB, rename('bob'));
    await cluster.settle();
    const n3 = await cluster.start('n3');
    expect(n3.room.who()).toEqual([
      { addr: A, name: A },
      { addr: B, name: 'bob' },
    ]);
    n1.say(ALICE, 'hi');
    await cluster.settle();
    expect(n3.take()).toEqual([['broadcast', chat(A, A, 'hi'), -1]]);
  });

  it('sends an operator announcement to every node and counts everyone online in the cluster', async () => {
    await aliceAndBob();
    expect(n2.room.announce('maintenance at 5')).toBe(2);
    await cluster.settle();
    expect(n1.take()).toEqual([['broadcast', notice('maintenance at 5'), -1]]);
    expect(n2.take()).toEqual([['broadcast', notice('maintenance at 5'), -1]]);
  });

  it('takes its clients out of the cluster when it stops, and the others see each leave', async () => {
    await aliceAndBob();
    await n2.room.stop();
    await cluster.settle();
    expect(n1.take()).toEqual([['broadcast', loggedOut(B), -1]]);
    expect(cluster.redis.online).toEqual([{ client: 'n1/1', name: A }]);
  });
});
