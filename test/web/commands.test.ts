// The web client's reading of what the user types (web/commands.js). The page pairs each reply
// with the line that caused it, so it must know which lines the server answers exactly as the
// server reads them: every single-line row of PROTOCOL.md §7.1 is the test data.

import { describe, expect, it } from 'vitest';
import { expandAlias, MAX_LINE_BYTES, readClientLine, utf8Length } from '../../web/commands.js';
import { specTable, unescapeText } from '../helpers/spec-tables.ts';

/** What the page must read a §7.1 row as, from what the server reads (the table's second column). */
function expectedRead(serverReads: string, line: string): object {
  const quoted = [...serverReads.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => unescapeText(match[1]!));
  const slashWord = /^\/(\S*)/.exec(line)?.[1]?.toLowerCase();
  if (serverReads === 'who' || serverReads === 'quit' || serverReads === 'help' || serverReads === 'empty') return { type: serverReads };
  if (serverReads.startsWith('rename ')) return { type: 'rename', name: quoted[0] };
  if (serverReads.startsWith('msg ')) return { type: 'msg', to: quoted[0], text: quoted[1] };
  if (serverReads.startsWith('text ')) return { type: 'chat' };
  // §10: whatever the table writes after the word (a count, a token and a position).
  const historyWord = /^(history|token|resume)\b/.exec(serverReads)?.[1];
  if (historyWord !== undefined) return { type: historyWord };
  switch (serverReads.replace(/^error /, '')) {
    case 'CHAT_ERR_RENAME_SYNTAX':
    case 'CHAT_ERR_NAME_EMPTY':
    case 'CHAT_ERR_NAME_TOO_LONG':
    case 'CHAT_ERR_NAME_INVALID':
      return { type: 'rename' };
    case 'CHAT_ERR_COMMAND_SYNTAX':
      return { type: slashWord };
    case 'CHAT_ERR_UNKNOWN_COMMAND':
      return { type: 'unknown-command', word: slashWord };
    case 'CHAT_ERR_RESERVED_TEXT':
      return { type: 'chat' };
    default:
      throw new Error(`§7.1 reads a line in a way this test does not know: ${serverReads}`);
  }
}

describe('readClientLine', () => {
  // One line, as a WebSocket message carries it: the rows of several lines or a bare CR are the
  // line reader's business, which the WebSocket binding does not have.
  const rows = specTable('### 7.1').filter(([input]) => {
    const bytes = unescapeText(input!);
    return bytes.endsWith('\n') && !/[\n\r]/.test(bytes.slice(0, -1));
  });

  it.each(rows)('reads %s the way the server reads it: %s (%s)', (input, serverReads) => {
    const line = unescapeText(input!).replace(/\n$/, '');
    expect(readClientLine(line)).toMatchObject(expectedRead(serverReads!, line));
  });

  it('covers the rows that are one line', () => {
    expect(rows.length).toBeGreaterThan(60);
  });

  it('reads /history, /token and /resume as the commands of PROTOCOL.md §10, each answered once, in any case', () => {
    for (const [line, type] of [
      ['/history', 'history'],
      ['/history 3', 'history'],
      ['/HISTORY 50', 'history'],
      ['/history three', 'history'], // a usage error is a reply all the same
      ['/token', 'token'],
      ['/resume 3q2-7wbYc5u0Yx1PQrH6Aw 14', 'resume'],
      ['/resume 3q2-7wbYc5u0Yx1PQrH6Aw @14', 'resume'],
      ['/resume', 'resume'],
    ] as const) {
      expect(readClientLine(line), line).toEqual({ type });
    }
    expect(readClientLine('history 3')).toEqual({ type: 'chat' });
    expect(readClientLine('//token')).toEqual({ type: 'chat' });
  });

  it('reads a line of chat that only starts like a command as chat', () => {
    expect(readClientLine(' who')).toEqual({ type: 'chat' });
    expect(readClientLine('whom')).toEqual({ type: 'chat' });
    expect(readClientLine('/whom')).toEqual({ type: 'unknown-command', word: 'whom' });
  });
});

describe('expandAlias', () => {
  it('sends /nick as /rename, as IRC users type it', () => {
    expect(expandAlias('/nick bob')).toBe('/rename bob');
    expect(expandAlias('/NICK  bob ')).toBe('/rename  bob ');
    expect(expandAlias('/nick')).toBe('/rename');
  });

  it('leaves every other line as typed', () => {
    for (const line of ['/nickname bob', 'nick bob', '//nick bob', '/rename bob', 'hello']) expect(expandAlias(line)).toBe(line);
  });
});

describe('utf8Length', () => {
  it('counts UTF-8 bytes as the server does for --max-line', () => {
    for (const text of ['', 'hello', 'café', '\u{1F600}', 'e\u0301', '\ud800']) {
      expect(utf8Length(text), text).toBe(new TextEncoder().encode(text).length);
    }
    expect(MAX_LINE_BYTES).toBe(4096);
  });
});
