// The command table of protocol/commands.ts (PROTOCOL.md §3.2–§3.4, §5.6): that parsing, /help and
// the rooms' dispatch all follow it, command by command. The table is read here, not restated, so a
// command added to it is tested by every `each` below; the examples pin the bytes the seed fixed.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COMMAND_LIST,
  COMMANDS,
  dispatchCommand,
  encodeHelp,
  ERROR_CODES,
  HELP_ROWS,
  parseLine,
  SLASH_ESCAPE_HELP,
  type Command,
  type CommandHandlers,
  type NamedCommandType,
} from '../../protocol/index.ts';
import * as errors from '../../protocol/errors.ts';
import { specTable } from '../helpers/spec-tables.ts';

/** A well-formed line for each command and what it reads as; the Record makes it complete. */
const EXAMPLES: Record<NamedCommandType, readonly [string, Command]> = {
  who: ['/who', { type: 'who' }],
  rename: ['/rename bob', { type: 'rename', name: 'bob' }],
  msg: ['/msg bob hi there', { type: 'msg', to: 'bob', text: 'hi there' }],
  quit: ['/quit', { type: 'quit' }],
  help: ['/help', { type: 'help' }],
  history: ['/history 5', { type: 'history', count: 5 }],
  token: ['/token', { type: 'token' }],
  resume: ['/resume abc @12', { type: 'resume', token: 'abc', position: 12 }],
};

const usageError = (usage: string): Command => ({ type: 'invalid', error: errors.commandSyntax(usage) });

/** The `commands:` lines of /help as [usage, description], read back from the bytes. */
function helpRows(): (readonly [string, string])[] {
  const lines = encodeHelp({ idleTimeoutSeconds: 60, idleWarningSeconds: 10, rateLimit: 2, rateBurst: 5 }).split('\r\n');
  return lines.slice(lines.indexOf('commands:') + 1, lines.indexOf('limits:')).map((line) => {
    const [, usage = '', description = ''] = /^ {2}(\S+(?: \S+)*) {2,}(.*)$/.exec(line) ?? [];
    return [usage, description] as const;
  });
}

describe('COMMANDS', () => {
  it('holds who, rename, msg, quit, help, history, token and resume, in that order', () => {
    expect(COMMAND_LIST.map((definition) => definition.name)).toEqual(['who', 'rename', 'msg', 'quit', 'help', 'history', 'token', 'resume']);
  });

  it.each(Object.entries(COMMANDS))('keys %s by the Command type it becomes', (key, definition) => {
    expect(definition.type).toBe(key);
  });

  it.each(COMMAND_LIST)('spells the usage of /$name as the slash, the name and its parameters', (definition) => {
    expect(definition.usage).toBe(['/' + definition.name, ...definition.parameters].join(' '));
  });

  it.each(COMMAND_LIST.flatMap((definition) => [definition.name, ...(definition.seedForm ? [definition.seedForm.word] : [])]))(
    'spells the word %s in lower-case ASCII letters',
    (word) => {
      // The parser matches words by ASCII case, and the Kelvin sign for a k (parse.ts hasWordAt):
      // what toLowerCase() matches among these letters, and nothing else.
      expect(word).toMatch(/^[a-z]+$/);
    },
  );

  it('reads /to\u{212A}en, with the Kelvin sign that toLowerCase() takes for a k, as /token', () => {
    expect('/to\u{212A}en'.toLowerCase()).toBe('/token');
    expect(parseLine('/to\u{212A}en')).toEqual({ type: 'token' });
  });

  it('gives every command a name of its own', () => {
    expect(new Set(COMMAND_LIST.map((definition) => definition.name)).size).toBe(COMMAND_LIST.length);
  });

  it.each(COMMAND_LIST)('ignores the rest of the line after /$name only when it takes no parameters', (definition) => {
    if (definition.ignoresRest) expect(definition.parameters).toEqual([]);
  });

  it.each(COMMAND_LIST.filter((definition) => definition.seedForm !== undefined))(
    'gives the seed form of /$name one argument when it has a separator, and none otherwise',
    (definition) => {
      const form = definition.seedForm!;
      expect(definition.parameters.length).toBe('separator' in form ? 1 : 0);
      if ('separator' in form) expect(form.separator).toMatch(/^[^a-z\s]$/);
    },
  );

  it('lists the usages PROTOCOL.md §3.4 documents, in the same order, then the // escape', () => {
    const documented = specTable('### 3.4').map((row) => row[0]!.replaceAll('\\|', '|'));
    expect(documented.slice(0, HELP_ROWS.length)).toEqual(HELP_ROWS.map((row) => row.usage));
  });

  it('names every usage that CHAT_ERR_COMMAND_SYNTAX can carry in PROTOCOL.md §6.1', () => {
    const row = specTable('### 6.1').find((cells) => cells[0] === ERROR_CODES.COMMAND_SYNTAX)!;
    const named = [...row[1]!.split('being')[1]!.matchAll(/`([^`]*)`/g)].map((match) => match[1]);
    const refusable = COMMAND_LIST.filter((definition) => definition.parameters.length > 0 || !definition.ignoresRest);
    expect(named).toEqual(refusable.map((definition) => definition.usage));
  });
});

describe('parseLine, reading the table', () => {
  it.each(COMMAND_LIST)('reads the example of /$name as its command', (definition) => {
    const [line, command] = EXAMPLES[definition.type];
    expect(parseLine(line)).toEqual(command);
  });

  it.each(COMMAND_LIST)('matches the word of /$name ignoring case and white space at the end', (definition) => {
    const [line, command] = EXAMPLES[definition.type];
    const word = `/${definition.name}`;
    const upper = line.replace(word, word.toUpperCase());
    const mixed = line.replace(word, `/${definition.name[0]!.toUpperCase()}${definition.name.slice(1)}`);
    for (const variant of [upper, mixed, `${line} `, `${line} \u3000`]) expect(parseLine(variant), variant).toEqual(command);
  });

  it.each(COMMAND_LIST.filter((definition) => definition.parameters.length > 0))(
    'answers /$name with fewer arguments than parameters with its usage, and keeps the connection',
    (definition) => {
      // An optional parameter may be left out (`/history`): that is no error.
      const first = definition.isArgumentOptional === true ? 1 : 0;
      for (let given = first; given < definition.parameters.length; given++) {
        const line = ['/' + definition.name, ...definition.parameters.slice(0, given).map(() => 'bob')].join(' ');
        for (const variant of [line, `${line}   `]) {
          const command = parseLine(variant);
          expect(command, variant).toEqual(usageError(definition.usage));
          expect(command.type === 'invalid' && command.error).toEqual({
            code: ERROR_CODES.COMMAND_SYNTAX,
            message: `usage: ${definition.usage}`,
            fatal: false,
          });
        }
      }
    },
  );

  it.each(COMMAND_LIST.filter((definition) => definition.parameters.length === 0 && !definition.ignoresRest))(
    'answers /$name followed by anything with its usage',
    (definition) => {
      expect(parseLine(`/${definition.name} all`)).toEqual(usageError(definition.usage));
    },
  );

  it.each(COMMAND_LIST.filter((definition) => definition.ignoresRest))('ignores whatever follows /$name', (definition) => {
    expect(parseLine(`/${definition.name} bye all`)).toEqual(EXAMPLES[definition.type][1]);
  });

  it('gives the last parameter the rest of the line, its inner white space kept', () => {
    expect(parseLine('/msg  bob   hi   there  ')).toEqual({ type: 'msg', to: 'bob', text: 'hi   there' });
    expect(parseLine('/msg\u3000bob\u00a0hi')).toEqual({ type: 'msg', to: 'bob', text: 'hi' });
  });

  it('reads /rename NEW with the rules of §4, spaces around NEW ignored', () => {
    expect(parseLine('/rename  bob ')).toEqual({ type: 'rename', name: 'bob' });
    expect(parseLine('/rename b o b')).toEqual({ type: 'invalid', error: errors.nameInvalid() });
    expect(parseLine('/rename \uff41lice')).toEqual({ type: 'rename', name: 'alice' });
  });

  it('knows a word exactly when it is a name of the table, lowercased as toLowerCase() does', () => {
    // Letters of the names in either case, and the characters whose lowercase is ASCII or holds it.
    const letters = [...new Set(COMMAND_LIST.flatMap((definition) => [...definition.name]))];
    const character = fc.constantFrom(...letters, ...letters.map((letter) => letter.toUpperCase()), '\u212a', '\u0130', '\u0307', 'k', 'i', '\u00e9');
    fc.assert(
      fc.property(fc.array(character, { maxLength: 7 }), fc.constantFrom('', ' all', ' bob hi'), (word, rest) => {
        const typed = word.join('');
        const known = COMMAND_LIST.some((definition) => definition.name === typed.toLowerCase());
        const command = parseLine(`/${typed}${rest}`);
        expect(command.type === 'invalid' && command.error.code === ERROR_CODES.UNKNOWN_COMMAND).toBe(!known);
      }),
      { numRuns: 5000 },
    );
  });

  it('answers an unknown word with CHAT_ERR_UNKNOWN_COMMAND, naming it as typed', () => {
    expect(parseLine('/Dance now')).toEqual({ type: 'invalid', error: errors.unknownCommand('Dance') });
    // Command words are ASCII as typed: a fullwidth one is no command (and no seed form is either).
    expect(parseLine('/\uff57\uff48\uff4f')).toEqual({ type: 'invalid', error: errors.unknownCommand('\uff57\uff48\uff4f') });
    expect(parseLine('\uff57\uff48\uff4f')).toEqual({ type: 'text', text: '\uff57\uff48\uff4f' });
  });
});

describe('parseLine, the seed forms', () => {
  it.each(['who', 'WHO', 'Who', 'who ', 'wHo \u3000'])('reads %j as who', (line) => {
    expect(parseLine(line)).toEqual({ type: 'who' });
  });

  it.each([
    ['rename|bob', 'bob'],
    ['RENAME|bob', 'bob'],
    ['Rename|bob \u00a0', 'bob'],
    ['rename|Bob', 'Bob'],
  ])('reads %j as a rename to %j', (line, name) => {
    expect(parseLine(line)).toEqual({ type: 'rename', name });
  });

  it('answers rename without a bar with CHAT_ERR_RENAME_SYNTAX, not the usage of /rename', () => {
    expect(parseLine('Rename ')).toEqual({ type: 'invalid', error: errors.renameSyntax() });
  });

  it('passes NEW on as typed after the bar, so white space before it breaks §4', () => {
    expect(parseLine('rename| bob')).toEqual({ type: 'invalid', error: errors.nameInvalid() });
    expect(parseLine('rename|')).toEqual({ type: 'invalid', error: errors.nameEmpty() });
  });

  it.each(['rename bob', 'rename\\bob', 'renamed it', 'whoever', 'who is here', ' who', 'who|x', '\uff57ho'])('reads %j as chat', (line) => {
    expect(parseLine(line)).toEqual({ type: 'text', text: line });
  });

  it.each(COMMAND_LIST.filter((definition) => definition.seedForm !== undefined))(
    'says in /help that /$name is the same as its seed form',
    (definition) => {
      const form = definition.seedForm!;
      const spelled = 'separator' in form ? `${form.word}${form.separator}${definition.parameters.join(' ')}` : form.word;
      expect(definition.description).toBe(`${definition.summary} (same as: ${spelled})`);
    },
  );
});

describe('encodeHelp', () => {
  it('lists the table in its order, then the // escape', () => {
    expect(helpRows()).toEqual([
      ...COMMAND_LIST.map((definition) => [definition.usage, definition.description]),
      [SLASH_ESCAPE_HELP.usage, SLASH_ESCAPE_HELP.description],
    ]);
  });

  it('pads every usage to the longest, so the descriptions line up', () => {
    const lines = encodeHelp({ idleTimeoutSeconds: 60, idleWarningSeconds: 10, rateLimit: 2, rateBurst: 5 }).split('\r\n');
    const width = Math.max(...HELP_ROWS.map((row) => row.usage.length));
    const rows = lines.slice(lines.indexOf('commands:') + 1, lines.indexOf('limits:'));
    expect(rows).toEqual(HELP_ROWS.map((row) => `  ${row.usage.padEnd(width)}  ${row.description}`));
  });
});

describe('dispatchCommand', () => {
  /** One example of every Command variant, the ones the table does not make included. */
  const EVERY_COMMAND: readonly Command[] = [
    { type: 'empty' },
    { type: 'text', text: 'hello' },
    ...Object.values(EXAMPLES).map(([, command]) => command),
    { type: 'invalid', error: errors.reservedText() },
  ];

  function recordingHandlers(calls: string[]): CommandHandlers<string> {
    return {
      empty: (context) => calls.push(`${context} empty`),
      text: (context, command) => calls.push(`${context} text ${command.text}`),
      who: (context) => calls.push(`${context} who`),
      rename: (context, command) => calls.push(`${context} rename ${command.name}`),
      msg: (context, command) => calls.push(`${context} msg ${command.to} ${command.text}`),
      quit: (context) => calls.push(`${context} quit`),
      help: (context) => calls.push(`${context} help`),
      history: (context, command) => calls.push(`${context} history ${command.count}`),
      token: (context) => calls.push(`${context} token`),
      resume: (context, command) => calls.push(`${context} resume ${command.token} ${command.position}`),
      invalid: (context, command) => calls.push(`${context} invalid ${command.error.code}`),
    };
  }

  it('calls the handler of the command type, once, with the context and the command', () => {
    const calls: string[] = [];
    const handlers = recordingHandlers(calls);
    for (const command of EVERY_COMMAND) dispatchCommand(handlers, 'alice', command);
    expect(calls).toEqual([
      'alice empty',
      'alice text hello',
      'alice who',
      'alice rename bob',
      'alice msg bob hi there',
      'alice quit',
      'alice help',
      'alice history 5',
      'alice token',
      'alice resume abc 12',
      `alice invalid ${ERROR_CODES.RESERVED_TEXT}`,
    ]);
  });

  it('has a handler in the type for every Command variant the parser can return', () => {
    const handlers = recordingHandlers([]);
    expect(Object.keys(handlers).sort()).toEqual([...new Set(EVERY_COMMAND.map((command) => command.type))].sort());
  });

  it('refuses, at compile time, a handler table that misses a command', () => {
    // @ts-expect-error `invalid` has no handler: a room that forgot one does not compile.
    const incomplete: CommandHandlers<null> = {
      empty: () => {},
      text: () => {},
      who: () => {},
      rename: () => {},
      msg: () => {},
      quit: () => {},
      help: () => {},
    };
    expect(Object.keys(incomplete)).not.toContain('invalid');
  });

  it('refuses, at compile time, a handler that reads a field its command does not have', () => {
    const handlers: CommandHandlers<string> = {
      ...recordingHandlers([]),
      // @ts-expect-error a who carries no name.
      who: (_context, command) => command.name,
    };
    expect(handlers.who).toBeTypeOf('function');
  });
});
