// What a client line means once it is decoded and sanitized (PROTOCOL.md §3), and the one table of
// the commands a client types by name (§3.2–§3.4): name, seed spelling, arguments, usage, help text
// and the Command each becomes. The parser reads the table, /help prints it, and the rooms dispatch
// on its types through CommandHandlers (after ergo's irc/commands.go). Pure: data, types, one helper.

import { commandSyntax, renameSyntax, type ProtocolError } from './errors.ts';
import { checkName } from './names.ts';

/**
 * A client line, parsed. Every variant but `invalid` is carried out by the primary. Plain data: it
 * crosses from the worker to the primary by structured clone (server/messages.ts).
 */
export type Command =
  | { readonly type: 'empty' }
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'who' }
  | { readonly type: 'rename'; readonly name: string }
  | { readonly type: 'msg'; readonly to: string; readonly text: string }
  | { readonly type: 'quit' }
  | { readonly type: 'help' }
  /** §10.2: the last `count` history entries; null: the default number. */
  | { readonly type: 'history'; readonly count: number | null }
  /** §10.3 */
  | { readonly type: 'token' }
  /** §10.4: take back the session of `token`, whose client last received `position`. */
  | { readonly type: 'resume'; readonly token: string; readonly position: number }
  | { readonly type: 'invalid'; readonly error: ProtocolError };

export type CommandType = Command['type'];

/** The variant of Command whose `type` is `Type`: what its handler receives. */
export type CommandOfType<Type extends CommandType> = Extract<Command, { readonly type: Type }>;

/**
 * The commands a client types by name, so the ones in the table below. The other three the parser
 * finds without a word: `empty` (§3.1), `text` (§3.5) and `invalid` (any refused line).
 */
export type NamedCommandType = Exclude<CommandType, 'empty' | 'text' | 'invalid'>;

/**
 * A room's handler for every kind of Command, one per `type`. Declaring a room's handlers with this
 * type makes the compiler refuse a table that misses a kind or takes the wrong fields for one.
 */
export type CommandHandlers<Context> = {
  readonly [Type in CommandType]: (context: Context, command: CommandOfType<Type>) => void;
};

/** Calls the handler for `command.type` with the context and the command. */
export function dispatchCommand<Context>(handlers: CommandHandlers<Context>, context: Context, command: Command): void {
  // TypeScript cannot tie `handlers[command.type]` to the variant of `command` it takes (the
  // union's "correlated" case); the mapped type above is what makes this cast true.
  const handler = handlers[command.type] as (context: Context, command: Command) => void;
  handler(context, command);
}

/**
 * The seed's spelling of a command, without a slash (§3.2, §3.3). Its word is ASCII and matched
 * ignoring case and white space at the end of the line, as the seed did not but people type it.
 */
export type SeedForm =
  /** The word is the whole line: `who`. */
  | { readonly word: string }
  /**
   * The word, the separator, then the one argument up to white space at the end of the line:
   * `rename|NEW`. The word alone is `withoutSeparator`; the word and anything but the separator
   * (`rename bob`) is chat text.
   */
  | { readonly word: string; readonly separator: string; readonly withoutSeparator: () => ProtocolError };

/**
 * The argument shapes a command can have (§3.4): none, one that takes the rest of the line
 * (`/rename NEW`), or one word and the rest (`/msg NAME TEXT`). Every argument is required but
 * the one of a command marked `isArgumentOptional` (`/history [N]`), and the last is trimmed but
 * keeps its inner white space (`/msg bob hi  there` gives TEXT `hi  there`). A missing one is
 * `CHAT_ERR_COMMAND_SYNTAX` with the usage.
 */
export type ParameterNames = readonly [] | readonly [string] | readonly [string, string];

/** One command of the table. */
export interface CommandDefinition {
  /** The Command it becomes, and so the handler of CommandHandlers that carries it out. */
  readonly type: NamedCommandType;
  /** The word after the slash, lower case; matched ignoring case (§3.4). */
  readonly name: string;
  /** Its arguments' placeholders, in the order they are typed (see ParameterNames). */
  readonly parameters: ParameterNames;
  /**
   * For a command without parameters: whether text after the word is ignored (`/quit bye`, as
   * IRC's QUIT) or refused with the usage (`/who all`). A command with parameters has none left.
   */
  readonly ignoresRest: boolean;
  /** Its one parameter may be left out: the command alone is `build()` with no argument. */
  readonly isArgumentOptional?: boolean;
  readonly seedForm?: SeedForm;
  /** What it does, as /help says it. */
  readonly summary: string;
  /** `/NAME PARAMETERS…`: the first column of /help and the USAGE of `CHAT_ERR_COMMAND_SYNTAX`. */
  readonly usage: string;
  /** The second column of /help: the summary, and the seed form if there is one. */
  readonly description: string;
  /**
   * Turns the arguments, exactly one per parameter and none empty, into the Command of `type`; an
   * argument it refuses (a name §4 does not allow) becomes an `invalid`. Never throws, and is pure:
   * the parser builds a command without arguments once and returns that object every time.
   */
  readonly build: (...values: readonly string[]) => Command;
}

/** A table entry as written: usage and description are derived, `build` is typed by its parameters. */
type DefinitionInput<Type extends NamedCommandType, Names extends ParameterNames> = Omit<
  CommandDefinition,
  'type' | 'parameters' | 'usage' | 'description' | 'build'
> & {
  readonly type: Type;
  readonly parameters: Names;
  readonly build: (...values: { readonly [Index in keyof Names]: string }) => CommandOfType<Type> | CommandOfType<'invalid'>;
};

/** Fills in what follows from the rest (usage, description), so the table states each fact once. */
function defineCommand<Type extends NamedCommandType, const Names extends ParameterNames>(
  input: DefinitionInput<Type, Names>,
): CommandDefinition & { readonly type: Type } {
  const usage = [`/${input.name}`, ...input.parameters].join(' ');
  const description =
    input.seedForm === undefined ? input.summary : `${input.summary} (same as: ${seedUsage(input.seedForm, input.parameters)})`;
  // The parser calls `build` with exactly one value per parameter (parse.ts readArguments), as
  // the tuple type of `input.build` asks; the table's common type cannot say so for every entry.
  const build = input.build as (...values: readonly string[]) => Command;
  return { ...input, usage, description, build };
}

function seedUsage(form: SeedForm, parameters: readonly string[]): string {
  return 'separator' in form ? `${form.word}${form.separator}${parameters.join(' ')}` : form.word;
}

// Shared, since they carry nothing: the parser returns the same object for every `/who`.
const WHO: CommandOfType<'who'> = { type: 'who' };
const QUIT: CommandOfType<'quit'> = { type: 'quit' };
const HELP: CommandOfType<'help'> = { type: 'help' };
const TOKEN: CommandOfType<'token'> = { type: 'token' };
const HISTORY_DEFAULT: CommandOfType<'history'> = { type: 'history', count: null };

/** A count or a position as §10 writes them: decimal digits, no sign, within a safe integer. */
const DECIMAL = /^[0-9]{1,15}$/;

/** §10.2: `/history` alone, or with a positive count. */
function history(usage: string, count: string | undefined): CommandOfType<'history'> | CommandOfType<'invalid'> {
  if (count === undefined) return HISTORY_DEFAULT;
  const value = DECIMAL.test(count) ? Number(count) : 0;
  return value >= 1 ? { type: 'history', count: value } : { type: 'invalid', error: commandSyntax(usage) };
}

/** §10.4: POSITION is `N` or `@N`; TOKEN is checked by the room, which knows the tokens. */
function resume(usage: string, token: string, position: string): CommandOfType<'resume'> | CommandOfType<'invalid'> {
  const digits = position.startsWith('@') ? position.slice(1) : position;
  if (!DECIMAL.test(digits)) return { type: 'invalid', error: commandSyntax(usage) };
  return { type: 'resume', token, position: Number(digits) };
}

/** §4: NEW is stored in NFKC, or refused with the rule it breaks. */
function rename(raw: string): CommandOfType<'rename'> | CommandOfType<'invalid'> {
  const checked = checkName(raw);
  return 'error' in checked ? { type: 'invalid', error: checked.error } : { type: 'rename', name: checked.name };
}

/**
 * The commands, by the Command type each becomes, in the order /help lists them (an object keeps
 * the order its keys were written in). The mapped type makes the compiler refuse a table without
 * a definition for some named command.
 */
export const COMMANDS: { readonly [Type in NamedCommandType]: CommandDefinition & { readonly type: Type } } = {
  // §3.2
  who: defineCommand({
    type: 'who',
    name: 'who',
    parameters: [],
    ignoresRest: false,
    seedForm: { word: 'who' },
    summary: 'list who is online',
    build: () => WHO,
  }),
  // §3.3
  rename: defineCommand({
    type: 'rename',
    name: 'rename',
    parameters: ['NEW'],
    ignoresRest: false,
    seedForm: { word: 'rename', separator: '|', withoutSeparator: renameSyntax },
    summary: 'change your name',
    build: rename,
  }),
  // §3.4: NAME is passed on as typed; the room looks it up by its keys (§4, rule 7).
  msg: defineCommand({
    type: 'msg',
    name: 'msg',
    parameters: ['NAME', 'TEXT'],
    ignoresRest: false,
    summary: 'send TEXT to NAME only',
    build: (to, text) => ({ type: 'msg', to, text }),
  }),
  quit: defineCommand({
    type: 'quit',
    name: 'quit',
    parameters: [],
    ignoresRest: true,
    summary: 'leave the chat',
    build: () => QUIT,
  }),
  help: defineCommand({
    type: 'help',
    name: 'help',
    parameters: [],
    ignoresRest: true,
    summary: 'show this list',
    build: () => HELP,
  }),
  // §10.2
  history: defineCommand({
    type: 'history',
    name: 'history',
    parameters: ['[N]'],
    ignoresRest: false,
    isArgumentOptional: true,
    summary: 'show the last N lines said (default 20), with their times',
    build: (count) => history(COMMANDS.history.usage, count),
  }),
  // §10.3
  token: defineCommand({
    type: 'token',
    name: 'token',
    parameters: [],
    ignoresRest: false,
    summary: 'get a token to come back with after a drop; lines then carry their @N',
    build: () => TOKEN,
  }),
  // §10.4: TOKEN is one word; POSITION the rest, checked to be one number.
  resume: defineCommand({
    type: 'resume',
    name: 'resume',
    parameters: ['TOKEN', 'POSITION'],
    ignoresRest: false,
    summary: 'come back after a drop and get the lines you missed',
    build: (token, position) => resume(COMMANDS.resume.usage, token, position),
  }),
};

/** The table as a list, in /help's order. */
export const COMMAND_LIST: readonly CommandDefinition[] = Object.values(COMMANDS);

/** One line of /help's `commands:` part (§5.6). */
export interface HelpRow {
  readonly usage: string;
  readonly description: string;
}

/** §3.4: `//TEXT` is no command but the escape for a chat line that starts with a slash. */
export const SLASH_ESCAPE_HELP: HelpRow = { usage: '//TEXT', description: 'send a line that starts with a slash' };

/** What /help lists under `commands:`, in order: the table, then the escape. */
export const HELP_ROWS: readonly HelpRow[] = [
  ...COMMAND_LIST.map(({ usage, description }) => ({ usage, description })),
  SLASH_ESCAPE_HELP,
];
