// Client line -> Command (PROTOCOL.md §3). Pure, no I/O; the input is a sanitized line, so it
// holds no control characters. A reader of the command table in commands.ts, which says once what
// each command's words are and how its arguments become a Command; this file only finds the words.
// Runs in the worker that owns the socket.

import { COMMAND_LIST, type Command, type CommandDefinition } from './commands.ts';
import { EVENT_TEXTS, RENAMED_PREFIX } from './encode.ts';
import { commandSyntax, reservedText, unknownCommand, type ProtocolError } from './errors.ts';

const EMPTY: Command = { type: 'empty' };
const SLASH = 0x2f;

/** Parses one sanitized line. Never throws: a bad command is an `invalid` with its error. */
export function parseLine(line: string): Command {
  // §3.1: a line of nothing but white space is not broadcast; it still counts as activity.
  if (line.trim().length === 0) return EMPTY;
  const first = line.charCodeAt(0);
  if (first === SLASH) return parseSlash(line.trimEnd());
  // fast path: a chat line seldom starts with the first letter of a seed form (w, W, r or R), and
  // only one that does is compared with them.
  if (first < 0x80 && SEED_FORM_STARTS[first] === 1) {
    const command = parseSeedForm(line.trimEnd());
    if (command !== undefined) return command;
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
  if (EVENT_LOOKS.has(seen) || seen === RENAMED_LOOKS || seen.startsWith(RENAMED_PREFIX)) return invalid(reservedText());
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

// What the parser needs of each way to write a command, read from the table once, when the module
// loads, into fields of one shape.
// fast path: a command alone on its line (`who`, `/help`, `/rename` without NEW) is answered with
// an object built here, once: a Command is immutable data, and `build` is pure.

interface SlashReader {
  /** The word after the slash, lower case. */
  readonly name: string;
  /** The line when it is the word alone: the command, or the usage error for its missing argument. */
  readonly alone: Command;
  /** `CHAT_ERR_COMMAND_SYNTAX` with the command's usage. */
  readonly usageError: Command;
  readonly definition: CommandDefinition;
}

const SLASH_READERS: readonly SlashReader[] = COMMAND_LIST.map((definition) => {
  const usageError = invalid(commandSyntax(definition.usage));
  const alone = definition.parameters.length === 0 || definition.isArgumentOptional === true ? definition.build() : usageError;
  return { name: definition.name, alone, usageError, definition };
});

interface SeedReader {
  /** The seed word, lower case. */
  readonly word: string;
  /** The word and its separator (`rename|`), or '' for a form that takes no argument. */
  readonly prefix: string;
  /** The line when it is the word alone: the command, or the error for its missing separator. */
  readonly alone: Command;
  readonly definition: CommandDefinition;
}

const SEED_READERS: readonly SeedReader[] = COMMAND_LIST.flatMap((definition) => {
  const form = definition.seedForm;
  if (form === undefined) return [];
  return 'separator' in form
    ? [{ word: form.word, prefix: `${form.word}${form.separator}`, alone: invalid(form.withoutSeparator()), definition }]
    : [{ word: form.word, prefix: '', alone: definition.build(), definition }];
});

/** 1 at the ASCII code of each seed word's first letter, in both cases. */
const SEED_FORM_STARTS = new Uint8Array(0x80);
for (const { word } of SEED_READERS) {
  SEED_FORM_STARTS[word.charCodeAt(0)] = 1;
  SEED_FORM_STARTS[word.toUpperCase().charCodeAt(0)] = 1;
}

/**
 * Whether `text` holds `word` (lower-case ASCII) at `start`, ignoring the case of ASCII letters:
 * how command words are matched (§3.1, §3.4: any case). It decides what `toLowerCase()` and `===`
 * decided before the table: of the characters that lowercase to ASCII, only A-Z are not ASCII
 * already, but for the Kelvin sign (to k, which `/token` holds, so it is taken for one) and
 * U+0130 (to i and a combining dot, which no word holds).
 * fast path: nothing is sliced or lowercased, which every slash command and every chat line
 * starting with w or r paid for whole (about 20 ns for a line of 15 characters).
 */
const KELVIN_SIGN = 0x212a;

function hasWordAt(text: string, start: number, word: string): boolean {
  for (let index = 0; index < word.length; index++) {
    let code = text.charCodeAt(start + index);
    if (code >= 0x41 && code <= 0x5a) code += 0x20;
    else if (code === KELVIN_SIGN) code = 0x6b;
    if (code !== word.charCodeAt(index)) return false;
  }
  return true;
}

/**
 * §3.2, §3.3: the seed's commands, forgiving case and trailing white space (#10 §7); undefined
 * when the line is none of them, and so chat.
 */
function parseSeedForm(line: string): Command | undefined {
  for (let index = 0; index < SEED_READERS.length; index++) {
    const { word, prefix, alone, definition } = SEED_READERS[index]!;
    if (line.length === word.length && hasWordAt(line, 0, word)) return alone;
    // `rename|NEW`: NEW as typed, since white space at its start is the name's and §4 refuses it.
    if (prefix !== '' && hasWordAt(line, 0, prefix)) return definition.build(line.slice(prefix.length));
  }
  return undefined;
}

function parseSlash(line: string): Command {
  // §3.4: a doubled slash escapes a line that should start with one.
  if (line.charCodeAt(1) === SLASH) return chat(line.slice(1));
  const space = line.search(WHITE_SPACE_CHAR);
  const wordEnd = space === -1 ? line.length : space;
  const reader = slashReaderAt(line, wordEnd);
  if (reader === undefined) return invalid(unknownCommand(line.slice(1, wordEnd)));
  return space === -1 ? reader.alone : readArguments(reader, line.slice(space + 1).trim());
}

const WHITE_SPACE_CHAR = /\s/u;

/** The command whose name is the line's word, from after the slash to `wordEnd`. */
function slashReaderAt(line: string, wordEnd: number): SlashReader | undefined {
  const length = wordEnd - 1;
  for (let index = 0; index < SLASH_READERS.length; index++) {
    const reader = SLASH_READERS[index]!;
    if (reader.name.length === length && hasWordAt(line, 1, reader.name)) return reader;
  }
  return undefined;
}

/**
 * §3.4: the text after a command's word, trimmed, read by its parameters (ParameterNames: none,
 * the rest, or a word and the rest). `rest` is trimmed, so neither argument read here is empty.
 */
function readArguments({ alone, usageError, definition }: SlashReader, rest: string): Command {
  if (rest === '') return alone;
  const { parameters } = definition;
  if (parameters.length === 0) return definition.ignoresRest ? alone : usageError;
  if (parameters.length === 1) return definition.build(rest);
  const gap = rest.search(WHITE_SPACE_CHAR);
  if (gap === -1) return usageError;
  return definition.build(rest.slice(0, gap), rest.slice(gap + 1).trimStart());
}

function invalid(error: ProtocolError): Command {
  return { type: 'invalid', error };
}
