// Every error a client can be told, with its code and whether it closes the connection.
// The text after `error: ` is part of the protocol (PROTOCOL.md §6): change it here and there together.

import { MAX_NAME_CHARS } from './constants.ts';

export const ERROR_CODES = {
  LINE_TOO_LONG: 'CHAT_ERR_LINE_TOO_LONG',
  RENAME_SYNTAX: 'CHAT_ERR_RENAME_SYNTAX',
  NAME_EMPTY: 'CHAT_ERR_NAME_EMPTY',
  NAME_TOO_LONG: 'CHAT_ERR_NAME_TOO_LONG',
  NAME_INVALID: 'CHAT_ERR_NAME_INVALID',
  NAME_TAKEN: 'CHAT_ERR_NAME_TAKEN',
  UNKNOWN_COMMAND: 'CHAT_ERR_UNKNOWN_COMMAND',
  COMMAND_SYNTAX: 'CHAT_ERR_COMMAND_SYNTAX',
  RESERVED_TEXT: 'CHAT_ERR_RESERVED_TEXT',
  NO_SUCH_USER: 'CHAT_ERR_NO_SUCH_USER',
  RATE_LIMITED: 'CHAT_ERR_RATE_LIMITED',
  CLUSTER_UNAVAILABLE: 'CHAT_ERR_CLUSTER_UNAVAILABLE',
  RESUME_REFUSED: 'CHAT_ERR_RESUME_REFUSED',
  RESUME_AHEAD: 'CHAT_ERR_RESUME_AHEAD',
  RESUME_OFF: 'CHAT_ERR_RESUME_OFF',
  FLOODING: 'CHAT_ERR_FLOODING',
  TOO_MANY_FROM_ADDRESS: 'CHAT_ERR_TOO_MANY_FROM_ADDRESS',
  SERVER_FULL: 'CHAT_ERR_SERVER_FULL',
  IDLE_TIMEOUT: 'CHAT_ERR_IDLE_TIMEOUT',
  SHUTTING_DOWN: 'CHAT_ERR_SHUTTING_DOWN',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** An error to tell one client. `fatal` errors are the last line before the server closes it. */
export interface ProtocolError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly fatal: boolean;
}

function stays(code: ErrorCode, message: string): ProtocolError {
  return { code, message, fatal: false };
}

function closes(code: ErrorCode, message: string): ProtocolError {
  return { code, message, fatal: true };
}

// Errors that answer one line and keep the connection (§6.1).

export const lineTooLong = (maxLineBytes: number): ProtocolError =>
  stays(ERROR_CODES.LINE_TOO_LONG, `line too long (over ${maxLineBytes} bytes); it was discarded`);

export const renameSyntax = (): ProtocolError =>
  stays(ERROR_CODES.RENAME_SYNTAX, 'rename needs a new name after a bar: rename|NEW');

export const nameEmpty = (): ProtocolError =>
  stays(ERROR_CODES.NAME_EMPTY, 'the new name is empty; try rename|NEW');

export const nameTooLong = (): ProtocolError =>
  stays(ERROR_CODES.NAME_TOO_LONG, `a name has at most ${MAX_NAME_CHARS} characters`);

export const nameInvalid = (): ProtocolError =>
  stays(
    ERROR_CODES.NAME_INVALID,
    'a name may not contain white space, invisible, control or unassigned characters, [ ] : | or a look-alike of them, nor start with a combining mark',
  );

export const nameTaken = (name: string): ProtocolError =>
  stays(ERROR_CODES.NAME_TAKEN, `the name ${name} is taken; pick another`);

export const unknownCommand = (command: string): ProtocolError =>
  stays(ERROR_CODES.UNKNOWN_COMMAND, `unknown command /${command}; try /help (//text sends /text)`);

export const commandSyntax = (usage: string): ProtocolError =>
  stays(ERROR_CODES.COMMAND_SYNTAX, `usage: ${usage}`);

export const reservedText = (): ProtocolError =>
  stays(
    ERROR_CODES.RESERVED_TEXT,
    'that line reads like a server event (login, I am here, login out, time out leave out, renamed to …) and was not sent; reword it',
  );

export const noSuchUser = (name: string): ProtocolError =>
  stays(ERROR_CODES.NO_SUCH_USER, `nobody named ${name} is online; try who`);

export const rateLimited = (linesPerSecond: number, burst: number): ProtocolError =>
  stays(ERROR_CODES.RATE_LIMITED, `slow down: at most ${linesPerSecond} lines a second (${burst} at once); your lines are delayed`);

export const clusterUnavailable = (): ProtocolError =>
  stays(ERROR_CODES.CLUSTER_UNAVAILABLE, 'this server has lost its link to the other chat servers; try again in a moment');

export const resumeRefused = (windowSeconds: number): ProtocolError =>
  stays(
    ERROR_CODES.RESUME_REFUSED,
    `cannot resume: that token is unknown, used, or older than the resume window (${windowSeconds} s); lines said since you left may be missed: /history shows the last ones`,
  );

export const resumeAhead = (position: number, latest: number): ProtocolError =>
  stays(ERROR_CODES.RESUME_AHEAD, `cannot resume at @${position}: the chat is only at @${latest}; send the position of the last line you received`);

export const resumeOff = (): ProtocolError => stays(ERROR_CODES.RESUME_OFF, 'this server does not hold sessions (--resume-window 0)');

// Errors that are the last line before the server closes the connection (§6.2).

export const flooding = (linesPerSecond: number, backlogLines: number): ProtocolError =>
  closes(ERROR_CODES.FLOODING, `flooding: you kept sending faster than ${linesPerSecond} lines a second until ${backlogLines} lines waited; disconnected`);

export const tooManyFromAddress = (maxPerIp: number): ProtocolError =>
  closes(ERROR_CODES.TOO_MANY_FROM_ADDRESS, `too many connections from your address (${maxPerIp}); close one and try again`);

export const serverFull = (maxClients: number): ProtocolError =>
  closes(ERROR_CODES.SERVER_FULL, `server full (${maxClients} clients); try again later`);

export const idleTimeout = (idleSeconds: number): ProtocolError =>
  closes(ERROR_CODES.IDLE_TIMEOUT, `no line from you for ${idleSeconds} s; disconnected (send any line to stay)`);

export const shuttingDown = (): ProtocolError =>
  closes(ERROR_CODES.SHUTTING_DOWN, 'server shutting down; goodbye');
