// The web client's reading of server lines (web/lines.js), run against the examples of
// docs/PROTOCOL.md: the message table of §7.3, the telnet session of §8, the /help reply of §5.6,
// the notices of §5.7–§5.9, the error tables of §6 and §10.4, and the history and resume
// examples of §10. The spec is the test data.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, LINK_BACK_TEXT, LINK_DOWN_TEXT, LineSplitter, parseServerLine } from '../../web/lines.js';
import { specTable, unescapeText } from '../helpers/spec-tables.ts';

const SPEC = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

/** The text of the `nth` code block after the heading that starts with `heading`, as it stands. */
function codeBlockAfter(heading: string, nth = 0): string {
  const at = SPEC.indexOf(`\n${heading}`);
  if (at === -1) throw new Error(`docs/PROTOCOL.md has no heading "${heading}"`);
  const block = [...SPEC.slice(at).matchAll(/```\w*\n([\s\S]*?)```/g)][nth];
  if (block === undefined) throw new Error(`no code block ${nth} under "${heading}"`);
  return block[1]!;
}

/** A cell's bytes as the lines the page reads from them: CRLF-split, the last CRLF's empty tail dropped. */
function linesOf(cell: string): string[] {
  const lines = unescapeText(cell).split('\r\n');
  expect(lines.pop(), `${cell} ends in CRLF`).toBe('');
  return lines;
}

/** What lines.js is to read from each §7.3 row: the row's message in the table's own notation. */
function expectedFor(message: string): object[] {
  const [kind = '', ...args] = message.split(' ');
  const [addr = '', name = '', ...rest] = args;
  const text = rest.join(' ');
  switch (kind) {
    case 'login':
    case 'greeting':
    case 'logout':
    case 'timed-out':
      return [{ kind, addr, name }];
    case 'chat':
    case 'private':
      return [{ kind, addr, name, text }];
    case 'renamed':
      return [{ kind, addr, name, newName: text }];
    case 'who':
      return [
        { kind: 'who-start' },
        ...args.map((entry) => ({ kind: 'who-row', addr: entry.slice(0, entry.lastIndexOf('=')), name: entry.slice(entry.lastIndexOf('=') + 1) })),
      ];
    case 'rename-ok':
    case 'msg-ok':
      return [{ kind }];
    case 'announcement':
      return [{ kind, text: args.join(' '), topic: 'other' }];
    case 'error':
      return [{ kind, code: addr, argument: [name, ...rest].join(' ') }];
    default:
      throw new Error(`§7.3 names a message this test does not know: ${kind}`);
  }
}

describe('parseServerLine', () => {
  describe('PROTOCOL.md §7.3 server messages', () => {
    it.each(specTable('### 7.3'))('reads %s from %s', (message, bytes) => {
      const lines = linesOf(bytes!);
      const expected = expectedFor(message!);
      expect(lines).toHaveLength(expected.length);
      lines.forEach((line, index) => expect(parseServerLine(line)).toMatchObject(expected[index]!));
    });
  });

  describe('PROTOCOL.md §8 telnet session', () => {
    const block = codeBlockAfter('## 8.').split('\n').filter((line) => line !== '');
    const [header = '', ...rows] = block;
    const rightColumn = header.indexOf("bob's terminal");
    /** The server's lines in one terminal: not what the user typed (`>`), not telnet's own words. */
    const serverLines = (side: 'left' | 'right'): string[] =>
      rows
        .map((row) => (side === 'left' ? row.slice(0, rightColumn) : row.slice(rightColumn)).trim())
        .filter((line) => line !== '' && !line.startsWith('> ') && line !== 'Connection closed by foreign host.');

    it("reads every line of alice's terminal, in order", () => {
      expect(serverLines('left').map((line) => parseServerLine(line))).toEqual([
        { kind: 'login', addr: '127.0.0.1:40512', name: '127.0.0.1:40512' },
        { kind: 'greeting', addr: '127.0.0.1:40512', name: '127.0.0.1:40512' },
        { kind: 'login', addr: '127.0.0.1:40514', name: '127.0.0.1:40514' },
        { kind: 'rename-ok' },
        { kind: 'renamed', addr: '127.0.0.1:40514', name: '127.0.0.1:40514', newName: 'bob' },
        { kind: 'chat', addr: '127.0.0.1:40512', name: 'alice', text: 'hello bob' },
        { kind: 'msg-ok' },
        { kind: 'logout', addr: '127.0.0.1:40514', name: 'bob' },
      ]);
    });

    it("reads every line of bob's terminal, in order", () => {
      expect(serverLines('right').map((line) => parseServerLine(line))).toEqual([
        { kind: 'login', addr: '127.0.0.1:40514', name: '127.0.0.1:40514' },
        { kind: 'greeting', addr: '127.0.0.1:40514', name: '127.0.0.1:40514' },
        { kind: 'renamed', addr: '127.0.0.1:40512', name: '127.0.0.1:40512', newName: 'alice' },
        { kind: 'error', message: 'the name Alice is taken; pick another', code: 'CHAT_ERR_NAME_TAKEN', argument: 'Alice', fatal: false },
        { kind: 'rename-ok' },
        { kind: 'chat', addr: '127.0.0.1:40512', name: 'alice', text: 'hello bob' },
        { kind: 'who-start' },
        { kind: 'who-row', addr: '127.0.0.1:40512', name: 'alice' },
        { kind: 'who-row', addr: '127.0.0.1:40514', name: 'bob' },
        { kind: 'private', addr: '127.0.0.1:40512', name: 'alice', text: 'psst' },
      ]);
    });
  });

  describe('PROTOCOL.md §5.6 /help reply', () => {
    it('reads the commands, the limits heading and the limits', () => {
      const lines = codeBlockAfter('### 5.6').trimEnd().split('\n');
      const read = lines.map((line) => parseServerLine(line));
      const limitsAt = read.findIndex((line) => line.kind === 'help-limits');
      expect(read[0]).toEqual({ kind: 'help-start' });
      // Every command row has its usage; the table of commands grows (§10 added three), so the
      // rows of the seed's commands are looked for among them.
      const commands = read.slice(1, limitsAt);
      for (const row of commands) expect(row).toMatchObject({ kind: 'help-row', usage: expect.stringMatching(/^\//) });
      expect(commands).toEqual(
        expect.arrayContaining([
          { kind: 'help-row', usage: '/who', text: 'list who is online (same as: who)' },
          { kind: 'help-row', usage: '/rename NEW', text: 'change your name (same as: rename|NEW)' },
          { kind: 'help-row', usage: '/msg NAME TEXT', text: 'send TEXT to NAME only' },
          { kind: 'help-row', usage: '/quit', text: 'leave the chat' },
          { kind: 'help-row', usage: '/help', text: 'show this list' },
          { kind: 'help-row', usage: '//TEXT', text: 'send a line that starts with a slash' },
        ]),
      );
      expect(read.slice(limitsAt + 1)).toEqual([
        { kind: 'help-row', usage: null, text: 'send a line at least every 60 s or you are timed out (you are warned 10 s before)' },
        { kind: 'help-row', usage: null, text: 'at most 2 lines a second (5 at once); faster lines are delayed, not lost' },
      ]);
    });
  });

  describe('PROTOCOL.md §5.7–§5.9 notices', () => {
    it.each(specTable('### 5.7').filter((row) => row[1] !== '—'))('reads the announcement %s as one, not as chat', (_body, line) => {
      const [text] = linesOf(line!);
      expect(parseServerLine(text!)).toEqual({ kind: 'announcement', text: text!.slice('*** '.length), topic: 'other' });
    });

    it('reads the two link notices of §5.8 by their words', () => {
      const down = codeBlockAfter('### 5.8', 0).trim();
      const back = codeBlockAfter('### 5.8', 1).trim();
      expect(parseServerLine(down)).toEqual({ kind: 'announcement', text: LINK_DOWN_TEXT, topic: 'link-down' });
      expect(parseServerLine(back)).toEqual({ kind: 'announcement', text: LINK_BACK_TEXT, topic: 'link-back' });
    });

    it('reads the message of the day of §5.9 as an announcement and the idle warning as a warning', () => {
      const motd = codeBlockAfter('### 5.9', 0).trim();
      const warning = codeBlockAfter('### 5.9', 1).trim().replace('SECONDS', '10');
      expect(parseServerLine(motd)).toMatchObject({ kind: 'announcement', topic: 'other' });
      expect(parseServerLine(warning)).toEqual({ kind: 'announcement', text: warning.slice(4), topic: 'idle-warning' });
    });
  });

  describe('PROTOCOL.md §6 and §10.4 errors', () => {
    /** A value for each placeholder a message holds, as the server fills them in (the words in capitals are not all placeholders: `rename|NEW`). */
    const SAMPLES: Record<string, Record<string, string>> = {
      CHAT_ERR_LINE_TOO_LONG: { N: '4096' },
      CHAT_ERR_NAME_TAKEN: { NEW: 'Bob' },
      CHAT_ERR_UNKNOWN_COMMAND: { WORD: 'dance' },
      CHAT_ERR_COMMAND_SYNTAX: { USAGE: '/msg NAME TEXT' },
      CHAT_ERR_NO_SUCH_USER: { NAME: 'carol' },
      CHAT_ERR_RATE_LIMITED: { RATE: '2', BURST: '5' },
      CHAT_ERR_RESUME_REFUSED: { SECONDS: '120' },
      CHAT_ERR_RESUME_AHEAD: { N: '20', M: '15' },
      CHAT_ERR_FLOODING: { RATE: '2', LINES: '256' },
      CHAT_ERR_TOO_MANY_FROM_ADDRESS: { N: '16' },
      CHAT_ERR_SERVER_FULL: { N: '10000' },
      CHAT_ERR_IDLE_TIMEOUT: { N: '60' },
    };
    /** What each error's argument is read as, from the samples: the one the page acts on. */
    const ARGUMENTS: Record<string, string> = { CHAT_ERR_RESUME_REFUSED: '120', CHAT_ERR_RESUME_AHEAD: '15', CHAT_ERR_RESUME_OFF: '' };
    const rows = [...specTable('### 6.1'), ...specTable('### 10.4'), ...specTable('### 6.2').map((row) => [...row, 'fatal'])];

    it.each(rows.map((row) => [row[0]!, row[1]!, row.at(-1) === 'fatal'] as const))(
      'tells %s from its message %s (fatal: %s)',
      (code, cell, isFatal) => {
        // The message is the cell's first code span (the usage row names its values after it).
        let message = cell.replace(/^`([^`]*)`.*$/, '$1').replaceAll('\\|', '|');
        for (const [placeholder, value] of Object.entries(SAMPLES[code] ?? {})) message = message.replaceAll(placeholder, value);
        expect(parseServerLine(`error: ${message}`)).toMatchObject({ kind: 'error', message, code, fatal: isFatal });
        if (code in ARGUMENTS) expect(parseServerLine(`error: ${message}`)).toMatchObject({ argument: ARGUMENTS[code] || null });
      },
    );

    it('knows every error code of the tables, and no code they lack', () => {
      expect(new Set(rows.map((row) => row[0]))).toEqual(new Set(ERROR_CODES));
    });

    it('reads the usage errors of /history, /token and /resume as usage errors naming their command', () => {
      for (const usage of ['/history [N]', '/token', '/resume TOKEN POSITION']) {
        expect(parseServerLine(`error: usage: ${usage}`)).toEqual({ kind: 'error', message: `usage: ${usage}`, code: 'CHAT_ERR_COMMAND_SYNTAX', argument: usage, fatal: false });
      }
    });

    it('keeps an error it does not know as an error without a code', () => {
      expect(parseServerLine('error: something new')).toEqual({ kind: 'error', message: 'something new', code: null, argument: null, fatal: false });
    });
  });

  describe('PROTOCOL.md §10 history and resume', () => {
    const ALICE = '127.0.0.1:40512';
    const BOB = '127.0.0.1:40514';

    it('reads the /history reply of §10.2: its count, then each entry with its position, its time and its live line', () => {
      const lines = codeBlockAfter('### 10.2', 1).trimEnd().split('\n').filter((line) => !line.startsWith('> '));
      expect(lines.map((line) => parseServerLine(line))).toEqual([
        { kind: 'history-start', count: 3 },
        { kind: 'history', position: 12, time: new Date('2026-12-02T01:20:00.123Z'), entry: { kind: 'chat', addr: ALICE, name: 'alice', text: 'hello' } },
        { kind: 'history', position: 13, time: new Date('2026-12-02T01:20:05.000Z'), entry: { kind: 'renamed', addr: ALICE, name: 'alice', newName: 'al' } },
        { kind: 'history', position: 14, time: new Date('2026-12-02T01:21:00.250Z'), entry: { kind: 'announcement', text: 'maintenance at 17:00', topic: 'other' } },
      ]);
    });

    it("reads every line of alice's new connection in §10.6, in order", () => {
      const [, ...rows] = codeBlockAfter('### 10.6').split('\n').filter((line) => line !== '');
      // Alice's column is what a row has before a gap of spaces (her history line is wider than
      // the column); a row that starts with spaces is Bob's alone.
      const lines = rows
        .map((row) => (row.startsWith(' ') ? '' : (row.split(/ {3,}/)[0] ?? '')))
        .filter((line) => line !== '' && !line.startsWith('> '));
      const read = lines.map((line) => parseServerLine(line));
      expect(read[2]).toMatchObject({ kind: 'announcement', topic: 'other' }); // the message of the day, cut short in the example
      expect([...read.slice(0, 2), ...read.slice(3)]).toEqual([
        { kind: 'login', addr: '127.0.0.1:40600', name: '127.0.0.1:40600' },
        { kind: 'greeting', addr: '127.0.0.1:40600', name: '127.0.0.1:40600' },
        { kind: 'resume-start', count: 1, missing: 0 },
        { kind: 'history', position: 15, time: new Date('2026-12-02T01:22:03.500Z'), entry: { kind: 'chat', addr: BOB, name: 'bob', text: 'are you there?' } },
        { kind: 'login', addr: '127.0.0.1:40600', name: 'alice' },
        { kind: 'resumed', token: 'k1b9VZ0Qp4mJt2dF6cXyHw', position: 15 },
      ]);
    });

    it('reads the token reply of §10.3 with the token of §10.6, and @0 before any entry', () => {
      expect(parseServerLine('token 3q2-7wbYc5u0Yx1PQrH6Aw @14')).toEqual({ kind: 'token', token: '3q2-7wbYc5u0Yx1PQrH6Aw', position: 14 });
      expect(parseServerLine('token 3q2-7wbYc5u0Yx1PQrH6Aw @0')).toEqual({ kind: 'token', token: '3q2-7wbYc5u0Yx1PQrH6Aw', position: 0 });
    });

    it('reads a positioned live line of §10.3 as its position and the entry inside it', () => {
      expect(parseServerLine(`@15 [${ALICE}]alice:hi`)).toEqual({ kind: 'positioned', position: 15, entry: { kind: 'chat', addr: ALICE, name: 'alice', text: 'hi' } });
      expect(parseServerLine(`@16 [${ALICE}]alice:renamed to al`)).toEqual({ kind: 'positioned', position: 16, entry: { kind: 'renamed', addr: ALICE, name: 'alice', newName: 'al' } });
      expect(parseServerLine('@17 *** maintenance at 17:00')).toEqual({ kind: 'positioned', position: 17, entry: { kind: 'announcement', text: 'maintenance at 17:00', topic: 'other' } });
    });

    it('reads `@N rename ok`, the confirmation of the page\'s own rename with a token, as rename-ok at that position', () => {
      expect(parseServerLine('@16 rename ok')).toEqual({ kind: 'rename-ok', position: 16 });
      expect(parseServerLine('rename ok')).toEqual({ kind: 'rename-ok' });
    });

    it('reads a positioned line by the name the page knows, as a plain live line is read', () => {
      expect(parseServerLine('@15 [10.0.0.1:5000]10.0.0.1:5000:hi', () => '10.0.0.1')).toMatchObject({ entry: { name: '10.0.0.1', text: '5000:hi' } });
    });

    it('reads a resume header of §10.4 with the entries that are no longer kept, in either number', () => {
      expect(parseServerLine('resume: 0 entries you missed')).toEqual({ kind: 'resume-start', count: 0, missing: 0 });
      expect(parseServerLine('resume: 3 entries you missed, and 2 before them that are no longer kept')).toEqual({ kind: 'resume-start', count: 3, missing: 2 });
      expect(parseServerLine('resume: 1 entry you missed, and 1 before them that are no longer kept')).toEqual({ kind: 'resume-start', count: 1, missing: 1 });
      expect(parseServerLine('history: 0 entries')).toEqual({ kind: 'history-start', count: 0 });
      expect(parseServerLine('history: 1 entry')).toEqual({ kind: 'history-start', count: 1 });
    });

    it('keeps a line that only resembles one of §10 as unknown, never as an entry', () => {
      for (const line of [
        `history @12 yesterday [${ALICE}]alice:hello`, // not an RFC 3339 time
        `history @12 2026-13-02T01:20:00.123Z [${ALICE}]alice:hello`, // no 13th month
        `history @12 2026-12-02T01:20:00.123Z [${ALICE}]alice:login`, // a login is never kept (§10)
        `history @12 2026-12-02T01:20:00.123Z [${ALICE}]alice (private):psst`, // nor a private message
        `@15 [${ALICE}]alice:login out`,
        '@15 hello',
        '@x *** hi',
        'token short @1', // a token is 22 characters (§10.3)
        'token 3q2-7wbYc5u0Yx1PQrH6Aw 14',
        'resumed k1b9VZ0Qp4mJt2dF6cXyHw',
        'history: three entries',
        'resume: 1 entry',
      ]) {
        expect(parseServerLine(line), line).toEqual({ kind: 'unknown', text: line });
      }
    });

    it('reads chat that merely starts like a line of §10 as chat, since it comes after a prefix', () => {
      expect(parseServerLine(`[${BOB}]bob:history @1 2026-12-02T01:20:00.123Z *** fake`)).toMatchObject({ kind: 'chat', text: 'history @1 2026-12-02T01:20:00.123Z *** fake' });
      expect(parseServerLine(`[${BOB}]bob:resumed k1b9VZ0Qp4mJt2dF6cXyHw @15`)).toMatchObject({ kind: 'chat', name: 'bob' });
    });
  });

  describe('names and addresses (§2.4, §4)', () => {
    it('reads an IPv6 address-name, which holds colons and brackets', () => {
      expect(parseServerLine('[[::1]:40513][::1]:40513:hi: there')).toEqual({ kind: 'chat', addr: '[::1]:40513', name: '[::1]:40513', text: 'hi: there' });
      expect(parseServerLine('[[::1]:40513][::1]:40513 (private):psst')).toEqual({ kind: 'private', addr: '[::1]:40513', name: '[::1]:40513', text: 'psst' });
      expect(parseServerLine('[[fe80::1%eth0]:40512]zoe:login')).toEqual({ kind: 'login', addr: '[fe80::1%eth0]:40512', name: 'zoe' });
    });

    it('reads an IPv6 who row, which starts with a bracket as event lines do', () => {
      expect(parseServerLine('[::1]:40513:bob')).toEqual({ kind: 'who-row', addr: '[::1]:40513', name: 'bob' });
      expect(parseServerLine('127.0.0.1:40512:127.0.0.1:40512')).toEqual({ kind: 'who-row', addr: '127.0.0.1:40512', name: '127.0.0.1:40512' });
    });

    it('ends a chosen name at the first colon, so chat text keeps its own colons', () => {
      expect(parseServerLine('[127.0.0.1:40512]alice:re: 10:30?')).toEqual({ kind: 'chat', addr: '127.0.0.1:40512', name: 'alice', text: 're: 10:30?' });
    });

    it('takes the address-name when a chosen name could be its prefix, unless told the name', () => {
      const line = '[10.0.0.1:5000]10.0.0.1:5000:hi';
      expect(parseServerLine(line)).toMatchObject({ kind: 'chat', name: '10.0.0.1:5000', text: 'hi' });
      expect(parseServerLine(line, () => '10.0.0.1')).toMatchObject({ kind: 'chat', name: '10.0.0.1', text: '5000:hi' });
    });

    it('reads chat that merely resembles an event or markup as chat text, byte for byte', () => {
      expect(parseServerLine('[127.0.0.1:40512]mallory:<img src=x onerror=alert(1)>')).toEqual({
        kind: 'chat',
        addr: '127.0.0.1:40512',
        name: 'mallory',
        text: '<img src=x onerror=alert(1)>',
      });
      expect(parseServerLine('[127.0.0.1:40512]bob:login out now')).toMatchObject({ kind: 'chat', text: 'login out now' });
      expect(parseServerLine('[127.0.0.1:40512]bob:renamed tomorrow')).toMatchObject({ kind: 'chat', text: 'renamed tomorrow' });
      expect(parseServerLine('[127.0.0.1:40512]bob:')).toMatchObject({ kind: 'chat', text: '' });
    });

    it('keeps a line it cannot read as unknown, never as someone\'s chat', () => {
      for (const line of ['', 'hello', '[not an address]bob:hi', '[127.0.0.1:40512]b o b:hi', '[127.0.0.1:40512]bob']) {
        expect(parseServerLine(line)).toEqual({ kind: 'unknown', text: line });
      }
    });
  });
});

describe('LineSplitter', () => {
  it('splits a message into its CRLF-terminated lines', () => {
    expect(new LineSplitter().push('user list:\r\n127.0.0.1:40512:alice\r\n')).toEqual(['user list:', '127.0.0.1:40512:alice']);
  });

  it('keeps a line without its CRLF until the next message completes it', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('[127.0.0.1:40512]alice:hel')).toEqual([]);
    expect(splitter.push('lo\r\nrename ok\r\n')).toEqual(['[127.0.0.1:40512]alice:hello', 'rename ok']);
  });

  it('drops an unfinished line when reset for a new connection', () => {
    const splitter = new LineSplitter();
    splitter.push('[127.0.0.1:40512]alice:cut of');
    splitter.reset();
    expect(splitter.push('msg ok\r\n')).toEqual(['msg ok']);
  });
});
