// The web client's state between the socket and the screen (web/session.js): the who list kept
// from the events, replies paired with the lines that caused them, how a connection ends, and the
// history and resume of PROTOCOL.md §10, replayed from the spec's own examples. Actors as in the
// e2e tests: the page is bob unless said otherwise.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JOIN_HISTORY_ENTRIES, ChatSession } from '../../web/session.js';
import { specTable } from '../helpers/spec-tables.ts';

const ALICE = '127.0.0.1:40512';
const BOB = '127.0.0.1:40514';
const CAROL = '[::1]:40516';
const CLOCK = () => new Date(2026, 0, 2, 9, 5);

interface Entry {
  readonly kind: string;
  readonly [field: string]: unknown;
}

interface Effect {
  readonly type: string;
  readonly line?: string;
  readonly entry?: Entry;
  readonly entries?: readonly Entry[];
  readonly reason?: string;
  readonly reconnect?: boolean;
}

/** §10.4's error for a server that holds no sessions: what `/token` gets from one. */
const RESUME_OFF = 'error: this server does not hold sessions (--resume-window 0)';

/**
 * A page connected as bob, past its greeting, with its own questions answered: the seeding
 * `who`, its `/token` (refused by a server that holds no sessions when `token` is null) and its
 * join history (none yet).
 */
function bobOnline(others: readonly (readonly [string, string])[] = [[ALICE, 'alice']], token: string | null = 'bobBobBobBobBobBobBob0') {
  const session = new ChatSession({ now: CLOCK });
  session.opened();
  receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', ...others.map(([addr, name]) => `${addr}:${name}`), `${BOB}:${BOB}`]);
  receiveAll(session, [token === null ? RESUME_OFF : `token ${token} @0`, 'history: 0 entries']);
  return session;
}

function receiveAll(session: ChatSession, lines: readonly string[]): Effect[] {
  return lines.flatMap((line) => session.receive(line) as Effect[]);
}

const sent = (effects: readonly Effect[]): string[] => effects.filter((effect) => effect.type === 'send').map((effect) => effect.line!);
const logged = (effects: readonly Effect[]): Entry[] => effects.filter((effect) => effect.type === 'add').map((effect) => effect.entry!);
const prepended = (effects: readonly Effect[]): Entry[] => effects.filter((effect) => effect.type === 'prepend').flatMap((effect) => effect.entries!);
const names = (session: ChatSession): string[] => session.members().map((member: { name: string }) => member.name);

describe('ChatSession', () => {
  describe('the who list', () => {
    it('is seeded by a who of its own when a connection opens, whose reply is not logged', () => {
      const session = new ChatSession({ now: CLOCK });
      expect(sent(session.opened())[0]).toBe('who');
      const effects = receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', `${ALICE}:alice`, `${BOB}:${BOB}`]);
      expect(logged(effects).map((entry) => entry.kind)).toEqual(['login', 'info']);
      expect(session.members()).toEqual([
        { addr: ALICE, name: 'alice' },
        { addr: BOB, name: BOB },
      ]);
      expect(session.selfAddr).toBe(BOB);
    });

    it('logs the reply to a who the user typed, row by row', () => {
      const session = bobOnline();
      expect(sent(session.submit('who'))).toEqual(['who']);
      const effects = receiveAll(session, ['user list:', `${ALICE}:alice`, `${BOB}:${BOB}`]);
      const [entry] = logged(effects);
      expect(entry).toMatchObject({ kind: 'who', members: [{ addr: ALICE, name: 'alice' }, { addr: BOB, name: BOB }] });
      expect(effects.filter((effect) => effect.type === 'update')).toHaveLength(2);
    });

    it('follows logins, renames, leaves and timeouts, keeping the order of arrival', () => {
      const session = bobOnline();
      receiveAll(session, [`[${CAROL}]${CAROL}:login`, `[${CAROL}]${CAROL}:renamed to carol`, `[${ALICE}]alice:renamed to Alice`]);
      expect(names(session)).toEqual(['Alice', BOB, 'carol']);
      receiveAll(session, [`[${ALICE}]Alice:time out leave out`]);
      expect(names(session)).toEqual([BOB, 'carol']);
      receiveAll(session, [`[${CAROL}]carol:login out`]);
      expect(names(session)).toEqual([BOB]);
    });

    it('takes its own new name from the rename it sent, since others alone see the renamed line', () => {
      const session = bobOnline();
      session.submit('/rename bob');
      const effects = receiveAll(session, ['rename ok']);
      expect(logged(effects)).toMatchObject([{ kind: 'rename', addr: BOB, oldName: BOB, newName: 'bob', isSelf: true }]);
      expect(names(session)).toEqual(['alice', 'bob']);
      expect(session.chosenName).toBe('bob');
    });

    it('pairs each rename reply with its own line when an earlier rename was refused', () => {
      const session = bobOnline();
      session.submit('rename|Alice');
      session.submit('/nick ｂｏｂ');
      receiveAll(session, ['error: the name Alice is taken; pick another', 'rename ok']);
      expect(names(session)).toEqual(['alice', 'bob']);
    });

    it('asks for the list again after a rename ok it cannot pair', () => {
      const session = bobOnline();
      expect(sent(receiveAll(session, ['rename ok']))).toEqual(['who']);
    });
  });

  describe('private messages', () => {
    it('shows what it sent once the server says msg ok', () => {
      const session = bobOnline();
      expect(sent(session.submit('/msg alice see you at 5'))).toEqual(['/msg alice see you at 5']);
      expect(logged(receiveAll(session, ['msg ok']))).toMatchObject([{ kind: 'private', direction: 'out', name: 'alice', text: 'see you at 5' }]);
    });

    it('shows a refused one as the error alone, and pairs the next reply with the next line', () => {
      const session = bobOnline();
      session.submit('/msg dave hi');
      session.submit('/msg alice hi');
      const effects = receiveAll(session, ['error: nobody named dave is online; try who', 'msg ok']);
      expect(logged(effects)).toMatchObject([
        { kind: 'error', code: 'CHAT_ERR_NO_SUCH_USER' },
        { kind: 'private', direction: 'out', name: 'alice', text: 'hi' },
      ]);
    });

    it('shows one it received, from its sender', () => {
      const session = bobOnline();
      expect(logged(receiveAll(session, [`[${ALICE}]alice (private):psst`]))).toMatchObject([{ kind: 'private', direction: 'in', addr: ALICE, name: 'alice', text: 'psst' }]);
    });
  });

  describe('the log', () => {
    it('marks its own chat lines as its own, and keeps markup as text', () => {
      const session = bobOnline();
      const effects = receiveAll(session, [`[${BOB}]${BOB}:<b>hi</b>`, `[${ALICE}]alice:<img src=x onerror=alert(1)>`]);
      expect(logged(effects)).toMatchObject([
        { kind: 'chat', name: BOB, text: '<b>hi</b>', isSelf: true },
        { kind: 'chat', name: 'alice', text: '<img src=x onerror=alert(1)>', isSelf: false },
      ]);
    });

    it('stamps each entry with the time it came', () => {
      const session = bobOnline();
      const [entry] = logged(receiveAll(session, [`[${ALICE}]alice:hi`]));
      expect(entry).toMatchObject({ time: CLOCK() });
    });

    it('gathers a /help reply into one entry', () => {
      const session = bobOnline();
      session.submit('/help');
      const effects = receiveAll(session, ['commands:', '  /who   list who is online', 'limits:', '  no limit on lines a second', `[${ALICE}]alice:hi`]);
      const entries = logged(effects);
      expect(entries).toMatchObject([
        { kind: 'help', commands: [{ usage: '/who', text: 'list who is online' }], limits: [{ usage: null, text: 'no limit on lines a second' }] },
        { kind: 'chat', text: 'hi' },
      ]);
    });

    it('refuses a line longer than the server takes, before it is sent', () => {
      const session = bobOnline();
      const effects = session.submit('x'.repeat(4097));
      expect(sent(effects)).toEqual([]);
      expect(logged(effects)).toMatchObject([{ kind: 'error' }]);
      expect(sent(session.submit('x'.repeat(4096)))).toHaveLength(1);
    });

    it('sends nothing for an empty line', () => {
      expect(bobOnline().submit('   ')).toEqual([]);
    });
  });

  describe('the end of a connection', () => {
    it('expects the close after /quit, and not to reconnect', () => {
      const effects = bobOnline().submit('/quit bye');
      expect(effects).toMatchObject([
        { type: 'send', line: '/quit bye' },
        { type: 'ending', reason: 'quit', reconnect: false },
      ]);
    });

    it.each([
      ['error: no line from you for 60 s; disconnected (send any line to stay)', 'idle-timeout', false],
      ['error: flooding: you kept sending faster than 2 lines a second until 256 lines waited; disconnected', 'flooding', false],
      ['error: server shutting down; goodbye', 'shutdown', true],
      ['error: server full (10000 clients); try again later', 'server-full', true],
      ['error: too many connections from your address (16); close one and try again', 'too-many', true],
    ])('reads %s as the end %s (reconnect: %s)', (line, reason, reconnect) => {
      const effects = receiveAll(bobOnline(), [line]);
      expect(effects.find((effect) => effect.type === 'ending')).toMatchObject({ reason, reconnect });
    });

    it('asks for its chosen name again on the next connection, when the server holds no sessions to resume', () => {
      const session = bobOnline([[ALICE, 'alice']], null);
      session.submit('/rename bob');
      receiveAll(session, ['rename ok']);
      session.closed();
      expect(sent(session.opened())).toEqual(['who']);
      const effects = receiveAll(session, [`[127.0.0.1:40600]127.0.0.1:40600:login`, `[127.0.0.1:40600]127.0.0.1:40600:I am here`]);
      expect(sent(effects)).toEqual(['/rename bob']);
      expect(effects[effects.length - 1]).toMatchObject({ type: 'send' });
      receiveAll(session, ['user list:', `${ALICE}:alice`, '127.0.0.1:40600:127.0.0.1:40600', 'rename ok']);
      expect(names(session)).toEqual(['alice', 'bob']);
    });

    it('forgets the chosen name when the server refuses it after a reconnect', () => {
      const session = new ChatSession({ now: CLOCK, chosenName: 'bob' });
      session.opened();
      receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', `${ALICE}:bob`, `${BOB}:${BOB}`]);
      // The replies come in the order of the lines: its /token and /history, then the rename.
      receiveAll(session, ['token bobBobBobBobBobBobBob0 @0', 'history: 0 entries', 'error: the name bob is taken; pick another']);
      expect(session.chosenName).toBeNull();
    });
  });

  it("keeps the who list of PROTOCOL.md §8 from bob's side", () => {
    const session = new ChatSession({ now: CLOCK });
    session.opened();
    receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', `${ALICE}:${ALICE}`, `${BOB}:${BOB}`]);
    receiveAll(session, [`[${ALICE}]${ALICE}:renamed to alice`]);
    session.submit('rename|Alice');
    receiveAll(session, ['error: the name Alice is taken; pick another']);
    session.submit('/rename bob');
    receiveAll(session, ['rename ok', `[${ALICE}]alice:hello bob`]);
    session.submit('who');
    const effects = receiveAll(session, ['user list:', `${ALICE}:alice`, `${BOB}:bob`, `[${ALICE}]alice (private):psst`]);
    expect(logged(effects)).toMatchObject([{ kind: 'who' }, { kind: 'private', name: 'alice', text: 'psst' }]);
    expect(session.members()).toEqual([
      { addr: ALICE, name: 'alice' },
      { addr: BOB, name: 'bob' },
    ]);
  });
});

describe('ChatSession: history and resume (PROTOCOL.md §10)', () => {
  const SPEC = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  /** The lines of the `nth` code block after the heading that starts with `heading`. */
  const codeBlockAfter = (heading: string, nth = 0): string[] => {
    const block = [...SPEC.slice(SPEC.indexOf(`\n${heading}`)).matchAll(/```\w*\n([\s\S]*?)```/g)][nth];
    if (block === undefined) throw new Error(`no code block ${nth} under "${heading}"`);
    return block[1]!.trimEnd().split('\n');
  };
  /** §10.4's error message for `code`, its placeholders filled in. */
  const errorLine = (code: string, values: Record<string, string> = {}): string => {
    const row = specTable('### 10.4').find((cells) => cells[0] === code);
    if (row === undefined) throw new Error(`§10.4 has no ${code}`);
    let message = row[1]!;
    for (const [placeholder, value] of Object.entries(values)) message = message.replaceAll(placeholder, value);
    return `error: ${message}`;
  };

  /** §10.2: the reply to `/history 3`. */
  const HISTORY_REPLY = codeBlockAfter('### 10.2', 1).filter((line) => !line.startsWith('> '));
  /** §10.6: what alice's new connection reads, her column of the example. */
  const ALICE_COLUMN = codeBlockAfter('### 10.6')
    .slice(1)
    .map((row) => (row.startsWith(' ') ? '' : (row.split(/ {3,}/)[0] ?? '')))
    .filter((line) => line !== '');
  const RESUME_LINE = ALICE_COLUMN.find((line) => line.startsWith('> /resume '))!.slice(2);
  const [, OLD_TOKEN = '', OLD_POSITION = ''] = RESUME_LINE.split(' ');
  const AFTER_RESUME = ALICE_COLUMN.slice(ALICE_COLUMN.indexOf(`> ${RESUME_LINE}`) + 1);
  const [RESUME_HEADER = '', MISSED = '', ALICE_BACK = '', RESUMED = ''] = AFTER_RESUME;
  const NEW_TOKEN = 'k1b9VZ0Qp4mJt2dF6cXyHw';
  const ALICE_NEW = '127.0.0.1:40600';
  const MOTD = codeBlockAfter('### 5.9', 0)[0]!.trim();
  const REFUSED = errorLine('CHAT_ERR_RESUME_REFUSED', { SECONDS: '120' });

  it('reads the example lines it replays', () => {
    expect(HISTORY_REPLY).toHaveLength(4);
    expect([OLD_TOKEN, OLD_POSITION]).toEqual(['3q2-7wbYc5u0Yx1PQrH6Aw', '14']);
    expect(AFTER_RESUME).toEqual([RESUME_HEADER, MISSED, ALICE_BACK, RESUMED]);
    expect(RESUMED).toBe(`resumed ${NEW_TOKEN} @15`);
  });

  /** Bob's page up to its token reply: logged in, the list seeded. */
  function bobJoining(): ChatSession {
    const session = new ChatSession({ now: CLOCK });
    session.opened();
    receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, MOTD, 'user list:', `${ALICE}:alice`, `${BOB}:${BOB}`]);
    return session;
  }

  /**
   * Alice's page as §10.6 has it before the drop: renamed alice, with the token of the example,
   * and the last entry it read at @14.
   */
  function aliceAt14(): ChatSession {
    const session = new ChatSession({ now: CLOCK });
    session.opened();
    receiveAll(session, [`[${ALICE}]${ALICE}:login`, `[${ALICE}]${ALICE}:I am here`, 'user list:', `${ALICE}:${ALICE}`, `${BOB}:bob`]);
    receiveAll(session, [`token ${OLD_TOKEN} @12`, 'history: 0 entries']);
    session.submit('/rename alice');
    receiveAll(session, ['rename ok', '@14 *** maintenance at 17:00']);
    return session;
  }

  describe('the first connection', () => {
    it(`asks for its resume token and the last ${JOIN_HISTORY_ENTRIES} entries, after its who`, () => {
      expect(sent(new ChatSession({ now: CLOCK }).opened())).toEqual(['who', '/token', '/history 50']);
    });

    it("shows §10.2's reply above the live log as history, with the times of its lines, and logs neither the token nor the reply's count", () => {
      const session = bobJoining();
      const effects = receiveAll(session, ['token bobBobBobBobBobBobBob0 @14', ...HISTORY_REPLY]);
      expect(logged(effects)).toEqual([]);
      expect(prepended(effects)).toMatchObject([
        { kind: 'chat', addr: ALICE, name: 'alice', text: 'hello', isSelf: false, history: true, position: 12, time: new Date('2026-12-02T01:20:00.123Z') },
        { kind: 'rename', addr: ALICE, oldName: 'alice', newName: 'al', history: true, position: 13, time: new Date('2026-12-02T01:20:05.000Z') },
        { kind: 'notice', text: 'maintenance at 17:00', history: true, position: 14, time: new Date('2026-12-02T01:21:00.250Z') },
        { kind: 'info', text: 'the lines above were said before you came in' },
      ]);
      expect(prepended(effects).slice(0, 3).every((entry) => entry['caughtUp'] === undefined)).toBe(true);
      // A rename of long ago is no news about who is online now.
      expect(names(session)).toEqual(['alice', BOB]);
    });

    it.each([
      ['after the token reply, with its position', ['token bobBobBobBobBobBobBob0 @13', '@14 *** maintenance at 17:00']],
      ['before the token reply, without one', ['*** maintenance at 17:00', 'token bobBobBobBobBobBobBob0 @14']],
    ])('shows an entry once when it came live %s before the history reply that holds it', (_when, live) => {
      const session = bobJoining();
      const liveEffects = receiveAll(session, live);
      expect(logged(liveEffects)).toMatchObject([{ kind: 'notice', text: 'maintenance at 17:00' }]);
      expect(prepended(receiveAll(session, HISTORY_REPLY))).toMatchObject([{ position: 12 }, { position: 13 }, { kind: 'info' }]);
    });

    it("puts the server's --history-on-join reply above the live log too, and its own reply then adds only the older entries", () => {
      const session = new ChatSession({ now: CLOCK });
      session.opened();
      const onJoin = receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, MOTD, 'history: 1 entry', HISTORY_REPLY[3]!]);
      expect(prepended(onJoin)).toMatchObject([{ kind: 'notice', position: 14, history: true }, { kind: 'info' }]);
      const own = receiveAll(session, ['user list:', `${BOB}:${BOB}`, 'token bobBobBobBobBobBobBob0 @14', ...HISTORY_REPLY]);
      expect(prepended(own)).toMatchObject([{ position: 12 }, { position: 13 }]);
      expect(prepended(own)).toHaveLength(2);
    });

    it('keeps the position of the last entry it received, from the token reply and the positioned lines', () => {
      const session = bobJoining();
      receiveAll(session, ['token bobBobBobBobBobBobBob0 @14', ...HISTORY_REPLY]);
      expect(session.resumePoint()).toEqual({ token: 'bobBobBobBobBobBobBob0', position: 14 });
      const effects = receiveAll(session, [`@15 [${ALICE}]alice:hi`, `@16 [${BOB}]${BOB}:hi alice`, MOTD]);
      expect(logged(effects)).toMatchObject([
        { kind: 'chat', name: 'alice', text: 'hi', position: 15, isSelf: false },
        { kind: 'chat', name: BOB, text: 'hi alice', position: 16, isSelf: true },
        { kind: 'notice' },
      ]);
      expect(logged(effects).every((entry) => entry['history'] === undefined && entry['caughtUp'] === undefined)).toBe(true);
      expect(session.resumePoint()).toEqual({ token: 'bobBobBobBobBobBobBob0', position: 16 });
    });

    it('moves its position with the `@N rename ok` of its own rename, so a resume does not send that rename back', () => {
      const session = bobJoining();
      receiveAll(session, ['token bobBobBobBobBobBobBob0 @14', ...HISTORY_REPLY]);
      expect(sent(session.submit('/rename bobby'))).toEqual(['/rename bobby']);
      expect(logged(receiveAll(session, ['@15 rename ok']))).toMatchObject([{ kind: 'rename', newName: 'bobby', isSelf: true }]);
      expect(session.resumePoint()).toEqual({ token: 'bobBobBobBobBobBobBob0', position: 15 });
    });

    it('shows a /history the user asks for where it comes, after a line that says what it is, and its own lines as its own', () => {
      // §10.2's example is alice's own: her hello and her rename.
      const session = new ChatSession({ now: CLOCK });
      session.opened();
      receiveAll(session, [`[${ALICE}]${ALICE}:login`, `[${ALICE}]${ALICE}:I am here`, 'user list:', `${ALICE}:alice`, 'token aliceAliceAliceAlice00 @14', 'history: 0 entries']);
      expect(sent(session.submit('/history 3'))).toEqual(['/history 3']);
      const effects = receiveAll(session, HISTORY_REPLY);
      expect(prepended(effects)).toEqual([]);
      expect(logged(effects)).toMatchObject([
        { kind: 'info', text: 'history: the last 3 lines said' },
        { kind: 'chat', text: 'hello', history: true, position: 12, isSelf: true },
        { kind: 'rename', newName: 'al', history: true, position: 13, isSelf: true },
        { kind: 'notice', history: true, position: 14 },
      ]);
    });

    it('shows the token when the user asks for it', () => {
      const session = bobOnline();
      session.submit('/token');
      expect(logged(receiveAll(session, ['token bobBobBobBobBobBobBob0 @0']))).toMatchObject([{ kind: 'info', text: expect.stringContaining('bobBobBobBobBobBobBob0') }]);
    });

    it('asks a server that holds no sessions for no token after that, logs nothing of it, and resumes nothing after a drop', () => {
      const session = new ChatSession({ now: CLOCK });
      session.opened();
      const effects = receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', `${BOB}:${BOB}`, RESUME_OFF, 'history: 0 entries']);
      expect(logged(effects).map((entry) => entry.kind)).toEqual(['login', 'info']);
      expect(session.resumePoint()).toBeNull();
      session.closed();
      expect(sent(session.opened())).toEqual(['who']);
    });

    it('asks an older chatd, which knows no /token or /history, only once, and logs none of its refusals', () => {
      const session = new ChatSession({ now: CLOCK });
      session.opened();
      const effects = receiveAll(session, [
        `[${BOB}]${BOB}:login`,
        `[${BOB}]${BOB}:I am here`,
        'user list:',
        `${BOB}:${BOB}`,
        'error: unknown command /token; try /help (//text sends /text)',
        'error: unknown command /history; try /help (//text sends /text)',
      ]);
      expect(logged(effects).map((entry) => entry.kind)).toEqual(['login', 'info']);
      session.closed();
      expect(sent(session.opened())).toEqual(['who']);
    });
  });

  describe('after a drop', () => {
    it("resumes from the token and position of §10.6's /resume", () => {
      const session = aliceAt14();
      session.closed();
      expect(session.resumePoint()).toEqual({ token: OLD_TOKEN, position: Number(OLD_POSITION) });
    });

    it('resumes in the handshake: the entries missed are caught up in order, then the session is back with its name and a new token, and no rename is sent', () => {
      const session = aliceAt14();
      session.closed();
      expect(sent(session.opened())).toEqual(['who']);
      // §10.5's order over a WebSocket, with §10.6's lines: the entries first, then the login, the greeting, `resumed`.
      const effects = receiveAll(session, [RESUME_HEADER, MISSED, ALICE_BACK, `[${ALICE_NEW}]alice:I am here`, MOTD, RESUMED]);
      expect(sent(effects)).toEqual([]);
      expect(logged(effects)).toMatchObject([
        { kind: 'chat', addr: BOB, name: 'bob', text: 'are you there?', caughtUp: true, position: 15, time: new Date('2026-12-02T01:22:03.500Z') },
        { kind: 'login', addr: ALICE_NEW, name: 'alice', isSelf: true },
        { kind: 'notice' },
        { kind: 'info', text: 'your session is back; the line you missed is marked “caught up”' },
      ]);
      expect(logged(effects)[0]!['history']).toBeUndefined();
      expect(effects.some((effect) => effect.type === 'logged-in')).toBe(true);
      expect(session.selfAddr).toBe(ALICE_NEW);
      expect(session.chosenName).toBe('alice');
      expect(session.resumePoint()).toEqual({ token: NEW_TOKEN, position: 15 });
    });

    it('takes its new ADDR for its own at its login after a resume, and drops the old one from the who list at once', () => {
      const session = aliceAt14();
      session.closed();
      session.opened();
      receiveAll(session, [RESUME_HEADER, MISSED]);
      expect(session.members()).toEqual([
        { addr: ALICE, name: 'alice' },
        { addr: BOB, name: 'bob' },
      ]);
      receiveAll(session, [ALICE_BACK]);
      expect(session.members()).toEqual([
        { addr: BOB, name: 'bob' },
        { addr: ALICE_NEW, name: 'alice' },
      ]);
      receiveAll(session, [`[${ALICE_NEW}]alice:I am here`, RESUMED, 'user list:', `${BOB}:bob`, `${ALICE_NEW}:alice`, `@16 [${ALICE_NEW}]alice:back`]);
      expect(session.members()).toEqual([
        { addr: BOB, name: 'bob' },
        { addr: ALICE_NEW, name: 'alice' },
      ]);
      expect(logged(receiveAll(session, [`@17 [${ALICE_NEW}]alice:hi bob`]))).toMatchObject([{ kind: 'chat', isSelf: true, position: 17 }]);
    });

    it('is told plainly when the server cannot resume, then goes on as a newcomer: its name asked for again, a token asked for anew', () => {
      const session = aliceAt14();
      session.closed();
      session.opened();
      const effects = receiveAll(session, [`[${ALICE_NEW}]${ALICE_NEW}:login`, `[${ALICE_NEW}]${ALICE_NEW}:I am here`, MOTD, REFUSED]);
      expect(logged(effects)).toMatchObject([
        { kind: 'login', isSelf: true },
        { kind: 'notice' },
        { kind: 'notice', topic: 'resume-refused', text: expect.stringMatching(/could not be resumed \(the server holds one for 120 s after a drop\).*may be missing.*\/history/) },
        { kind: 'info', text: `connected as ${ALICE_NEW}; asking for the name alice again` },
      ]);
      expect(logged(effects).some((entry) => entry.kind === 'error')).toBe(false);
      expect(sent(effects)).toEqual(['/rename alice', '/token']);
      expect(session.resumePoint()).toBeNull();
      receiveAll(session, ['user list:', `${BOB}:bob`, `${ALICE_NEW}:${ALICE_NEW}`, 'rename ok', 'token freshFreshFreshFresh00 @15']);
      expect(names(session)).toEqual(['bob', 'alice']);
      expect(session.chosenName).toBe('alice');
      expect(session.resumePoint()).toEqual({ token: 'freshFreshFreshFresh00', position: 15 });
    });

    it('says plainly how many missed entries are no longer kept, before the ones that are, and still takes the session back', () => {
      const session = aliceAt14();
      session.closed();
      session.opened();
      const header = 'resume: 1 entry you missed, and 2 before them that are no longer kept';
      const effects = receiveAll(session, [header, MISSED, ALICE_BACK, `[${ALICE_NEW}]alice:I am here`, RESUMED]);
      expect(logged(effects)).toMatchObject([
        { kind: 'notice', topic: 'entries-lost', text: '2 lines said while you were away are no longer kept by the server and cannot be shown' },
        { kind: 'chat', caughtUp: true, position: 15 },
        { kind: 'login', name: 'alice' },
        { kind: 'info' },
      ]);
      expect(sent(effects)).toEqual([]);
      expect(session.resumePoint()).toEqual({ token: NEW_TOKEN, position: 15 });
    });

    it('takes the session back from where the chat is when the server is behind the page, once', () => {
      const session = aliceAt14();
      session.closed();
      session.opened();
      const ahead = errorLine('CHAT_ERR_RESUME_AHEAD', { N: '14', M: '12' });
      const effects = receiveAll(session, [`[${ALICE_NEW}]${ALICE_NEW}:login`, `[${ALICE_NEW}]${ALICE_NEW}:I am here`, ahead]);
      expect(logged(effects).at(-1)).toMatchObject({ kind: 'notice', topic: 'resume-ahead' });
      expect(sent(effects)).toEqual([`/resume ${OLD_TOKEN} 12`]);
      const back = receiveAll(session, ['user list:', `${ALICE_NEW}:${ALICE_NEW}`, 'resume: 0 entries you missed', `[${ALICE_NEW}]alice:login`, `resumed ${NEW_TOKEN} @12`]);
      expect(sent(back)).toEqual([]);
      expect(session.chosenName).toBe('alice');
      expect(names(session)).toEqual(['alice']);
      expect(session.resumePoint()).toEqual({ token: NEW_TOKEN, position: 12 });
    });

    it('goes on as a newcomer when the server is still behind after it resumed from where the chat is', () => {
      const session = aliceAt14();
      session.closed();
      session.opened();
      receiveAll(session, [`[${ALICE_NEW}]${ALICE_NEW}:login`, `[${ALICE_NEW}]${ALICE_NEW}:I am here`, errorLine('CHAT_ERR_RESUME_AHEAD', { N: '14', M: '12' })]);
      const effects = receiveAll(session, ['user list:', `${ALICE_NEW}:${ALICE_NEW}`, errorLine('CHAT_ERR_RESUME_AHEAD', { N: '12', M: '11' })]);
      expect(logged(effects)).toMatchObject([{ kind: 'notice', topic: 'resume-refused' }, { kind: 'info' }]);
      expect(sent(effects)).toEqual(['/rename alice', '/token']);
    });

    it('stops asking for a token when the server says, at the resume, that it holds no sessions', () => {
      const session = aliceAt14();
      session.closed();
      session.opened();
      const effects = receiveAll(session, [`[${ALICE_NEW}]${ALICE_NEW}:login`, `[${ALICE_NEW}]${ALICE_NEW}:I am here`, RESUME_OFF]);
      expect(logged(effects).at(-2)).toMatchObject({ kind: 'notice', topic: 'resume-refused', text: expect.stringContaining('no longer holds sessions') });
      expect(sent(effects)).toEqual(['/rename alice']);
    });

    it('forgets its session when it leaves with /quit or is timed out, so the next connection is a newcomer', () => {
      const quitting = aliceAt14();
      quitting.submit('/quit');
      expect(quitting.resumePoint()).toBeNull();
      const idle = aliceAt14();
      receiveAll(idle, ['error: no line from you for 60 s; disconnected (send any line to stay)']);
      expect(idle.resumePoint()).toBeNull();
      idle.closed();
      expect(sent(idle.opened())).toEqual(['who', '/token']);
    });

    it('keeps its session over a drop before the resume was answered, to try again', () => {
      const session = aliceAt14();
      session.closed();
      session.opened();
      session.closed();
      expect(session.resumePoint()).toEqual({ token: OLD_TOKEN, position: 14 });
    });
  });

  describe('a /resume the user types', () => {
    it("takes the session back as alice's new connection of §10.6 does, line by line", () => {
      const session = new ChatSession({ now: CLOCK });
      session.opened();
      const before = ALICE_COLUMN.slice(0, ALICE_COLUMN.indexOf(`> ${RESUME_LINE}`));
      receiveAll(session, [...before, 'user list:', `${BOB}:bob`, `${ALICE_NEW}:${ALICE_NEW}`, `token freshFreshFreshFresh00 @15`, 'history: 0 entries']);
      expect(sent(session.submit(RESUME_LINE))).toEqual([RESUME_LINE]);
      const effects = receiveAll(session, AFTER_RESUME);
      expect(logged(effects)).toMatchObject([
        { kind: 'chat', name: 'bob', text: 'are you there?', caughtUp: true, position: 15 },
        { kind: 'login', addr: ALICE_NEW, name: 'alice', isSelf: true },
        { kind: 'info', text: expect.stringContaining('your session is back') },
      ]);
      expect(names(session)).toEqual(['bob', 'alice']);
      expect(session.chosenName).toBe('alice');
      expect(session.resumePoint()).toEqual({ token: NEW_TOKEN, position: 15 });
    });

    it('shows a refusal as its error, and leaves the session the page has as it was', () => {
      const session = bobOnline();
      session.submit('/resume someoneElsesTokenXXXX 3');
      const effects = receiveAll(session, [REFUSED]);
      expect(logged(effects)).toMatchObject([{ kind: 'error', code: 'CHAT_ERR_RESUME_REFUSED' }]);
      expect(sent(effects)).toEqual([]);
      expect(session.resumePoint()).toEqual({ token: 'bobBobBobBobBobBobBob0', position: 0 });
    });
  });
});
