// Server message -> the exact text of its line(s), CRLF included (PROTOCOL.md §5). The only
// place that knows the byte-exact seed formats. Pure; the primary calls it once per message and
// the bytes it returns are written, unchanged, to every socket that receives the message.

import { SERVER_EOL } from './constants.ts';
import { HELP_ROWS } from './commands.ts';
import type { ProtocolError } from './errors.ts';

/** One online client as `who` lists it. */
export interface WhoEntry {
  readonly addr: string;
  readonly name: string;
}

/** `[ADDR]NAME:TEXT`: a chat line, and the frame of every seed event line (§5.1). */
export function encodeChat(addr: string, name: string, text: string): string {
  return `[${addr}]${name}:${text}${SERVER_EOL}`;
}

/**
 * The seed's event texts (§5.2). They share the TEXT slot of `[ADDR]NAME:TEXT` with chat, so the
 * parser refuses a chat line that reads as one of them (§3.5): the slot stays the server's.
 */
export const EVENT_TEXTS = {
  login: 'login',
  greeting: 'I am here',
  logout: 'login out',
  timedOut: 'time out leave out',
} as const;
/** A rename's event text is this, then the new name. */
export const RENAMED_PREFIX = 'renamed to ';

export const encodeLogin = (addr: string, name: string): string => encodeChat(addr, name, EVENT_TEXTS.login);
export const encodeGreeting = (addr: string, name: string): string => encodeChat(addr, name, EVENT_TEXTS.greeting);
export const encodeLogout = (addr: string, name: string): string => encodeChat(addr, name, EVENT_TEXTS.logout);
export const encodeTimedOut = (addr: string, name: string): string => encodeChat(addr, name, EVENT_TEXTS.timedOut);
export const encodeRenamed = (addr: string, oldName: string, newName: string): string =>
  encodeChat(addr, oldName, `${RENAMED_PREFIX}${newName}`);

/** `user list:` then `ADDR:NAME` per client, in the order given (§5.3). */
export function encodeWho(entries: Iterable<WhoEntry>): string {
  let out = `user list:${SERVER_EOL}`;
  for (const { addr, name } of entries) out += `${addr}:${name}${SERVER_EOL}`;
  return out;
}

export const encodeRenameOk = (): string => `rename ok${SERVER_EOL}`;

/**
 * A private message as its recipient sees it: `[ADDR]NAME (private):TEXT` (§5.5). A name holds
 * no space, so no chat line can look like this one.
 */
export const encodePrivate = (addr: string, name: string, text: string): string =>
  `[${addr}]${name} (private):${text}${SERVER_EOL}`;

export const encodeMsgOk = (): string => `msg ok${SERVER_EOL}`;

/**
 * The prefix of an operator's announcement (§5.7). No client can forge it: client text only ever
 * follows `[ADDR]NAME:` (§5.1), so a line a client caused starts with `[`, and this one never does.
 */
export const ANNOUNCEMENT_PREFIX = '*** ';

/** `*** TEXT`: the line everyone online receives when the operator announces TEXT. */
export const encodeAnnouncement = (text: string): string => `${ANNOUNCEMENT_PREFIX}${text}${SERVER_EOL}`;

export function encodeError(error: ProtocolError): string {
  return `error: ${error.message}${SERVER_EOL}`;
}

/** The limits a client meets, as /help states them. */
export interface HelpLimits {
  readonly idleTimeoutSeconds: number;
  /** Seconds before the timeout that a quiet client is warned; 0: never. */
  readonly idleWarningSeconds: number;
  /** Lines a second; 0: no limit. */
  readonly rateLimit: number;
  readonly rateBurst: number;
}

/**
 * The /help reply (§5.6): `commands:` then one indented line per command, then `limits:` and
 * the idle timeout and rate limit that would otherwise surprise a newcomer (#10 §7).
 */
export function encodeHelp(limits: HelpLimits): string {
  // The rows are the command table's (protocol/commands.ts), so /help cannot miss a command.
  const width = Math.max(...HELP_ROWS.map(({ usage }) => usage.length));
  let out = `commands:${SERVER_EOL}`;
  for (const { usage, description } of HELP_ROWS) out += `  ${usage.padEnd(width)}  ${description}${SERVER_EOL}`;
  out += `limits:${SERVER_EOL}`;
  const warning = limits.idleWarningSeconds > 0 ? ` (you are warned ${limits.idleWarningSeconds} s before)` : '';
  out += `  send a line at least every ${limits.idleTimeoutSeconds} s or you are timed out${warning}${SERVER_EOL}`;
  out +=
    limits.rateLimit === 0
      ? `  no limit on lines a second${SERVER_EOL}`
      : `  at most ${limits.rateLimit} lines a second (${limits.rateBurst} at once); faster lines are delayed, not lost${SERVER_EOL}`;
  return out;
}

/** The warning a quiet client gets before its idle timeout (§5.9). */
export const encodeIdleWarning = (seconds: number): string =>
  encodeAnnouncement(`you will be timed out in ${seconds} s; send any line to stay`);

/** The message of the day (§5.9): one `*** ` line per line of text, sent after the greeting. */
export function encodeMotd(lines: readonly string[]): string {
  let out = '';
  for (const line of lines) out += encodeAnnouncement(line);
  return out;
}

/** What a newcomer is told when the operator did not write a message of the day (--motd). */
export const DEFAULT_MOTD: readonly string[] = ['welcome to chatd: every line you send goes to everyone online; /help lists the commands'];

// ── History and resume (§10) ────────────────────────────────────────────────────────────────

/** The kinds of event the history keeps: what everyone hears said, not who comes and goes. */
export type HistoryKind = 'chat' | 'rename' | 'announce';

/** One entry of the history (§10.1), as the room keeps it and a store writes it. */
export interface HistoryEntry {
  /** Its place in the global order, `@N`: 1 for the first entry ever kept. */
  readonly position: number;
  /** When it was said: milliseconds since the epoch, UTC. */
  readonly time: number;
  readonly kind: HistoryKind;
  /** The speaker's address and name as they were then ('' for an announcement; a rename's old name). */
  readonly addr: string;
  readonly name: string;
  /** The chat line, the new name of a rename, or the announcement's text. */
  readonly text: string;
}

/** The entry as it was broadcast (§10.2 `live-line`), CRLF included. */
export function encodeLive(entry: HistoryEntry): string {
  switch (entry.kind) {
    case 'chat':
      return encodeChat(entry.addr, entry.name, entry.text);
    case 'rename':
      return encodeRenamed(entry.addr, entry.name, entry.text);
    case 'announce':
      return encodeAnnouncement(entry.text);
  }
}

/** §10.3: a live line with its position, for a client that asked for a token. */
export const encodePositioned = (position: number, live: string): string => `@${position} ${live}`;

/** `history @N TIME LIVE-LINE` (§10.2). */
export const encodeHistoryLine = (entry: HistoryEntry): string => `history @${entry.position} ${formatTime(entry.time)} ${encodeLive(entry)}`;

/** The second whose RFC 3339 text was made last, and that text up to its `.`. */
let formattedSecond = Number.NaN;
let secondPrefix = '';

/**
 * §10.1: `2026-12-02T01:20:00.123Z`, as `toISOString` writes it. fast path: a reply of 1000
 * entries spent 1.2 of its 1.3 ms in `toISOString` (BENCHMARKS §8); entries said in one second
 * share the text up to the milliseconds, made once.
 */
export function formatTime(time: number): string {
  const second = Math.floor(time / 1000);
  if (second !== formattedSecond) {
    formattedSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, -4);
  }
  const millis = time - second * 1000;
  return `${secondPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

const entries = (count: number): string => (count === 1 ? '1 entry' : `${count} entries`);

/** The `/history` reply (§10.2): the header, then each entry, oldest first. */
export function encodeHistory(list: readonly HistoryEntry[]): string {
  let out = `history: ${entries(list.length)}${SERVER_EOL}`;
  for (const entry of list) out += encodeHistoryLine(entry);
  return out;
}

/** The first part of a resume (§10.4): what the client missed, and how many are no longer kept. */
export function encodeResumeReply(list: readonly HistoryEntry[], lost: number): string {
  const gap = lost > 0 ? `, and ${lost} before them that are no longer kept` : '';
  let out = `resume: ${entries(list.length)} you missed${gap}${SERVER_EOL}`;
  for (const entry of list) out += encodeHistoryLine(entry);
  return out;
}

/** §10.3 `token TOKEN @N`. */
export const encodeToken = (token: string, position: number): string => `token ${token} @${position}${SERVER_EOL}`;

/** §10.4 `resumed TOKEN @N`: the new token, and where the client is now. */
export const encodeResumed = (token: string, position: number): string => `resumed ${token} @${position}${SERVER_EOL}`;
