// @ts-check
// One server line -> what it is (PROTOCOL.md §5, §10), for the web client. Pure and DOM-free, so
// it runs in the browser and under Node's tests alike. It keeps no state: each line of the replies
// that span lines (`who` §5.3, `/help` §5.6, `/history` §10.2, a resume §10.4) is recognised on
// its own, and session.js groups them.

/** §2.4: `ip:port` for IPv4, `[ip]:port` for IPv6 (a zone id included: `[fe80::1%eth0]:40512`). */
const ADDR = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}:\d{1,5}|\[[0-9A-Fa-f:.]+(?:%[^\]\s]+)?\]:\d{1,5})`;
/** §5.1 event-line and private-line: `[ADDR]` then the rest. */
const EVENT_ADDR = new RegExp(`^\\[(${ADDR})\\]`);
/** §5.3: `ADDR:NAME`, one line per client in a `who` reply. */
const WHO_ROW = new RegExp(`^(${ADDR}):(.+)$`);
/** §5.1 help-reply: two spaces, the usage, at least two spaces, the description. */
const HELP_COMMAND_ROW = /^ {2}(\S.*?) {2,}(\S.*)$/;
const PRIVATE_MARK = ' (private)';
const WHITE_SPACE = /\s/u;

/** §5.2: the seed's event texts, case-sensitive (`%s` in the grammar). */
const EVENT_TEXTS = /** @type {const} */ ({
  login: 'login',
  greeting: 'I am here',
  logout: 'login out',
  timedOut: 'time out leave out',
});
const RENAMED_PREFIX = 'renamed to ';
const ANNOUNCEMENT_PREFIX = '*** ';
const ERROR_PREFIX = 'error: ';

/** §10.1: `@N`, a decimal position; `@0` is the one before any entry. */
const POSITION = String.raw`@(\d+)`;
/** §10.1: the time an entry was said, RFC 3339 in UTC (the server writes milliseconds; fewer digits are read too). */
const TIME = String.raw`(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)`;
/** §10.3: 128 random bits in base64url, without padding. */
const TOKEN = '([A-Za-z0-9_-]{22})';
/** §10.2 history-reply's first line; `1 entry`, otherwise `N entries`. */
const HISTORY_HEADER = /^history: (\d+) (?:entry|entries)$/;
/** §10.2 history-line: `history @N TIME LIVE-LINE`. */
const HISTORY_LINE = new RegExp(`^history ${POSITION} ${TIME} (.*)$`);
/** §10.3 positioned: `@N LIVE-LINE`, a live history entry once the client has a token. */
const POSITIONED = new RegExp(`^${POSITION} (.*)$`);
/** §10.3 token-reply. */
const TOKEN_REPLY = new RegExp(`^token ${TOKEN} ${POSITION}$`);
/** §10.4 resume-reply's first line, with the entries that are no longer kept if there are any. */
const RESUME_HEADER = /^resume: (\d+) (?:entry|entries) you missed(?:, and (\d+) before them that are no longer kept)?$/;
/** §10.4 resumed: the new token and the position the client is now at. */
const RESUMED = new RegExp(`^resumed ${TOKEN} ${POSITION}$`);

/** §5.8 and §5.9: the server's own notices in the announcement syntax. */
export const LINK_DOWN_TEXT =
  'the link to the other chat servers is down; until it is back, your lines reach only the people on this server';
export const LINK_BACK_TEXT = 'the link to the other chat servers is back';
const IDLE_WARNING = /^you will be timed out in (\d+) s; send any line to stay$/;

/**
 * @typedef {'CHAT_ERR_LINE_TOO_LONG' | 'CHAT_ERR_RENAME_SYNTAX' | 'CHAT_ERR_NAME_EMPTY' | 'CHAT_ERR_NAME_TOO_LONG'
 *   | 'CHAT_ERR_NAME_INVALID' | 'CHAT_ERR_NAME_TAKEN' | 'CHAT_ERR_UNKNOWN_COMMAND' | 'CHAT_ERR_COMMAND_SYNTAX'
 *   | 'CHAT_ERR_RESERVED_TEXT' | 'CHAT_ERR_NO_SUCH_USER' | 'CHAT_ERR_CLUSTER_UNAVAILABLE' | 'CHAT_ERR_RATE_LIMITED'
 *   | 'CHAT_ERR_RESUME_REFUSED' | 'CHAT_ERR_RESUME_AHEAD' | 'CHAT_ERR_RESUME_OFF'
 *   | 'CHAT_ERR_FLOODING' | 'CHAT_ERR_TOO_MANY_FROM_ADDRESS' | 'CHAT_ERR_SERVER_FULL' | 'CHAT_ERR_IDLE_TIMEOUT'
 *   | 'CHAT_ERR_SHUTTING_DOWN'} ErrorCode
 */

/**
 * @typedef {object} ErrorForm
 * @property {ErrorCode} code
 * @property {RegExp} pattern its first group, if any, is the argument (a name, a usage, a limit)
 * @property {boolean} fatal §6.2: the server closes the connection after it
 */

/**
 * §6: every error message, as the server words it. The codes are not sent (§6), so the page
 * tells them apart by their text: the one way to know that a close is an idle timeout (§5.2),
 * after which it must not reconnect by itself.
 * @type {readonly ErrorForm[]}
 */
const ERROR_FORMS = [
  { code: 'CHAT_ERR_LINE_TOO_LONG', pattern: /^line too long \(over (\d+) bytes\); it was discarded$/, fatal: false },
  { code: 'CHAT_ERR_RENAME_SYNTAX', pattern: /^rename needs a new name after a bar: rename\|NEW$/, fatal: false },
  { code: 'CHAT_ERR_NAME_EMPTY', pattern: /^the new name is empty; try rename\|NEW$/, fatal: false },
  { code: 'CHAT_ERR_NAME_TOO_LONG', pattern: /^a name has at most (\d+) characters$/, fatal: false },
  { code: 'CHAT_ERR_NAME_INVALID', pattern: /^a name may not contain /, fatal: false },
  { code: 'CHAT_ERR_NAME_TAKEN', pattern: /^the name (\S+) is taken; pick another$/, fatal: false },
  { code: 'CHAT_ERR_UNKNOWN_COMMAND', pattern: /^unknown command \/(\S*); try \/help/, fatal: false },
  { code: 'CHAT_ERR_COMMAND_SYNTAX', pattern: /^usage: (\/.+)$/, fatal: false },
  { code: 'CHAT_ERR_RESERVED_TEXT', pattern: /^that line reads like a server event /, fatal: false },
  { code: 'CHAT_ERR_NO_SUCH_USER', pattern: /^nobody named (\S+) is online; try who$/, fatal: false },
  { code: 'CHAT_ERR_CLUSTER_UNAVAILABLE', pattern: /^this server has lost its link to the other chat servers/, fatal: false },
  { code: 'CHAT_ERR_RATE_LIMITED', pattern: /^slow down: at most (\d+) lines a second/, fatal: false },
  // §10.4. The argument of RESUME_AHEAD is M, where the chat is: the position to resume from.
  { code: 'CHAT_ERR_RESUME_REFUSED', pattern: /^cannot resume: that token is unknown, used, or older than the resume window \((\d+) s\)/, fatal: false },
  { code: 'CHAT_ERR_RESUME_AHEAD', pattern: /^cannot resume at @\d+: the chat is only at @(\d+); /, fatal: false },
  { code: 'CHAT_ERR_RESUME_OFF', pattern: /^this server does not hold sessions \(--resume-window 0\)$/, fatal: false },
  { code: 'CHAT_ERR_FLOODING', pattern: /^flooding: you kept sending faster than (\d+) lines a second/, fatal: true },
  { code: 'CHAT_ERR_TOO_MANY_FROM_ADDRESS', pattern: /^too many connections from your address \((\d+)\)/, fatal: true },
  { code: 'CHAT_ERR_SERVER_FULL', pattern: /^server full \((\d+) clients\); try again later$/, fatal: true },
  { code: 'CHAT_ERR_IDLE_TIMEOUT', pattern: /^no line from you for (\d+) s; disconnected/, fatal: true },
  { code: 'CHAT_ERR_SHUTTING_DOWN', pattern: /^server shutting down; goodbye$/, fatal: true },
];

/** Every code the page tells apart, for the tests that hold them against PROTOCOL.md's tables. */
export const ERROR_CODES = ERROR_FORMS.map((form) => form.code);

/**
 * @typedef {{ readonly kind: 'login', readonly addr: string, readonly name: string }} LoginLine
 * @typedef {{ readonly kind: 'greeting', readonly addr: string, readonly name: string }} GreetingLine
 * @typedef {{ readonly kind: 'chat', readonly addr: string, readonly name: string, readonly text: string }} ChatLine
 * @typedef {{ readonly kind: 'logout', readonly addr: string, readonly name: string }} LogoutLine
 * @typedef {{ readonly kind: 'timed-out', readonly addr: string, readonly name: string }} TimedOutLine
 * @typedef {{ readonly kind: 'renamed', readonly addr: string, readonly name: string, readonly newName: string }} RenamedLine
 * @typedef {{ readonly kind: 'private', readonly addr: string, readonly name: string, readonly text: string }} PrivateLine
 * @typedef {{ readonly kind: 'who-start' }} WhoStartLine
 * @typedef {{ readonly kind: 'who-row', readonly addr: string, readonly name: string }} WhoRowLine
 * @typedef {{ readonly kind: 'rename-ok', readonly position?: number }} RenameOkLine
 *   `position`: §10.3, the client's own rename's place, once it has a token (`@N rename ok`)
 * @typedef {{ readonly kind: 'msg-ok' }} MsgOkLine
 * @typedef {{ readonly kind: 'help-start' }} HelpStartLine
 * @typedef {{ readonly kind: 'help-limits' }} HelpLimitsLine
 * @typedef {{ readonly kind: 'help-row', readonly usage: string | null, readonly text: string }} HelpRowLine
 * @typedef {'idle-warning' | 'link-down' | 'link-back' | 'other'} AnnouncementTopic
 * @typedef {{ readonly kind: 'announcement', readonly text: string, readonly topic: AnnouncementTopic }} AnnouncementLine
 * @typedef {{ readonly kind: 'error', readonly message: string, readonly code: ErrorCode | null,
 *   readonly argument: string | null, readonly fatal: boolean }} ErrorLine
 * @typedef {{ readonly kind: 'unknown', readonly text: string }} UnknownLine
 *
 * @typedef {ChatLine | RenamedLine | AnnouncementLine} EntryLine §10: what history keeps, as it was broadcast
 * @typedef {{ readonly kind: 'history-start', readonly count: number }} HistoryStartLine
 * @typedef {{ readonly kind: 'history', readonly position: number, readonly time: Date, readonly entry: EntryLine }} HistoryLine
 * @typedef {{ readonly kind: 'positioned', readonly position: number, readonly entry: EntryLine }} PositionedLine
 * @typedef {{ readonly kind: 'token', readonly token: string, readonly position: number }} TokenLine
 * @typedef {{ readonly kind: 'resume-start', readonly count: number, readonly missing: number }} ResumeStartLine
 *   `missing`: the entries before them that history no longer holds
 * @typedef {{ readonly kind: 'resumed', readonly token: string, readonly position: number }} ResumedLine
 *
 * @typedef {LoginLine | GreetingLine | ChatLine | LogoutLine | TimedOutLine | RenamedLine | PrivateLine
 *   | WhoStartLine | WhoRowLine | RenameOkLine | MsgOkLine | HelpStartLine | HelpLimitsLine | HelpRowLine
 *   | AnnouncementLine | ErrorLine | HistoryStartLine | HistoryLine | PositionedLine | TokenLine
 *   | ResumeStartLine | ResumedLine | UnknownLine} ServerLine
 */

/**
 * What one server line (without its CRLF) is. Never throws: a line it does not know is `unknown`.
 *
 * `nameOf` answers the name the page believes a client at ADDR has. It settles the one case
 * the bytes leave open (PROTOCOL.md §5.1): a chosen name may be an address's prefix, so
 * `[10.0.0.1:5000]10.0.0.1:5000:hi` is either 10.0.0.1:5000 saying `hi` or 10.0.0.1 saying
 * `5000:hi`. Without an answer, the address-name is taken, as a newcomer's name is its ADDR.
 *
 * @param {string} line
 * @param {(addr: string) => string | undefined} [nameOf]
 * @returns {ServerLine}
 */
export function parseServerLine(line, nameOf) {
  // §5.1: every line a client causes starts with `[`; only an IPv6 who row does as well.
  if (line.startsWith('[')) {
    const event = parseClientEvent(line, nameOf);
    if (event !== null) return event;
  }
  if (line.startsWith(ANNOUNCEMENT_PREFIX)) return parseAnnouncement(line.slice(ANNOUNCEMENT_PREFIX.length));
  if (line.startsWith(ERROR_PREFIX)) return parseError(line.slice(ERROR_PREFIX.length));
  // §10: no live line starts with `@`, `history`, `token`, `resume` or `resumed`.
  const positioned = parsePositioned(line, nameOf);
  if (positioned !== null) return positioned;
  switch (line) {
    case 'user list:':
      return { kind: 'who-start' };
    case 'rename ok':
      return { kind: 'rename-ok' };
    case 'msg ok':
      return { kind: 'msg-ok' };
    case 'commands:':
      return { kind: 'help-start' };
    case 'limits:':
      return { kind: 'help-limits' };
  }
  const row = WHO_ROW.exec(line);
  if (row !== null) return { kind: 'who-row', addr: row[1] ?? '', name: row[2] ?? '' };
  if (line.startsWith('  ')) {
    const command = HELP_COMMAND_ROW.exec(line);
    return command === null
      ? { kind: 'help-row', usage: null, text: line.trim() }
      : { kind: 'help-row', usage: command[1] ?? '', text: command[2] ?? '' };
  }
  return { kind: 'unknown', text: line };
}

/**
 * §10.2–§10.4: the lines that carry a position. Each is all or nothing: a history line whose
 * live line is not an entry's (§10: chat, a rename, an announcement) is not a history line.
 * @param {string} line
 * @param {((addr: string) => string | undefined) | undefined} nameOf
 * @returns {ServerLine | null}
 */
function parsePositioned(line, nameOf) {
  let match = POSITIONED.exec(line);
  if (match !== null) {
    const position = readPosition(match[1]);
    // §10.3: the confirmation of the client's own rename stands for that entry.
    if (match[2] === 'rename ok') return position === null ? null : { kind: 'rename-ok', position };
    const entry = parseEntry(match[2] ?? '', nameOf);
    return position === null || entry === null ? null : { kind: 'positioned', position, entry };
  }
  match = HISTORY_HEADER.exec(line);
  if (match !== null) {
    const count = readPosition(match[1]);
    return count === null ? null : { kind: 'history-start', count };
  }
  match = HISTORY_LINE.exec(line);
  if (match !== null) {
    const position = readPosition(match[1]);
    const time = new Date(match[2] ?? '');
    const entry = parseEntry(match[3] ?? '', nameOf);
    if (position === null || Number.isNaN(time.getTime()) || entry === null) return null;
    return { kind: 'history', position, time, entry };
  }
  match = TOKEN_REPLY.exec(line) ?? RESUMED.exec(line);
  if (match !== null) {
    const position = readPosition(match[2]);
    if (position === null) return null;
    return { kind: line.startsWith('token ') ? 'token' : 'resumed', token: match[1] ?? '', position };
  }
  match = RESUME_HEADER.exec(line);
  if (match !== null) {
    const count = readPosition(match[1]);
    const missing = match[2] === undefined ? 0 : readPosition(match[2]);
    return count === null || missing === null ? null : { kind: 'resume-start', count, missing };
  }
  return null;
}

/**
 * A position or a count: decimal digits that make a safe integer.
 * @param {string | undefined} digits
 * @returns {number | null}
 */
function readPosition(digits) {
  const value = Number(digits);
  return digits !== undefined && Number.isSafeInteger(value) ? value : null;
}

/**
 * §10.2 live-line: the entry exactly as it was broadcast.
 * @param {string} live
 * @param {((addr: string) => string | undefined) | undefined} nameOf
 * @returns {EntryLine | null}
 */
function parseEntry(live, nameOf) {
  const line = live.startsWith(ANNOUNCEMENT_PREFIX)
    ? parseAnnouncement(live.slice(ANNOUNCEMENT_PREFIX.length))
    : live.startsWith('[')
      ? parseClientEvent(live, nameOf)
      : null;
  return line !== null && (line.kind === 'chat' || line.kind === 'renamed' || line.kind === 'announcement') ? line : null;
}

/**
 * §5.1, §5.2, §5.5: `[ADDR]NAME:TEXT` or `[ADDR]NAME (private):TEXT`. A chosen name holds no
 * `:`, no white space and no bracket (§4, rule 4), so it ends at the first `:`; an address-name
 * holds colons, but it is always the line's own ADDR (§4, rules 1 and 8).
 * @param {string} line
 * @param {((addr: string) => string | undefined) | undefined} nameOf
 * @returns {ServerLine | null}
 */
function parseClientEvent(line, nameOf) {
  const match = EVENT_ADDR.exec(line);
  if (match === null) return null;
  const addr = match[1] ?? '';
  const rest = line.slice(match[0].length);
  const known = nameOf?.(addr);
  for (const name of known === undefined || known === addr ? [addr] : [known, addr]) {
    if (rest.startsWith(`${name}${PRIVATE_MARK}:`)) {
      return { kind: 'private', addr, name, text: rest.slice(name.length + PRIVATE_MARK.length + 1) };
    }
    if (rest.startsWith(`${name}:`)) return classifyEvent(addr, name, rest.slice(name.length + 1));
  }
  const colon = rest.indexOf(':');
  if (colon <= 0) return null;
  const head = rest.slice(0, colon);
  const text = rest.slice(colon + 1);
  if (head.endsWith(PRIVATE_MARK)) {
    const name = head.slice(0, -PRIVATE_MARK.length);
    if (isChosenName(name)) return { kind: 'private', addr, name, text };
  }
  return isChosenName(head) ? classifyEvent(addr, head, text) : null;
}

/** @param {string} name */
function isChosenName(name) {
  return name.length > 0 && !WHITE_SPACE.test(name) && !/[[\]]/.test(name);
}

/**
 * §5.2: the TEXT slot is an event's words or chat; the server refuses chat that reads as an
 * event (§3.5), so an exact match is the event.
 * @param {string} addr
 * @param {string} name
 * @param {string} text
 * @returns {ServerLine}
 */
function classifyEvent(addr, name, text) {
  switch (text) {
    case EVENT_TEXTS.login:
      return { kind: 'login', addr, name };
    case EVENT_TEXTS.greeting:
      return { kind: 'greeting', addr, name };
    case EVENT_TEXTS.logout:
      return { kind: 'logout', addr, name };
    case EVENT_TEXTS.timedOut:
      return { kind: 'timed-out', addr, name };
  }
  if (text.startsWith(RENAMED_PREFIX) && text.length > RENAMED_PREFIX.length) {
    return { kind: 'renamed', addr, name, newName: text.slice(RENAMED_PREFIX.length) };
  }
  return { kind: 'chat', addr, name, text };
}

/**
 * §5.7–§5.9: an operator's announcement, a link notice, the message of the day or the idle
 * warning; the last three are the server's own words.
 * @param {string} text
 * @returns {AnnouncementLine}
 */
function parseAnnouncement(text) {
  /** @type {AnnouncementTopic} */
  let topic = 'other';
  if (IDLE_WARNING.test(text)) topic = 'idle-warning';
  else if (text === LINK_DOWN_TEXT) topic = 'link-down';
  else if (text === LINK_BACK_TEXT) topic = 'link-back';
  return { kind: 'announcement', text, topic };
}

/**
 * §6: `error: MESSAGE`, with the code whose wording it has, or none for a message this page
 * does not know (a newer server's).
 * @param {string} message
 * @returns {ErrorLine}
 */
function parseError(message) {
  for (const { code, pattern, fatal } of ERROR_FORMS) {
    const match = pattern.exec(message);
    if (match !== null) return { kind: 'error', message, code, argument: match[1] ?? null, fatal };
  }
  return { kind: 'error', message, code: null, argument: null, fatal: false };
}

/**
 * The lines of one WebSocket message: each carries one or more CRLF-terminated lines. A last
 * line without its CRLF (a slow consumer's cut, §6.2) is kept until the next message completes
 * it, so that half a line is never shown as a whole one.
 */
export class LineSplitter {
  #pending = '';

  /**
   * @param {string} text
   * @returns {string[]}
   */
  push(text) {
    const lines = (this.#pending + text).split('\r\n');
    this.#pending = lines.pop() ?? '';
    return lines;
  }

  /** A new connection: what the last one left unfinished is dropped. */
  reset() {
    this.#pending = '';
  }
}
