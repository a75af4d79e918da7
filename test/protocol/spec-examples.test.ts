// Runs every example table of docs/PROTOCOL.md §6-§7 against protocol/: the spec is the test data.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  encodeHelp,
  decodeLine,
  encodeChat,
  encodeGreeting,
  encodeLogin,
  encodeLogout,
  encodeAnnouncement,
  encodeMsgOk,
  encodePrivate,
  encodeRenamed,
  encodeRenameOk,
  encodeTimedOut,
  encodeWho,
  encodeError,
  ERROR_CODES,
  formatAddress,
  formatTime,
  LineReader,
  type Command,
  type ErrorCode,
  type ProtocolError,
} from '../../protocol/index.ts';
import * as errors from '../../protocol/errors.ts';
import { specTable, unescapeBytes, unescapeText } from '../helpers/spec-tables.ts';

/** What a connection reads from these bytes, in the spec's notation (§7.1). */
function readAs(bytes: Buffer, maxLineBytes: number): string {
  const seen: string[] = [];
  const reader = new LineReader(maxLineBytes, {
    onLine: (line) => seen.push(notation(decodeLine(line))),
    onLineTooLong: () => seen.push(`error ${ERROR_CODES.LINE_TOO_LONG}`),
    onDiscardedLineEnd: () => seen.push('empty'),
  });
  reader.push(bytes);
  return seen.length === 0 ? '—' : seen.join(' ; ');
}

function notation(command: Command): string {
  const quote = (text: string): string => JSON.stringify(text);
  switch (command.type) {
    case 'text':
      return `text ${quote(command.text)}`;
    case 'rename':
      return `rename ${quote(command.name)}`;
    case 'msg':
      return `msg ${quote(command.to)} ${quote(command.text)}`;
    case 'invalid':
      return `error ${command.error.code}`;
    default:
      return command.type;
  }
}

/** The expected cell with its escapes resolved, in the same notation as `notation`. */
function expectedNotation(cell: string): string {
  return cell.replace(/"((?:[^"\\]|\\.)*)"/g, (_, inner: string) => JSON.stringify(unescapeText(inner)));
}

describe('PROTOCOL.md §7.1 client bytes', () => {
  it.each(specTable('### 7.1'))('reads %s as %s (%s)', (input, expected) => {
    expect(readAs(unescapeBytes(input!), 4096)).toBe(expectedNotation(expected!));
  });
});

describe('PROTOCOL.md §7.2 line limits', () => {
  it.each(specTable('### 7.2'))('reads %s as %s with --max-line 8 (%s)', (input, expected) => {
    expect(readAs(unescapeBytes(input!), 8)).toBe(expectedNotation(expected!));
  });
});

/** Builds the error a §7.3 row names, from its code and one argument. */
const ERROR_EXAMPLES: Record<ErrorCode, (argument: string) => ProtocolError> = {
  [ERROR_CODES.LINE_TOO_LONG]: (n) => errors.lineTooLong(Number(n)),
  [ERROR_CODES.RENAME_SYNTAX]: () => errors.renameSyntax(),
  [ERROR_CODES.NAME_EMPTY]: () => errors.nameEmpty(),
  [ERROR_CODES.NAME_TOO_LONG]: () => errors.nameTooLong(),
  [ERROR_CODES.NAME_INVALID]: () => errors.nameInvalid(),
  [ERROR_CODES.NAME_TAKEN]: (name) => errors.nameTaken(name),
  [ERROR_CODES.UNKNOWN_COMMAND]: (word) => errors.unknownCommand(word),
  [ERROR_CODES.COMMAND_SYNTAX]: (usage) => errors.commandSyntax(usage),
  [ERROR_CODES.RESERVED_TEXT]: () => errors.reservedText(),
  [ERROR_CODES.NO_SUCH_USER]: (name) => errors.noSuchUser(name),
  [ERROR_CODES.RATE_LIMITED]: (args) => errors.rateLimited(Number(args.split(' ')[0]), Number(args.split(' ')[1])),
  [ERROR_CODES.CLUSTER_UNAVAILABLE]: () => errors.clusterUnavailable(),
  [ERROR_CODES.RESUME_REFUSED]: (seconds) => errors.resumeRefused(Number(seconds)),
  [ERROR_CODES.RESUME_AHEAD]: (args) => errors.resumeAhead(Number(args.split(' ')[0]), Number(args.split(' ')[1])),
  [ERROR_CODES.RESUME_OFF]: () => errors.resumeOff(),
  [ERROR_CODES.FLOODING]: (args) => errors.flooding(Number(args.split(' ')[0]), Number(args.split(' ')[1])),
  [ERROR_CODES.TOO_MANY_FROM_ADDRESS]: (n) => errors.tooManyFromAddress(Number(n)),
  [ERROR_CODES.SERVER_FULL]: (n) => errors.serverFull(Number(n)),
  [ERROR_CODES.IDLE_TIMEOUT]: (n) => errors.idleTimeout(Number(n)),
  [ERROR_CODES.SHUTTING_DOWN]: () => errors.shuttingDown(),
};

function encodeExample(message: string): string {
  const [kind, ...args] = message.split(' ');
  const [addr = '', name = '', ...rest] = args;
  const text = rest.join(' ');
  switch (kind) {
    case 'login':
      return encodeLogin(addr, name);
    case 'greeting':
      return encodeGreeting(addr, name);
    case 'chat':
      return encodeChat(addr, name, text);
    case 'logout':
      return encodeLogout(addr, name);
    case 'timed-out':
      return encodeTimedOut(addr, name);
    case 'renamed':
      return encodeRenamed(addr, name, text);
    case 'who':
      return encodeWho(args.map((entry) => ({ addr: entry.slice(0, entry.lastIndexOf('=')), name: entry.slice(entry.lastIndexOf('=') + 1) })));
    case 'rename-ok':
      return encodeRenameOk();
    case 'private':
      return encodePrivate(addr, name, text);
    case 'msg-ok':
      return encodeMsgOk();
    case 'announcement':
      return encodeAnnouncement(args.join(' '));
    case 'error':
      return encodeError(ERROR_EXAMPLES[addr as ErrorCode](args.slice(1).join(' ')));
    default:
      throw new Error(`§7.3 names a message this test does not know: ${kind}`);
  }
}

describe('PROTOCOL.md §7.3 server messages', () => {
  it.each(specTable('### 7.3'))('encodes %s as %s', (message, bytes) => {
    expect(Buffer.from(encodeExample(message!), 'utf8')).toEqual(unescapeBytes(bytes!));
  });
});

describe('PROTOCOL.md §7.4 addresses', () => {
  it.each(specTable('### 7.4'))('shows %s as %s', (remote, addr) => {
    const [ip = '', port = ''] = remote!.split(' ');
    expect(formatAddress(ip, Number(port))).toBe(addr);
  });
});

describe('PROTOCOL.md §6 error tables', () => {
  const rows = [...specTable('### 6.1'), ...specTable('### 6.2')];
  // The message is the cell's first code span (the usage row names its values after it).
  const documented = new Map(rows.map((row) => [row[0]!, row[1]!.replace(/^`([^`]*)`.*$/, '$1').replaceAll('\\|', '|')]));
  /** An example argument for each placeholder the spec uses, and the error built with it. */
  const SAMPLES: Record<ErrorCode, [Record<string, string>, ProtocolError]> = {
    [ERROR_CODES.LINE_TOO_LONG]: [{ N: '4096' }, errors.lineTooLong(4096)],
    [ERROR_CODES.RENAME_SYNTAX]: [{}, errors.renameSyntax()],
    [ERROR_CODES.NAME_EMPTY]: [{}, errors.nameEmpty()],
    [ERROR_CODES.NAME_TOO_LONG]: [{}, errors.nameTooLong()],
    [ERROR_CODES.NAME_INVALID]: [{}, errors.nameInvalid()],
    [ERROR_CODES.NAME_TAKEN]: [{ NEW: 'Bob' }, errors.nameTaken('Bob')],
    [ERROR_CODES.UNKNOWN_COMMAND]: [{ WORD: 'dance' }, errors.unknownCommand('dance')],
    [ERROR_CODES.COMMAND_SYNTAX]: [{ USAGE: '/who' }, errors.commandSyntax('/who')],
    [ERROR_CODES.RESERVED_TEXT]: [{}, errors.reservedText()],
    [ERROR_CODES.NO_SUCH_USER]: [{ NAME: 'carol' }, errors.noSuchUser('carol')],
    [ERROR_CODES.RATE_LIMITED]: [{ RATE: '2', BURST: '5' }, errors.rateLimited(2, 5)],
    [ERROR_CODES.CLUSTER_UNAVAILABLE]: [{}, errors.clusterUnavailable()],
    [ERROR_CODES.RESUME_REFUSED]: [{ SECONDS: '120' }, errors.resumeRefused(120)],
    [ERROR_CODES.RESUME_AHEAD]: [{ N: '20', M: '15' }, errors.resumeAhead(20, 15)],
    [ERROR_CODES.RESUME_OFF]: [{}, errors.resumeOff()],
    [ERROR_CODES.FLOODING]: [{ RATE: '2', LINES: '256' }, errors.flooding(2, 256)],
    [ERROR_CODES.TOO_MANY_FROM_ADDRESS]: [{ N: '16' }, errors.tooManyFromAddress(16)],
    [ERROR_CODES.SERVER_FULL]: [{ N: '10000' }, errors.serverFull(10000)],
    [ERROR_CODES.IDLE_TIMEOUT]: [{ N: '60' }, errors.idleTimeout(60)],
    [ERROR_CODES.SHUTTING_DOWN]: [{}, errors.shuttingDown()],
  };

  it.each(Object.values(ERROR_CODES))('documents %s with its exact message and fatality', (code) => {
    const template = documented.get(code);
    expect(template, `${code} is missing from PROTOCOL.md §6`).toBeDefined();
    const [placeholders, error] = SAMPLES[code];
    let message = template!;
    for (const [placeholder, value] of Object.entries(placeholders)) message = message.replaceAll(placeholder, value);
    expect(error.message).toBe(message);
    expect(error.code).toBe(code);
    expect(error.fatal).toBe(specTable('### 6.2').some((row) => row[0] === code));
  });
});

describe('PROTOCOL.md §5.6 /help reply', () => {
  it('is, byte for byte, what encodeHelp writes with the default settings', () => {
    const spec = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
    const section = spec.slice(spec.indexOf('### 5.6'));
    const block = /```text\n([\s\S]*?)```/.exec(section)![1]!;
    const help = encodeHelp({ idleTimeoutSeconds: 60, idleWarningSeconds: 10, rateLimit: 2, rateBurst: 5 });
    expect(help).toBe(block.replaceAll('\n', '\r\n'));
  });
});

describe('PROTOCOL.md §10.1 times', () => {
  it.each([0, 1, 9, 10, 99, 100, 999, 1000, 1_796_175_557_695, 1_796_175_557_005, 1_796_175_557_050, 253_402_300_799_999])(
    'writes %i ms as toISOString does',
    (time) => {
      expect(formatTime(time)).toBe(new Date(time).toISOString());
    },
  );

  it('writes each of a run of times as toISOString does, across second boundaries', () => {
    for (let time = 1_796_175_557_000 - 3000; time < 1_796_175_557_000 + 3000; time += 7) expect(formatTime(time)).toBe(new Date(time).toISOString());
  });
});
