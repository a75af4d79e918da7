// Resume across nodes (docs/CLUSTER.md §9, PROTOCOL.md §10.3-§10.5) on ClusterRooms sharing an
// in-memory Redis: a token on one node, a drop, and the session taken back on another, with what
// it missed exactly once, its name back on every node, and its name held meanwhile.

import { beforeEach, describe, expect, it } from 'vitest';
import { HEARTBEAT_MS, LINK_DOWN_NOTICE, LINK_UP_NOTICE, NODE_TTL_MS } from '../../cluster/cluster-room.ts';
import { READ_RETRY_MS } from '../../cluster/cluster-stream.ts';
import type { Command } from '../../protocol/index.ts';
import { CloseReason } from '../../room/close-reason.ts';
import type { RoomSettings } from '../../room/room.ts';
import type { Op } from '../helpers/recording-delivery.ts';
import { rename, SETTINGS, TestCluster, type TestNode } from './test-cluster.ts';

// alice on n1, then again on n2; bob and mallory on n2.
const ALICE = 1;
const BOB = 1;
const ALICE_AGAIN = 2;
const MALLORY = 3;
const A = '10.0.0.1:1001';
const B = '10.0.0.2:2001';
const A2 = '10.0.0.1:1002';
const M = '10.0.0.6:1006';
const WINDOW_MS = 120_000;
/** The ManualClock's start, when every entry of these tests is said. */
const TIME = '1970-01-01T00:00:01.000Z';
const HISTORY_SETTINGS: RoomSettings = { ...SETTINGS, historySize: 5 };

const TOKEN = /^token ([A-Za-z0-9_-]{22}) @(\d+)\r\n$/;
const RESUMED = /^resumed ([A-Za-z0-9_-]{22}) @(\d+)\r\n$/;
const UNAVAILABLE = 'error: this server has lost its link to the other chat servers; try again in a moment\r\n';
const REFUSED = 'error: cannot resume: that token is unknown, used, or older than the resume window (120 s); lines said since you left may be missed: /history shows the last ones\r\n';
const login = (addr: string, name = addr): string => `[${addr}]${name}:login\r\n`;
const loggedOut = (addr: string, name = addr): string => `[${addr}]${name}:login out\r\n`;
const resume = (token: string, position: number): Command => ({ type: 'resume', token, position });

describe('ClusterRoom resume across nodes', () => {
  let cluster: TestCluster;
  let n1: TestNode;
  let n2: TestNode;

  beforeEach(async () => {
    cluster = new TestCluster();
    n1 = await cluster.start('n1', HISTORY_SETTINGS);
    n2 = await cluster.start('n2', HISTORY_SETTINGS);
    n1.connect(ALICE, A);
    n2.connect(BOB, B);
    n1.command(ALICE, rename('alice'));
    await cluster.settle();
    n1.take();
    n2.take();
  });

  /** Alice asks for a token on n1: the token, and the position the reply gives. */
  async function aliceToken(): Promise<[token: string, position: number]> {
    n1.command(ALICE, { type: 'token' });
    await cluster.settle();
    const ops = n1.take();
    expect(ops[0]).toEqual(['position', ALICE]);
    const match = TOKEN.exec(String(ops[1]![2]));
    expect(match, String(ops[1]![2])).not.toBeNull();
    return [match![1]!, Number(match![2])];
  }

  /** Alice gets a token on n1, then her connection drops: the session is held. */
  async function aliceDropsWithToken(): Promise<string> {
    const [token] = await aliceToken();
    n1.disconnect(ALICE);
    await cluster.settle();
    n1.take();
    n2.take();
    return token;
  }

  /** `stalled` stops beating while n2 goes on, until n2 gives it up. */
  async function giveUp(): Promise<void> {
    await cluster.advance(NODE_TTL_MS - HEARTBEAT_MS);
    n2.timers.beat();
    await cluster.advance(2 * HEARTBEAT_MS);
    n2.timers.beat();
    await cluster.settle();
  }

  it('gives a token with the current position, then positions on the live lines of that client only', async () => {
    expect(await aliceToken()).toEqual([expect.any(String), 1]);
    n2.say(BOB, 'hi');
    await cluster.settle();
    expect(n1.take()).toEqual([['broadcast', `[${B}]${B}:hi\r\n`, -1, `@2 [${B}]${B}:hi\r\n`]]);
    expect(n2.take()).toEqual([['broadcast', `[${B}]${B}:hi\r\n`, -1]]);
  });

  it('answers /token again with the same token and the position now', async () => {
    const [token] = await aliceToken();
    n2.say(BOB, 'hi');
    await cluster.settle();
    n1.take();
    n1.command(ALICE, { type: 'token' });
    await cluster.settle();
    expect(n1.take()).toEqual([['send', ALICE, `token ${token} @2\r\n`]]);
  });

  it('holds a dropped session: every node sees the leave at once, and its name is refused on every node until the window ends', async () => {
    await aliceToken();
    n1.disconnect(ALICE);
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['close', ALICE, null, CloseReason.ClientClosed],
      ['broadcast', loggedOut(A, 'alice'), -1],
    ]);
    expect(n2.take()).toEqual([['broadcast', loggedOut(A, 'alice'), -1]]);
    n2.command(BOB, rename('ALICE'));
    n2.command(BOB, { type: 'msg', to: 'alice', text: 'psst' });
    await cluster.settle();
    expect(n2.take()).toEqual([
      ['send', BOB, 'error: the name ALICE is taken; pick another\r\n'],
      ['send', BOB, 'error: nobody named alice is online; try who\r\n'],
    ]);
    await cluster.advance(WINDOW_MS);
    n2.command(BOB, rename('ALICE'));
    await cluster.settle();
    expect(n2.take()).toEqual([
      ['send', BOB, 'rename ok\r\n'],
      ['broadcast', `[${B}]${B}:renamed to ALICE\r\n`, BOB],
    ]);
  });

  it('resumes on another node: what it missed up to its connect, its name back as a login on every node, then a new token', async () => {
    const token = await aliceDropsWithToken();
    n2.say(BOB, 'are you there?');
    n2.connect(ALICE_AGAIN, A2);
    await cluster.settle();
    n2.say(BOB, 'said after the connect');
    await cluster.settle();
    n1.take();
    n2.take();
    n2.command(ALICE_AGAIN, resume(token, 1));
    await cluster.settle();
    const ops = n2.take();
    expect(ops).toEqual([
      ['send', ALICE_AGAIN, `resume: 1 entry you missed\r\nhistory @2 ${TIME} [${B}]${B}:are you there?\r\n`],
      ['broadcast', login(A2, 'alice'), -1],
      ['position', ALICE_AGAIN],
      ['send', ALICE_AGAIN, expect.stringMatching(RESUMED)],
    ]);
    expect(RESUMED.exec(String(ops[3]![2]))!.slice(1)).toEqual([expect.not.stringMatching(token), '3']);
    expect(n1.take()).toEqual([['broadcast', login(A2, 'alice'), -1]]);
    expect(n1.room.who()).toEqual([
      { addr: B, name: B },
      { addr: A2, name: 'alice' },
    ]);
  });

  it('resumes in a WebSocket handshake on another node: what it missed, the login under its name, the greeting, then the token', async () => {
    const token = await aliceDropsWithToken();
    n2.say(BOB, 'are you there?');
    await cluster.settle();
    n2.take();
    n2.connect(ALICE_AGAIN, A2, { token, position: 1 });
    await cluster.settle();
    expect(n2.take()).toEqual([
      ['send', ALICE_AGAIN, `resume: 1 entry you missed\r\nhistory @2 ${TIME} [${B}]${B}:are you there?\r\n`],
      ['admit', ALICE_AGAIN],
      ['broadcast', login(A2, 'alice'), -1],
      ['send', ALICE_AGAIN, `[${A2}]alice:I am here\r\n`],
      ['position', ALICE_AGAIN],
      ['send', ALICE_AGAIN, expect.stringMatching(RESUMED)],
    ]);
  });

  it('lets a refused handshake in as a newcomer, told why after its greeting', async () => {
    n2.connect(ALICE_AGAIN, A2, { token: 'nope', position: 0 });
    await cluster.settle();
    expect(n2.take()).toEqual([
      ['admit', ALICE_AGAIN],
      ['broadcast', login(A2), -1],
      ['send', ALICE_AGAIN, `[${A2}]${A2}:I am here\r\n`],
      ['send', ALICE_AGAIN, REFUSED],
    ]);
  });

  it('uses a token once, whichever node it is given to', async () => {
    const token = await aliceDropsWithToken();
    n2.connect(ALICE_AGAIN, A2, { token, position: 1 });
    n1.connect(MALLORY, M);
    await cluster.settle();
    n1.take();
    n1.command(MALLORY, resume(token, 1));
    await cluster.settle();
    expect(n1.take()).toEqual([['send', MALLORY, REFUSED]]);
  });

  it('refuses a position past the newest entry without using the token up', async () => {
    const token = await aliceDropsWithToken();
    n2.connect(ALICE_AGAIN, A2);
    await cluster.settle();
    n2.take();
    n2.command(ALICE_AGAIN, resume(token, 9));
    await cluster.settle();
    expect(n2.take()).toEqual([
      ['send', ALICE_AGAIN, 'error: cannot resume at @9: the chat is only at @1; send the position of the last line you received\r\n'],
    ]);
    n2.command(ALICE_AGAIN, resume(token, 1));
    await cluster.settle();
    expect(n2.take()).toContainEqual(['broadcast', login(A2, 'alice'), -1]);
  });

  it('takes over a session whose connection is still online on another node: that one is closed and its leave shown first', async () => {
    const [token] = await aliceToken();
    n2.connect(ALICE_AGAIN, A2);
    await cluster.settle();
    n1.take();
    n2.take();
    n2.command(ALICE_AGAIN, resume(token, 1));
    await cluster.settle();
    expect(n1.take()).toEqual([
      ['close', ALICE, null, CloseReason.Replaced],
      ['broadcast', loggedOut(A, 'alice'), -1],
      ['broadcast', login(A2, 'alice'), -1],
    ]);
    expect(n2.take().slice(0, 3)).toEqual([
      ['broadcast', loggedOut(A, 'alice'), -1],
      ['send', ALICE_AGAIN, 'resume: 0 entries you missed\r\n'],
      ['broadcast', login(A2, 'alice'), -1],
    ]);
  });

  it('holds the sessions of a node given up for dead, so that its client resumes on another node', async () => {
    const [token] = await aliceToken();
    await giveUp();
    expect(n2.take()).toEqual([['broadcast', loggedOut(A, 'alice'), -1]]);
    n2.connect(MALLORY, M);
    await cluster.settle();
    n2.command(MALLORY, rename('alice'));
    await cluster.settle();
    expect(n2.take()).toContainEqual(['send', MALLORY, 'error: the name alice is taken; pick another\r\n']);
    n2.connect(ALICE_AGAIN, A2, { token, position: 1 });
    await cluster.settle();
    expect(n2.take()).toContainEqual(['broadcast', login(A2, 'alice'), -1]);
  });

  it('refuses /token and /resume while its link is down, and lets a handshake resume in as a newcomer with the same error', async () => {
    const [token] = await aliceToken();
    n2.command(BOB, { type: 'token' });
    await cluster.settle();
    n2.take();
    n2.link.down();
    n2.connect(ALICE_AGAIN, A2, { token, position: 1 });
    n2.command(BOB, resume(token, 1));
    await cluster.settle();
    const ops = n2.take().filter((op: Op) => op[0] !== 'broadcast' || op[1] !== login(A2));
    expect(ops.slice(1)).toEqual([
      ['admit', ALICE_AGAIN],
      ['send', ALICE_AGAIN, `[${A2}]${A2}:I am here\r\n`],
      ['send', ALICE_AGAIN, UNAVAILABLE],
      ['send', BOB, UNAVAILABLE],
    ]);
    n2.connect(MALLORY, M);
    n2.command(MALLORY, { type: 'token' });
    await cluster.settle();
    expect(n2.take().at(-1)).toEqual(['send', MALLORY, UNAVAILABLE]);
    // The session was not touched: it is still alice's on n1.
    expect(cluster.redis.sessionRecords).toEqual({ online: 2, held: 0 });
  });

  it('carries out a resume Redis answered but whose login it had not read when its link dropped, once', async () => {
    const token = await aliceDropsWithToken();
    n2.connect(ALICE_AGAIN, A2);
    await cluster.settle();
    n2.take();
    n2.link.hold('reads');
    n2.command(ALICE_AGAIN, resume(token, 1));
    await cluster.settle();
    expect(n2.take()).toEqual([]);
    n2.link.down();
    await cluster.settle();
    expect(n2.take()).toEqual([
      ['send', ALICE_AGAIN, 'resume: 0 entries you missed\r\n'],
      ['broadcast', login(A2, 'alice'), -1],
      ['position', ALICE_AGAIN],
      ['send', ALICE_AGAIN, expect.stringMatching(RESUMED)],
      ['broadcast', `*** ${LINK_DOWN_NOTICE}\r\n`, -1],
    ]);
    n2.link.up();
    await cluster.advance(READ_RETRY_MS);
    expect(n2.take()).toEqual([['broadcast', `*** ${LINK_UP_NOTICE}\r\n`, -1]]);
  });

  it('holds nothing after /quit or an idle timeout', async () => {
    await aliceToken();
    n2.command(BOB, { type: 'token' });
    await cluster.settle();
    expect(cluster.redis.sessionRecords).toEqual({ online: 2, held: 0 });
    n1.command(ALICE, { type: 'quit' });
    n2.room.expireIdle(60_000);
    await cluster.settle();
    expect(cluster.redis.sessionRecords).toEqual({ online: 0, held: 0 });
    n1.connect(MALLORY, M);
    await cluster.settle();
    n1.take();
    n1.command(MALLORY, rename('alice'));
    await cluster.settle();
    expect(n1.take()).toContainEqual(['send', MALLORY, 'rename ok\r\n']);
  });

  it('refuses /token and /resume with --resume-window 0, on a line and in a handshake', async () => {
    const off = await cluster.start('n3', { ...SETTINGS, resumeWindowSeconds: 0 });
    off.connect(MALLORY, M);
    await cluster.settle();
    off.take();
    off.command(MALLORY, { type: 'token' });
    off.command(MALLORY, resume('x', 0));
    off.connect(4, '10.0.0.7:7', { token: 'x', position: 0 });
    await cluster.settle();
    const OFF = 'error: this server does not hold sessions (--resume-window 0)\r\n';
    expect(off.take().filter((op) => op[0] === 'send' && String(op[2]).startsWith('error'))).toEqual([
      ['send', MALLORY, OFF],
      ['send', MALLORY, OFF],
      ['send', 4, OFF],
    ]);
  });
});
