// Client line -> Command (PROTOCOL.md §3). Pure, no I/O; the input is a sanitized line, so it
// holds no control characters. Runs in the worker that owns the socket.

import type { Command } from './commands.ts';
import { commandSyntax, renameSyntax, unknownCommand } from './errors.ts';
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
  // fast path: a chat line starts with neither '/', 'w' nor 'r'.
  if (first === 0x2f /* / */) return parseSlash(line);
  // §3.2, §3.3: the seed's two commands match exactly, as the seed matched them.
  if (line === 'who') return WHO;
  if (line === 'rename') return { type: 'invalid', error: renameSyntax() };
  if (line.startsWith('rename|')) return rename(line.slice('rename|'.length));
  return { type: 'text', text: line };
}

function parseSlash(line: string): Command {
  // §3.4: a doubled slash escapes a line that should start with one.
  if (line.charCodeAt(1) === 0x2f) return { type: 'text', text: line.slice(1) };
  const space = line.indexOf(' ');
  const word = space === -1 ? line.slice(1) : line.slice(1, space);
  const rest = space === -1 ? '' : line.slice(space + 1).trim();
  switch (word.toLowerCase()) {
    case 'who':
      return rest === '' ? WHO : { type: 'invalid', error: commandSyntax('/who') };
    case 'rename':
      return rest === '' ? { type: 'invalid', error: commandSyntax('/rename NEW') } : rename(rest);
    case 'msg': {
      const gap = rest.indexOf(' ');
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

function rename(raw: string): Command {
  const checked = checkName(raw);
  return 'error' in checked ? { type: 'invalid', error: checked.error } : { type: 'rename', name: checked.name };
}
