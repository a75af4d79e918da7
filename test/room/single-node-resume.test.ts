// History and resume on one node (PROTOCOL.md §10): a SingleNodeRoom driven by events, with a
// recording Delivery, a fixed time of day and a fake monotonic clock.

import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Command } from '../../protocol/index.ts';
import { CloseReason } from '../../room/close-reason.ts';
import type { HistoryEntry, HistorySink } from '../../room/history.ts';
import type { RoomSettings } from '../../room/room.ts';
import { SingleNodeRoom } from '../../room/single-node-room.ts';
import { RecordingDelivery, type Op } from '../helpers/recording-delivery.ts';

const ALICE = 1;
const BOB = 2;
const ALICE_AGAIN = 3;
const A = '127.0.0.1:1001';
const B = '127.0.0.1:1002';
const A2 = '127.0.0.1:1003';
/** 2026-12-02T01:20:00.000Z */
const TIME = Date.UTC(2026, 11, 2, 1, 20, 0);
const STAMP = '2026-12-02T01:20:00.000Z';
const SETTINGS: RoomSettings = { maxClients: 10, maxPerIp: 0, idleTimeoutSeconds: 60, rateLimit: 2, rateBurst: 5, motd: [], historySize: 5 };
const WINDOW_MS = 120_000;

const text = (line: string): Command => ({ type: 'text', text: line });

class RecordingSink implements HistorySink {
  readonly entries: HistoryEntry[] = [];
  append(entry: HistoryEntry): void {
    this.entries.push(entry);
  }
}

describe('SingleNodeRoom history and resume', () => {
  let delivery: RecordingDelivery;
  let sink: RecordingSink;
  let room: SingleNodeRoom;
  let now: number;

  function start(settings: RoomSettings = SETTINGS, entries: HistoryEntry[] = []): void {
    delivery = new RecordingDelivery();
    sink = new RecordingSink();
    room = new SingleNodeRoom(settings, { delivery, log: pino({ level: 'silent' }), wallClock: () => TIME, history: { entries, sink } });
    now = 0;
    room.handle({ kind: 'connect', id: ALICE, addr: A, ip: '127.0.0.1' }, now);
    room.handle({ kind: 'connect', id: BOB, addr: B, ip: '127.0.0.1' }, now);
    room.handle({ kind: 'command', id: ALICE, command: { type: 'rename', name: 'alice' } }, now);
    delivery.take();
  }
  const say = (id: number, line: string): void => room.handle({ kind: 'command', id, command: text(line) }, now);
  const command = (id: number, given: Command): Op[] => {
    room.handle({ kind: 'command', id, command: given }, now);
    return delivery.take();
  };
  /** Alice asks for a token, then drops (a reset): her session is held. */
  function aliceDropsWithToken(): string {
    const [reply] = command(ALICE, { type: 'token' }).filter((op) => op[0] === 'send');
    const token = /^token (\S+) @\d+\r\n$/.exec(String(reply![2]))![1]!;
    room.handle({ kind: 'disconnect', id: ALICE, reason: CloseReason.ClientClosed }, now);
    return token;
  }

  beforeEach(() => start());

  it('keeps the rename, the chat lines and announcements in order, with positions and times, and hands each to the sink', () => {
    say(BOB, 'hi');
    room.announce('maintenance at 17:00');
    expect(sink.entries).toEqual([
      { position: 1, time: TIME, kind: 'rename', addr: A, name: A, text: 'alice' },
      { position: 2, time: TIME, kind: 'chat', addr: B, name: B, text: 'hi' },
      { position: 3, time: TIME, kind: 'announce', addr: '', name: '', text: 'maintenance at 17:00' },
    ]);
  });

  it('answers /history with the header and the lines, to the asker only', () => {
    say(BOB, 'hi');
    delivery.take();
    expect(command(BOB, { type: 'history', count: 2 })).toEqual([
      [
        'send',
        BOB,
        `history: 2 entries\r\nhistory @1 ${STAMP} [${A}]${A}:renamed to alice\r\nhistory @2 ${STAMP} [${B}]${B}:hi\r\n`,
      ],
    ]);
    expect(command(BOB, { type: 'history', count: 1 })[0]![2]).toBe(`history: 1 entry\r\nhistory @2 ${STAMP} [${B}]${B}:hi\r\n`);
  });

  it('keeps private messages, logins and leaves out of the history', () => {
    room.handle({ kind: 'command', id: BOB, command: { type: 'msg', to: 'alice', text: 'psst' } }, now);
    room.handle({ kind: 'disconnect', id: BOB, reason: CloseReason.Quit }, now);
    expect(sink.entries.map((kept) => kept.kind)).toEqual(['rename']);
  });

  it('sends --history-on-join entries to a newcomer after its greeting', () => {
    start({ ...SETTINGS, historyOnJoin: 3 });
    room.handle({ kind: 'connect', id: 9, addr: '127.0.0.1:1009', ip: '127.0.0.1' }, now);
    const sends = delivery.take().filter((op) => op[0] === 'send' && op[1] === 9);
    expect(sends.map((op) => String(op[2]).split('\r\n')[0])).toEqual(['[127.0.0.1:1009]127.0.0.1:1009:I am here', 'history: 1 entry']);
  });

  it('continues the positions of the entries a store kept', () => {
    start(SETTINGS, [{ position: 41, time: TIME, kind: 'chat', addr: B, name: 'bob', text: 'before the restart' }]);
    expect(sink.entries[0]!.position).toBe(42);
  });

  it('gives a token with the current position, then positions on the live history lines of that client only', () => {
    expect(command(ALICE, { type: 'token' })).toEqual([
      ['position', ALICE],
      ['send', ALICE, expect.stringMatching(/^token [A-Za-z0-9_-]{22} @1\r\n$/)],
    ]);
    say(BOB, 'hi');
    expect(delivery.take()).toEqual([['broadcast', `[${B}]${B}:hi\r\n`, -1, `@2 [${B}]${B}:hi\r\n`]]);
  });

  it('confirms the own rename of a client with a token with the rename\'s position, which it stands for', () => {
    command(BOB, { type: 'token' });
    expect(command(BOB, { type: 'rename', name: 'bob' })).toEqual([
      ['send', BOB, '@2 rename ok\r\n'],
      ['broadcast', `[${B}]${B}:renamed to bob\r\n`, BOB, `@2 [${B}]${B}:renamed to bob\r\n`],
    ]);
  });

  it('holds a dropped session: others see the leave at once, and the name is taken meanwhile', () => {
    aliceDropsWithToken();
    expect(delivery.take()).toContainEqual(['broadcast', `[${A}]alice:login out\r\n`, -1]);
    expect(command(BOB, { type: 'rename', name: 'Alice' })).toEqual([['send', BOB, 'error: the name Alice is taken; pick another\r\n']]);
    now += WINDOW_MS;
    expect(command(BOB, { type: 'rename', name: 'Alice' })[0]).toEqual(['send', BOB, 'rename ok\r\n']);
  });

  it('resumes on a new connection: what it missed up to its connect, its name back as a login, then a new token', () => {
    const token = aliceDropsWithToken();
    say(BOB, 'are you there?');
    room.handle({ kind: 'connect', id: ALICE_AGAIN, addr: A2, ip: '127.0.0.1' }, now);
    say(BOB, 'said after the connect');
    delivery.take();
    const ops = command(ALICE_AGAIN, { type: 'resume', token, position: 1 });
    expect(ops).toEqual([
      ['send', ALICE_AGAIN, `resume: 1 entry you missed\r\nhistory @2 ${STAMP} [${B}]${B}:are you there?\r\n`],
      ['broadcast', `[${A2}]alice:login\r\n`, -1],
      ['position', ALICE_AGAIN],
      ['send', ALICE_AGAIN, expect.stringMatching(/^resumed [A-Za-z0-9_-]{22} @3\r\n$/)],
    ]);
    expect(String(ops[3]![2])).not.toContain(token);
    expect(room.who()).toEqual([
      { addr: B, name: B },
      { addr: A2, name: 'alice' },
    ]);
  });

  it('resumes in a WebSocket handshake before the login: what it missed, the login under its name, the greeting, then the token', () => {
    const token = aliceDropsWithToken();
    say(BOB, 'are you there?');
    delivery.take();
    room.handle({ kind: 'connect', id: ALICE_AGAIN, addr: A2, ip: '127.0.0.1', resume: { token, position: 1 } }, now);
    expect(delivery.take()).toEqual([
      ['send', ALICE_AGAIN, `resume: 1 entry you missed\r\nhistory @2 ${STAMP} [${B}]${B}:are you there?\r\n`],
      ['admit', ALICE_AGAIN],
      ['broadcast', `[${A2}]alice:login\r\n`, -1],
      ['send', ALICE_AGAIN, `[${A2}]alice:I am here\r\n`],
      ['position', ALICE_AGAIN],
      ['send', ALICE_AGAIN, expect.stringMatching(/^resumed [A-Za-z0-9_-]{22} @2\r\n$/)],
    ]);
  });

  it('lets a refused handshake resume in as a newcomer, told why after its greeting', () => {
    room.handle({ kind: 'connect', id: ALICE_AGAIN, addr: A2, ip: '127.0.0.1', resume: { token: 'nope', position: 0 } }, now);
    const ops = delivery.take();
    expect(ops.slice(0, 3)).toEqual([
      ['admit', ALICE_AGAIN],
      ['broadcast', `[${A2}]${A2}:login\r\n`, -1],
      ['send', ALICE_AGAIN, `[${A2}]${A2}:I am here\r\n`],
    ]);
    expect(ops[3]).toEqual(['send', ALICE_AGAIN, expect.stringMatching(/^error: cannot resume: that token is unknown, used, or older than the resume window \(120 s\)/)]);
  });

  it('uses a token once: a second resume with it is refused', () => {
    const token = aliceDropsWithToken();
    room.handle({ kind: 'connect', id: ALICE_AGAIN, addr: A2, ip: '127.0.0.1' }, now);
    command(ALICE_AGAIN, { type: 'resume', token, position: 1 });
    room.handle({ kind: 'connect', id: 4, addr: '127.0.0.1:1004', ip: '127.0.0.1' }, now);
    delivery.take();
    expect(command(4, { type: 'resume', token, position: 1 })[0]![2]).toMatch(/^error: cannot resume: that token is unknown/);
  });

  it('refuses a token past its window, and a position ahead of the chat without using the token up', () => {
    const token = aliceDropsWithToken();
    room.handle({ kind: 'connect', id: ALICE_AGAIN, addr: A2, ip: '127.0.0.1' }, now);
    delivery.take();
    expect(command(ALICE_AGAIN, { type: 'resume', token, position: 9 })).toEqual([
      ['send', ALICE_AGAIN, 'error: cannot resume at @9: the chat is only at @1; send the position of the last line you received\r\n'],
    ]);
    now += WINDOW_MS;
    expect(command(ALICE_AGAIN, { type: 'resume', token, position: 1 })[0]![2]).toMatch(/^error: cannot resume: that token is unknown/);
  });

  it('says how many missed entries are no longer kept', () => {
    const token = aliceDropsWithToken();
    for (let line = 1; line <= 8; line++) say(BOB, `line ${line}`);
    room.handle({ kind: 'connect', id: ALICE_AGAIN, addr: A2, ip: '127.0.0.1' }, now);
    delivery.take();
    const [reply] = command(ALICE_AGAIN, { type: 'resume', token, position: 1 });
    const lines = String(reply![2]).split('\r\n');
    expect(lines[0]).toBe('resume: 5 entries you missed, and 3 before them that are no longer kept');
    expect(lines[1]).toBe(`history @5 ${STAMP} [${B}]${B}:line 4`);
  });

  it('holds nothing after /quit', () => {
    command(ALICE, { type: 'token' });
    room.handle({ kind: 'command', id: ALICE, command: { type: 'quit' } }, now);
    delivery.take();
    expect(command(BOB, { type: 'rename', name: 'alice' })[0]).toEqual(['send', BOB, 'rename ok\r\n']);
  });

  it('takes over a session whose old connection is still here: the old one is closed and its leave announced first', () => {
    const [tokenReply] = command(ALICE, { type: 'token' }).filter((op) => op[0] === 'send');
    const token = /^token (\S+)/.exec(String(tokenReply![2]))![1]!;
    room.handle({ kind: 'connect', id: ALICE_AGAIN, addr: A2, ip: '127.0.0.1' }, now);
    delivery.take();
    const ops = command(ALICE_AGAIN, { type: 'resume', token, position: 1 });
    expect(ops.slice(0, 3)).toEqual([
      ['close', ALICE, null, CloseReason.Replaced],
      ['broadcast', `[${A}]alice:login out\r\n`, -1],
      ['send', ALICE_AGAIN, 'resume: 0 entries you missed\r\n'],
    ]);
    expect(ops[3]).toEqual(['broadcast', `[${A2}]alice:login\r\n`, -1]);
  });

  it('refuses /token and /resume with --resume-window 0', () => {
    start({ ...SETTINGS, resumeWindowSeconds: 0 });
    expect(command(ALICE, { type: 'token' })).toEqual([['send', ALICE, 'error: this server does not hold sessions (--resume-window 0)\r\n']]);
    expect(command(ALICE, { type: 'resume', token: 'x', position: 0 })).toEqual([['send', ALICE, 'error: this server does not hold sessions (--resume-window 0)\r\n']]);
  });
});
