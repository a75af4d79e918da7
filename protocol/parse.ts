// Client line -> Command (PROTOCOL.md §3). Pure, no I/O; the input is a sanitized line, so it
// holds no control characters. Runs in the worker that owns the socket.

import type { Command } from './commands.ts';
import { EVENT_TEXTS, RENAMED_PREFIX } from './encode.ts';
import { commandSyntax, renameSyntax, reservedText, unknownCommand } from './errors.ts';
import { checkName } from './names.ts';

const EMPTY: Command = { type: 'empty' };
const WHO: Command = { type: 'who' };
const QUIT: Command = { type: 'quit' };
const HELP: Command = { type: 'help' };

/** Parses one sanitized line. Never throws: a bad command is an `invalid` with its error. */
export function parseLine(line: string): Command {
  // §3.1: a line of nothing but white space is not broadcast; it still counts as activity.
  if (line.trim().length === 0) return EMPTY;
  const first = line.charCodeAt(0);
  // fast path: a chat line starts with neither '/', 'w', 'W', 'r' nor 'R'.
  if (first === 0x2f /* / */) return parseSlash(line.trimEnd());
  if (first === 0x77 || first === 0x57 || first === 0x72 || first === 0x52) {
    // §3.2, §3.3: the seed's two commands, forgiving case and trailing white space (#10 §7).
    const command = line.trimEnd();
    const lower = command.toLowerCase();
    if (lower === 'who') return WHO;
    if (lower === 'rename') return { type: 'invalid', error: renameSyntax() };
    if (lower.startsWith('rename|')) return rename(command.slice('rename|'.length));
  }
  return chat(line);
}

/**
 * §3.5: chat text, unless it reads as one of the seed's event texts. Those share the TEXT slot of
 * `[ADDR]NAME:TEXT`, so `login out` from mallory would look, byte for byte, like her leaving
 * while she goes on reading (#10 §2). Compared as a person would read it: invisible characters
 * dropped and runs of white space seen as one space.
 */
function chat(text: string): Command {
  if (cannotReadAsEvent(text)) return { type: 'text', text };
  const seen = looksLike(text);
  if (EVENT_LOOKS.has(seen) || seen === RENAMED_LOOKS || seen.startsWith(RENAMED_PREFIX)) return { type: 'invalid', error: reservedText() };
  return { type: 'text', text };
}

const INVISIBLE = /\p{Default_Ignorable_Code_Point}/gu;
const WHITE_SPACE = /\s+/gu;

/**
 * fast path: every event text starts with l, I, t or r, and no invisible character is ASCII, so
 * a line whose first visible character is any other ASCII one is chat. Saves the two replaces
 * (about 0.4 µs) on most chat lines.
 */
function cannotReadAsEvent(text: string): boolean {
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
  const first = text.charCodeAt(i);
  return first < 0x80 && first !== 0x6c /* l */ && first !== 0x49 /* I */ && first !== 0x74 /* t */ && first !== 0x72 /* r */;
}

function looksLike(text: string): string {
  return text.replace(INVISIBLE, '').replace(WHITE_SPACE, ' ').trim();
}

const EVENT_LOOKS: ReadonlySet<string> = new Set(Object.values(EVENT_TEXTS));
const RENAMED_LOOKS = RENAMED_PREFIX.trimEnd();

function parseSlash(line: string): Command {
  // §3.4: a doubled slash escapes a line that should start with one.
  if (line.charCodeAt(1) === 0x2f) return chat(line.slice(1));
  const space = line.search(WHITE_SPACE_CHAR);
  const word = space === -1 ? line.slice(1) : line.slice(1, space);
  const rest = space === -1 ? '' : line.slice(space + 1).trim();
  switch (word.toLowerCase()) {
    case 'who':
      return rest === '' ? WHO : { type: 'invalid', error: commandSyntax('/who') };
    case 'rename':
      return rest === '' ? { type: 'invalid', error: commandSyntax('/rename NEW') } : rename(rest);
    case 'msg': {
      const gap = rest.search(WHITE_SPACE_CHAR);
      const to = gap === -1 ? '' : rest.slice(0, gap);
      const text = gap === -1 ? '' : rest.slice(gap + 1).trim();
      if (to === '' || text === '') return { type: 'invalid', error: commandSyntax('/msg NAME TEXT') };
      return { type: 'msg', to, text };
    }
    case 'quit':
      return QUIT; // like IRC's QUIT, anything after the word is ignored
    case 'help':
      return HELP;
    default:
      return { type: 'invalid', error: unknownCommand(word) };
  }
}

const WHITE_SPACE_CHAR = /\s/u;

function rename(raw: string): Command {
  const checked = checkName(raw);
  return 'error' in checked ? { type: 'invalid', error: checked.error } : { type: 'rename', name: checked.name };
}
