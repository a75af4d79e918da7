// The web client's state between the socket and the screen (web/session.js): the who list kept
// from the events, replies paired with the lines that caused them, and how a connection ends.
// Actors as in the e2e tests: the page is bob unless said otherwise.

import { describe, expect, it } from 'vitest';
import { ChatSession } from '../../web/session.js';

const ALICE = '127.0.0.1:40512';
const BOB = '127.0.0.1:40514';
const CAROL = '[::1]:40516';
const CLOCK = () => new Date(2026, 0, 2, 9, 5);

interface Effect {
  readonly type: string;
  readonly line?: string;
  readonly entry?: { readonly kind: string; readonly [field: string]: unknown };
  readonly reason?: string;
  readonly reconnect?: boolean;
}

/** A page connected as bob, past its greeting, with the seeding `who` answered. */
function bobOnline(others: readonly (readonly [string, string])[] = [[ALICE, 'alice']]): ChatSession {
  const session = new ChatSession({ now: CLOCK });
  session.opened();
  receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', ...others.map(([addr, name]) => `${addr}:${name}`), `${BOB}:${BOB}`]);
  return session;
}

function receiveAll(session: ChatSession, lines: readonly string[]): Effect[] {
  return lines.flatMap((line) => session.receive(line) as Effect[]);
}

const sent = (effects: readonly Effect[]): string[] => effects.filter((effect) => effect.type === 'send').map((effect) => effect.line!);
const logged = (effects: readonly Effect[]): object[] => effects.filter((effect) => effect.type === 'add').map((effect) => effect.entry!);
const names = (session: ChatSession): string[] => session.members().map((member: { name: string }) => member.name);

describe('ChatSession', () => {
  describe('the who list', () => {
    it('is seeded by a who of its own when a connection opens, whose reply is not logged', () => {
      const session = new ChatSession({ now: CLOCK });
      expect(sent(session.opened())).toEqual(['who']);
      const effects = receiveAll(session, [`[${BOB}]${BOB}:login`, `[${BOB}]${BOB}:I am here`, 'user list:', `${ALICE}:alice`, `${BOB}:${BOB}`]);
      expect(logged(effects).map((entry) => (entry as Effect['entry'])!.kind)).toEqual(['login', 'info']);
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

    it('asks for its chosen name again on the next connection', () => {
      const session = bobOnline();
      session.submit('/rename bob');
      receiveAll(session, ['rename ok']);
      session.closed();
      session.opened();
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
      receiveAll(session, ['error: the name bob is taken; pick another']);
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
