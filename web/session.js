// @ts-check
// The chat as one page sees it, between the socket and the screen: who is online, which of the
// user's commands still await their reply, the page's own address and chosen name, its resume
// token and position (PROTOCOL.md §10), and what each server line adds to the log. Pure and
// DOM-free (tested under Node): lines in, effects out, and app.js carries the effects out. One
// ChatSession lasts as long as the page; opened() and closed() bracket each connection.

import { expandAlias, MAX_LINE_BYTES, readClientLine, utf8Length } from './commands.js';
import { parseServerLine } from './lines.js';

/**
 * @typedef {import('./lines.js').ServerLine} ServerLine
 * @typedef {import('./lines.js').ErrorLine} ErrorLine
 * @typedef {import('./lines.js').ErrorCode} ErrorCode
 * @typedef {import('./lines.js').AnnouncementTopic} AnnouncementTopic
 * @typedef {import('./lines.js').EntryLine} EntryLine
 * @typedef {import('./lines.js').HistoryLine} HistoryLine
 * @typedef {import('./connection.js').ResumePoint} ResumePoint
 */

/**
 * @typedef {{ readonly addr: string, readonly name: string }} Member
 * @typedef {{ readonly usage: string | null, readonly text: string }} HelpRow
 *
 * `time` is when the entry came, except for an entry of the chat's history, which has the time
 * its line gives (§10.1). `position` is its `@N` when the server sent one; `history` marks one
 * from a `/history` reply (said before the page joined, §10.2), `caughtUp` one said while the
 * page was away and sent when it resumed (§10.4).
 * @typedef {{ readonly id: number, readonly time: Date, readonly position?: number, readonly history?: true,
 *   readonly caughtUp?: true }} EntryBase
 * @typedef {EntryBase & { readonly kind: 'chat', readonly addr: string, readonly name: string, readonly text: string,
 *   readonly isSelf: boolean }} ChatEntry
 * @typedef {EntryBase & { readonly kind: 'login', readonly addr: string, readonly name: string, readonly isSelf: boolean }} LoginEntry
 * @typedef {EntryBase & { readonly kind: 'logout', readonly addr: string, readonly name: string }} LogoutEntry
 * @typedef {EntryBase & { readonly kind: 'timeout', readonly addr: string, readonly name: string }} TimeoutEntry
 * @typedef {EntryBase & { readonly kind: 'rename', readonly addr: string, readonly oldName: string, readonly newName: string,
 *   readonly isSelf: boolean }} RenameEntry
 * @typedef {EntryBase & { readonly kind: 'private', readonly direction: 'in' | 'out', readonly addr: string | null,
 *   readonly name: string, readonly text: string }} PrivateEntry
 * @typedef {EntryBase & { readonly kind: 'who', readonly members: Member[] }} WhoEntry
 * @typedef {EntryBase & { readonly kind: 'help', readonly commands: HelpRow[], readonly limits: HelpRow[] }} HelpEntry
 * @typedef {EntryBase & { readonly kind: 'notice', readonly text: string, readonly topic: NoticeTopic }} NoticeEntry
 * @typedef {EntryBase & { readonly kind: 'error', readonly text: string, readonly code: ErrorCode | null }} ErrorEntry
 * @typedef {EntryBase & { readonly kind: 'info', readonly text: string }} InfoEntry
 * @typedef {EntryBase & { readonly kind: 'raw', readonly text: string }} RawEntry
 * @typedef {ChatEntry | LoginEntry | LogoutEntry | TimeoutEntry | RenameEntry | PrivateEntry | WhoEntry | HelpEntry
 *   | NoticeEntry | ErrorEntry | InfoEntry | RawEntry} LogEntry
 * @typedef {LogEntry['kind']} EntryKind
 */

/**
 * What a notice is about: the server's announcements (lines.js), and the page's own word on a
 * resume (§10.4): refused, so lines may be missing; some missed entries no longer kept; the
 * server behind the page's position.
 * @typedef {AnnouncementTopic | 'resume-refused' | 'entries-lost' | 'resume-ahead'} NoticeTopic
 */

/**
 * An entry's own fields, before session.js stamps it with an id and the time it came.
 * @template {LogEntry} Entry
 * @typedef {Entry extends unknown ? Omit<Entry, 'id' | 'time'> : never} Unstamped
 */
/** @typedef {Unstamped<LogEntry>} EntryFields */

/**
 * Why a connection is ending, when a line said so before the close (§6.2) or the user sent
 * `/quit` (§3.4).
 * @typedef {'quit' | 'idle-timeout' | 'flooding' | 'too-many' | 'server-full' | 'shutdown'} EndReason
 */

/**
 * What app.js is to do, in order.
 * @typedef {{ readonly type: 'add', readonly entry: LogEntry }} AddEffect a new log entry
 * @typedef {{ readonly type: 'prepend', readonly entries: readonly LogEntry[] }} PrependEffect entries said before the
 *   page joined (§10.2), oldest first, to go above everything shown
 * @typedef {{ readonly type: 'update', readonly entry: LogEntry }} UpdateEffect an entry shown before has grown (a who or help reply)
 * @typedef {{ readonly type: 'send', readonly line: string }} SendEffect
 * @typedef {{ readonly type: 'roster' }} RosterEffect the who list changed
 * @typedef {{ readonly type: 'logged-in' }} LoggedInEffect the greeting came: this connection works
 * @typedef {{ readonly type: 'ending', readonly reason: EndReason, readonly reconnect: boolean,
 *   readonly message: string }} EndingEffect the connection is about to close, and whether to open another by itself
 * @typedef {AddEffect | PrependEffect | UpdateEffect | SendEffect | RosterEffect | LoggedInEffect | EndingEffect} Effect
 */

/**
 * A line of the user's, or of the page's own, that the server answers with one reply
 * (commands.js), waiting for it. `shown: false` is a question of the page's own, whose reply is
 * not logged as such: the `who` that seeds the list, the `/token` and `/history` of §10.
 * `restoring`: the rename the page sends by itself after a reconnect.
 * @typedef {{ readonly type: 'who', readonly shown: boolean }
 *   | { readonly type: 'rename', readonly name: string | null, readonly restoring: boolean }
 *   | { readonly type: 'msg', readonly to: string | null, readonly text: string | null }
 *   | { readonly type: 'history', readonly shown: boolean }
 *   | { readonly type: 'token', readonly shown: boolean }
 *   | { readonly type: 'resume', readonly shown: boolean }} Pending
 */

/**
 * The reply being read when it spans lines: `who` (§5.3), `/help` (§5.6), and the history lines
 * of a `/history` or a resume reply (§10.2, §10.4). Each is written as one piece, so nothing
 * comes between its lines; the first line that is not one of its rows ends it, and a history
 * reply ends after the count its first line gave. `placement` says where history goes: `above`
 * the live log (the join history, gathered in `entries`), `inline` where it comes (one the user
 * asked for), or among the live entries as `caught-up` (a resume's). `closesJoin`: the page's own
 * join history, after which no other is awaited.
 * @typedef {{ readonly type: 'who', readonly entry: WhoEntry | null }
 *   | { readonly type: 'help', readonly entry: HelpEntry, inLimits: boolean }
 *   | { readonly type: 'history', readonly placement: 'above' | 'inline' | 'caught-up', remaining: number,
 *       readonly entries: LogEntry[], readonly closesJoin: boolean }} Block
 */

/**
 * A resume under way (§10.4, §10.5): the page's own (`isOwn`: from the handshake, or its own
 * `/resume` line), or one the user typed. `missed`: the count its reply's first line gave.
 * @typedef {{ readonly isOwn: boolean, readonly hasRetried: boolean, missed: number | null }} ResumeAttempt
 */

/**
 * What the first connection has shown live while the history it asked for is on its way. The
 * connection is online before the server makes the reply, so the reply's newest entries can have
 * come live already: those after the token reply as positioned lines (`positions`), those before
 * it as plain ones (`unpositioned`, each entry's signatureOf). #placeAbove leaves them out.
 * @typedef {{ readonly positions: Set<number>, readonly unpositioned: string[] }} JoinWindow
 */

/**
 * §10.2: the entries the page asks for when it first joins: a screenful or two, enough to follow
 * the conversation it walks into, and a reply of a few kilobytes.
 */
export const JOIN_HISTORY_ENTRIES = 50;

/**
 * §6: how each fatal error ends the connection. An idle timeout and a flooding kick are the
 * server's decision about this user, so the page waits for the user; a full server, a cap per
 * address and a restart pass, so it tries again with back-off.
 * @type {Readonly<Partial<Record<ErrorCode, { readonly reason: EndReason, readonly reconnect: boolean }>>>}
 */
const ENDINGS = {
  CHAT_ERR_IDLE_TIMEOUT: { reason: 'idle-timeout', reconnect: false },
  CHAT_ERR_FLOODING: { reason: 'flooding', reconnect: false },
  CHAT_ERR_TOO_MANY_FROM_ADDRESS: { reason: 'too-many', reconnect: true },
  CHAT_ERR_SERVER_FULL: { reason: 'server-full', reconnect: true },
  CHAT_ERR_SHUTTING_DOWN: { reason: 'shutdown', reconnect: true },
};

/**
 * §3.3, §3.4, §6.1: the errors that answer a rename, and those that answer a `/msg`.
 * @type {ReadonlySet<ErrorCode | null>}
 */
const RENAME_ERRORS = new Set([
  'CHAT_ERR_RENAME_SYNTAX',
  'CHAT_ERR_NAME_EMPTY',
  'CHAT_ERR_NAME_TOO_LONG',
  'CHAT_ERR_NAME_INVALID',
  'CHAT_ERR_NAME_TAKEN',
]);

/**
 * The usage a CHAT_ERR_COMMAND_SYNTAX names, by its command word, and the commands an older
 * chatd answers with CHAT_ERR_UNKNOWN_COMMAND: which waiting line each answers.
 * @type {ReadonlyMap<string, Pending['type']>}
 */
const REPLY_FAMILIES = new Map([
  ['who', 'who'],
  ['rename', 'rename'],
  ['msg', 'msg'],
  ['history', 'history'],
  ['token', 'token'],
  ['resume', 'resume'],
]);

export class ChatSession {
  /**
   * Addresses to names, in order of arrival (§5.3); a rename keeps a client's place.
   * @type {Map<string, string>}
   */
  #roster = new Map();
  /** @type {Pending[]} */
  #pending = [];
  /** @type {Block | null} */
  #block = null;
  /** @type {string | null} */
  #selfAddr = null;
  /**
   * Every ADDR this page has had: its lines in a history or a resume reply were said from one
   * of its earlier connections.
   * @type {Set<string>}
   */
  #ownAddrs = new Set();
  /**
   * The name the user chose, asked for again after a reconnect that did not resume (the server
   * forgets it).
   * @type {string | null}
   */
  #chosenName;
  /**
   * §10.3: the resume token, while the server may hold the session for it. Kept in memory only:
   * it lets its holder take the session over (SECURITY.md), and a reload is a newcomer anyway.
   * @type {string | null}
   */
  #token = null;
  /**
   * §10.1: the position of the last entry the page received, where a resume starts from.
   * @type {number | null}
   */
  #position = null;
  /** The server holds no sessions (CHAT_ERR_RESUME_OFF), or knows no `/token` (an older chatd): not asked again. */
  #isResumeOff = false;
  /** @type {ResumeAttempt | null} */
  #resume = null;
  /** The join history is asked for once, on the page's first connection. */
  #hasAskedHistory = false;
  /** @type {JoinWindow | null} */
  #join = null;
  /** The line under the join history that says what it is, once it is shown. */
  #hasHistoryDivider = false;
  #nextId = 1;
  #now;

  /**
   * @param {{ readonly now?: () => Date, readonly chosenName?: string | null }} [options]
   */
  constructor(options = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#chosenName = options.chosenName ?? null;
  }

  /**
   * Everyone online, in order of arrival.
   * @returns {Member[]}
   */
  members() {
    return [...this.#roster].map(([addr, name]) => ({ addr, name }));
  }

  /** This page's ADDR on the current connection, once its login line has come (§5.2). */
  get selfAddr() {
    return this.#selfAddr;
  }

  get chosenName() {
    return this.#chosenName;
  }

  /**
   * Where the next connection resumes the session from (§10.5), or null when there is none to
   * take back. connection.js opens `/ws?resume=TOKEN&position=N` with it, and opened() then reads
   * that connection's lines as a resume's answer, so the two MUST be asked about the same
   * connection, with nothing received between them (app.js does so).
   * @returns {ResumePoint | null}
   */
  resumePoint() {
    return this.#token === null ? null : { token: this.#token, position: this.#position ?? 0 };
  }

  /**
   * A connection is open: what the last one awaited will never come. Sends `who` at once to
   * seed the list of who is online; its reply is not logged. A newcomer also asks for its resume
   * token (§10.3), and on the page's first connection for the last entries said (§10.2). A
   * connection that resumes asks for neither: the server answers its handshake (§10.5).
   * @returns {Effect[]}
   */
  opened() {
    this.closed();
    /** @type {Effect[]} */
    const effects = [this.#ask({ type: 'who', shown: false }, 'who')];
    if (this.#token !== null) {
      this.#resume = { isOwn: true, hasRetried: false, missed: null };
      return effects;
    }
    // The token first: the live entries that come after its reply carry their positions, so the
    // history reply can be told from them (#placeAbove).
    if (!this.#isResumeOff) effects.push(this.#ask({ type: 'token', shown: false }, '/token'));
    if (!this.#hasAskedHistory) {
      this.#hasAskedHistory = true;
      this.#join = { positions: new Set(), unpositioned: [] };
      effects.push(this.#ask({ type: 'history', shown: false }, `/history ${JOIN_HISTORY_ENTRIES}`));
    }
    return effects;
  }

  /**
   * The connection is gone; the list of who is online stays as it was last known, and so do the
   * token and the position, for the next connection to resume with (§10.4).
   */
  closed() {
    this.#pending = [];
    this.#block = null;
    this.#selfAddr = null;
    this.#resume = null;
    this.#join = null;
  }

  /**
   * An entry of the page's own: the connection was lost, or came back.
   * @param {string} text
   * @returns {AddEffect}
   */
  note(text) {
    return this.#add({ kind: 'info', text });
  }

  /**
   * A line the user typed and submitted while online.
   * @param {string} input
   * @returns {Effect[]}
   */
  submit(input) {
    const line = expandAlias(input);
    const read = readClientLine(line);
    if (read.type === 'empty') return [];
    const bytes = utf8Length(line);
    if (bytes > MAX_LINE_BYTES) {
      return [this.#add({ kind: 'error', text: `that line is ${bytes} bytes; the server takes at most ${MAX_LINE_BYTES}, so it was not sent`, code: null })];
    }
    /** @type {Effect[]} */
    const effects = [];
    switch (read.type) {
      case 'who':
        this.#pending.push({ type: 'who', shown: true });
        break;
      case 'rename':
        this.#pending.push({ type: 'rename', name: read.name, restoring: false });
        break;
      case 'msg':
        this.#pending.push({ type: 'msg', to: read.to, text: read.text });
        break;
      case 'history':
      case 'token':
        this.#pending.push({ type: read.type, shown: true });
        break;
      case 'resume':
        this.#pending.push({ type: 'resume', shown: true });
        this.#resume = { isOwn: false, hasRetried: true, missed: null };
        break;
      case 'quit':
        // §3.4: the server closes without a line; everyone else sees `login out`. §10.4: and
        // holds nothing, so the next connection is a newcomer's.
        this.#forgetSession();
        effects.push({ type: 'ending', reason: 'quit', reconnect: false, message: 'you left the chat' });
        break;
    }
    effects.unshift({ type: 'send', line });
    return effects;
  }

  /**
   * One line from the server, without its CRLF.
   * @param {string} text
   * @returns {Effect[]}
   */
  receive(text) {
    const line = parseServerLine(text, (addr) => this.#roster.get(addr));
    /** @type {Effect[]} */
    const effects = this.#block !== null && !continuesBlock(this.#block, line) ? this.#endBlock() : [];
    effects.push(...this.#read(line, text));
    return effects;
  }

  /**
   * @param {ServerLine} line
   * @param {string} text
   * @returns {Effect[]}
   */
  #read(line, text) {
    switch (line.kind) {
      case 'login': {
        // §5.2: a newcomer's own login is the first line of its connection, before anyone else's;
        // §10.5: after a resume's history lines, which are no logins.
        this.#selfAddr ??= line.addr;
        this.#roster.set(line.addr, line.name);
        const isSelf = line.addr === this.#selfAddr;
        if (isSelf) {
          // The page's earlier connections are gone, though it never saw their `login out`
          // (§10.4: the others saw it at the drop).
          for (const old of this.#ownAddrs) if (old !== line.addr) this.#roster.delete(old);
          this.#ownAddrs.add(line.addr);
        }
        return [this.#add({ kind: 'login', addr: line.addr, name: line.name, isSelf }), { type: 'roster' }];
      }
      case 'greeting':
        return this.#greeted(line.addr, line.name);
      case 'chat':
      case 'renamed':
      case 'announcement':
        return this.#live(line, null);
      case 'positioned':
        this.#position = line.position;
        return this.#live(line.entry, line.position);
      case 'logout':
      case 'timed-out': {
        this.#roster.delete(line.addr);
        const kind = line.kind === 'logout' ? 'logout' : 'timeout';
        return [this.#add({ kind, addr: line.addr, name: line.name }), { type: 'roster' }];
      }
      case 'private':
        return [this.#add({ kind: 'private', direction: 'in', addr: line.addr, name: line.name, text: line.text })];
      case 'who-start':
        return this.#whoStarted();
      case 'who-row':
        return this.#whoRow(line.addr, line.name, text);
      case 'rename-ok':
        if (line.position !== undefined) this.#position = line.position;
        return this.#renamed();
      case 'msg-ok':
        return this.#messaged();
      case 'help-start': {
        const entry = this.#entry({ kind: 'help', commands: [], limits: [] });
        this.#block = { type: 'help', entry, inLimits: false };
        return [{ type: 'add', entry }];
      }
      case 'help-limits':
      case 'help-row':
        if (this.#block?.type !== 'help') return [this.#add({ kind: 'raw', text })];
        if (line.kind === 'help-limits') this.#block.inLimits = true;
        else (this.#block.inLimits ? this.#block.entry.limits : this.#block.entry.commands).push({ usage: line.usage, text: line.text });
        return [{ type: 'update', entry: this.#block.entry }];
      case 'history-start':
        return this.#historyStarted(line.count);
      case 'history':
        return this.#historyLine(line);
      case 'token':
        return this.#tokenGiven(line.token, line.position);
      case 'resume-start':
        return this.#resumeStarted(line.count, line.missing);
      case 'resumed':
        return this.#resumed(line.token, line.position);
      case 'error':
        return this.#error(line);
      case 'unknown':
        return [this.#add({ kind: 'raw', text })];
    }
  }

  /**
   * §5.2: `I am here` comes to the newcomer only, right after its login. A name chosen on an
   * earlier connection is asked for again, since a new connection starts as its ADDR (§4, rule
   * 1), unless the connection resumes: its answer follows the greeting (§10.5), and only a
   * refusal leaves the name to be asked for (#resumeRefused).
   * @param {string} addr
   * @param {string} name
   * @returns {Effect[]}
   */
  #greeted(addr, name) {
    this.#selfAddr = addr;
    this.#ownAddrs.add(addr);
    /** @type {Effect[]} */
    const effects = [{ type: 'logged-in' }];
    if (this.#resume?.isOwn !== true) effects.push(...this.#restoreName(name));
    return effects;
  }

  /**
   * @param {string} name the name this connection has now
   * @returns {Effect[]}
   */
  #restoreName(name) {
    const wanted = this.#chosenName;
    if (wanted === null || wanted === name) {
      return [this.#add({ kind: 'info', text: `connected as ${name}; choose a name with /rename NAME, /help lists the commands` })];
    }
    this.#pending.push({ type: 'rename', name: wanted, restoring: true });
    return [this.#add({ kind: 'info', text: `connected as ${name}; asking for the name ${wanted} again` }), { type: 'send', line: `/rename ${wanted}` }];
  }

  /**
   * A chat line, a rename or an announcement as it is said, with its position once the page
   * has a token (§10.3).
   * @param {EntryLine} line
   * @param {number | null} position
   * @returns {Effect[]}
   */
  #live(line, position) {
    const isSelf = line.kind !== 'announcement' && line.addr === this.#selfAddr;
    const entry = /** @type {LogEntry} */ (this.#entry({ ...entryFields(line, isSelf), ...(position === null ? {} : { position }) }));
    const join = this.#join;
    if (join !== null) {
      // §5.8, §5.9: the link notices and the idle warning are the server's own, never history.
      if (position !== null) join.positions.add(position);
      else if (line.kind !== 'announcement' || line.topic === 'other') join.unpositioned.push(signatureOf(entry));
    }
    /** @type {Effect[]} */
    const effects = [{ type: 'add', entry }];
    if (line.kind === 'renamed') {
      this.#roster.set(line.addr, line.newName);
      effects.push({ type: 'roster' });
    }
    return effects;
  }

  /**
   * An entry of the chat's history (§10.2, §10.4): said at the time its line gives, by whoever
   * had its ADDR then, so the who list is left alone.
   * @param {HistoryLine} line
   * @param {{ readonly history: true } | { readonly caughtUp: true }} mark
   * @returns {LogEntry}
   */
  #pastEntry(line, mark) {
    const { entry } = line;
    const isSelf = entry.kind !== 'announcement' && this.#ownAddrs.has(entry.addr);
    return /** @type {LogEntry} */ (this.#entry({ ...entryFields(entry, isSelf), position: line.position, ...mark }, line.time));
  }

  /**
   * §10.2: a history reply. The page's own join history, and the one the server sends a newcomer
   * unasked (`--history-on-join`) while that is awaited, go above the live log, since they are
   * older than all of it; one the user asked for, or any other, is shown where it comes, after a
   * line that says what it is.
   * @param {number} count
   * @returns {Effect[]}
   */
  #historyStarted(count) {
    const pending = this.#takeReply('history');
    const isOwn = pending?.type === 'history' && !pending.shown;
    const isAbove = this.#join !== null && (isOwn || pending === null);
    this.#block = { type: 'history', placement: isAbove ? 'above' : 'inline', remaining: count, entries: [], closesJoin: isOwn };
    /** @type {Effect[]} */
    const effects = [];
    if (!isAbove) {
      const text = count === 0 ? 'history: the server keeps no lines yet' : `history: the last ${count === 1 ? 'line' : `${count} lines`} said`;
      effects.push(this.#add({ kind: 'info', text }));
    }
    if (count === 0) effects.push(...this.#endBlock());
    return effects;
  }

  /**
   * One entry of a history or resume reply (§10.2, §10.4), or one outside any, shown where it comes.
   * @param {HistoryLine} line
   * @returns {Effect[]}
   */
  #historyLine(line) {
    const block = this.#block?.type === 'history' ? this.#block : null;
    /** @type {Effect[]} */
    const effects = [];
    if (block?.placement === 'caught-up') {
      this.#position = line.position;
      effects.push({ type: 'add', entry: this.#pastEntry(line, { caughtUp: true }) });
    } else {
      // A history reply may be older than what the page has read live: the position never goes back.
      this.#position = Math.max(this.#position ?? 0, line.position);
      const entry = this.#pastEntry(line, { history: true });
      if (block?.placement === 'above') block.entries.push(entry);
      else effects.push({ type: 'add', entry });
    }
    if (block !== null && --block.remaining <= 0) effects.push(...this.#endBlock());
    return effects;
  }

  /**
   * The multi-line reply being read is over: a join history goes above the live log now.
   * @returns {Effect[]}
   */
  #endBlock() {
    const block = this.#block;
    this.#block = null;
    if (block?.type !== 'history' || block.placement !== 'above') return [];
    return this.#placeAbove(block.entries, block.closesJoin);
  }

  /**
   * The join history, above the live log, each entry once: those that came live already are
   * left out (JoinWindow). The ones said before the token reply are the reply's newest that came
   * without a position, so they are matched by content from the newest back, and the matching
   * stops at the first that did not come.
   * @param {readonly LogEntry[]} entries oldest first
   * @param {boolean} closesJoin
   * @returns {Effect[]}
   */
  #placeAbove(entries, closesJoin) {
    const join = this.#join;
    if (join === null) return [];
    if (closesJoin) this.#join = null;
    const unseen = entries.filter((entry) => entry.position === undefined || !join.positions.has(entry.position));
    let end = unseen.length;
    for (; end > 0; end--) {
      const newest = unseen[end - 1];
      const index = newest === undefined ? -1 : join.unpositioned.lastIndexOf(signatureOf(newest));
      if (index === -1) break;
      join.unpositioned.splice(index, 1);
    }
    const kept = unseen.slice(0, end);
    for (const entry of kept) if (entry.position !== undefined) join.positions.add(entry.position);
    if (kept.length === 0) return [];
    if (this.#hasHistoryDivider) return [{ type: 'prepend', entries: kept }];
    this.#hasHistoryDivider = true;
    const divider = /** @type {LogEntry} */ (this.#entry({ kind: 'info', text: 'the lines above were said before you came in' }));
    return [{ type: 'prepend', entries: [...kept, divider] }];
  }

  /**
   * §10.3: the token, and the position the page is at. The page's own `/token` is not logged:
   * the token is a secret.
   * @param {string} token
   * @param {number} position
   * @returns {Effect[]}
   */
  #tokenGiven(token, position) {
    const pending = this.#takeReply('token');
    this.#token = token;
    this.#position = position;
    if (pending?.type === 'token' && !pending.shown) return [];
    const text = `your resume token is ${token}, at @${position}; whoever has it can take over your session, so keep it to yourself`;
    return [this.#add({ kind: 'info', text })];
  }

  /**
   * §10.4, §10.5: what the page missed comes first, as history lines; each is shown in order
   * among the live entries, marked as caught up. Missed entries that history no longer holds
   * are said plainly, before the ones it still has.
   * @param {number} count
   * @param {number} missing
   * @returns {Effect[]}
   */
  #resumeStarted(count, missing) {
    this.#takeReply('resume');
    const attempt = (this.#resume ??= { isOwn: false, hasRetried: true, missed: null });
    attempt.missed = count;
    this.#block = { type: 'history', placement: 'caught-up', remaining: count, entries: [], closesJoin: false };
    /** @type {Effect[]} */
    const effects = [];
    if (missing > 0) {
      const lines = missing === 1 ? '1 line said while you were away is' : `${missing} lines said while you were away are`;
      effects.push(this.#add({ kind: 'notice', topic: 'entries-lost', text: `${lines} no longer kept by the server and cannot be shown` }));
    }
    if (count === 0) effects.push(...this.#endBlock());
    return effects;
  }

  /**
   * §10.4 step 3: the session is back, with a new token. Its name came with its login line
   * (step 2), so the page has the name the server kept, and sends no rename of its own.
   * @param {string} token
   * @param {number} position
   * @returns {Effect[]}
   */
  #resumed(token, position) {
    const missed = this.#resume?.missed ?? 0;
    this.#resume = null;
    this.#token = token;
    this.#position = position;
    const addr = this.#selfAddr;
    const name = addr === null ? undefined : this.#roster.get(addr);
    if (name !== undefined && name !== addr) this.#chosenName = name;
    const text =
      missed === 0 ? 'your session is back' : `your session is back; the ${missed === 1 ? 'line' : `${missed} lines`} you missed ${missed === 1 ? 'is' : 'are'} marked “caught up”`;
    return [this.#add({ kind: 'info', text })];
  }

  /**
   * §10.4, §10.5: the server would not give the session back. The page says so, since lines may
   * be missing, and goes on as the newcomer the connection already is: it asks for its name again
   * and for a new token. CHAT_ERR_RESUME_AHEAD is the exception, once: the session is still held,
   * with its name (which nobody else may take, the page included), so the page takes it back
   * from where the chat is.
   * @param {ErrorLine} line
   * @returns {Effect[]}
   */
  #resumeRefused(line) {
    const attempt = this.#resume;
    this.#resume = null;
    const token = this.#token;
    if (line.code === 'CHAT_ERR_RESUME_AHEAD' && line.argument !== null && token !== null && attempt?.hasRetried === false) {
      this.#resume = { isOwn: true, hasRetried: true, missed: null };
      const text = `the server is at @${line.argument}, behind the @${this.#position ?? 0} this page last read; taking your session back from there`;
      return [this.#add({ kind: 'notice', topic: 'resume-ahead', text }), this.#ask({ type: 'resume', shown: false }, `/resume ${token} ${line.argument}`)];
    }
    this.#forgetSession();
    if (line.code === 'CHAT_ERR_RESUME_OFF') this.#isResumeOff = true;
    const why =
      line.code === 'CHAT_ERR_RESUME_OFF'
        ? ' (this server no longer holds sessions)'
        : line.code === 'CHAT_ERR_RESUME_REFUSED' && line.argument !== null
          ? ` (the server holds one for ${line.argument} s after a drop)`
          : '';
    const text = `your session could not be resumed${why}: lines said while you were away may be missing; /history shows the last ones`;
    /** @type {Effect[]} */
    const effects = [this.#add({ kind: 'notice', topic: 'resume-refused', text })];
    const addr = this.#selfAddr;
    if (addr !== null) effects.push(...this.#restoreName(this.#roster.get(addr) ?? addr));
    if (!this.#isResumeOff) effects.push(this.#ask({ type: 'token', shown: false }, '/token'));
    return effects;
  }

  /** §10.4: the session is over (`/quit`, a timeout, a kick, a refusal): nothing to resume. */
  #forgetSession() {
    this.#token = null;
    this.#position = null;
    this.#resume = null;
  }

  /** @returns {Effect[]} */
  #whoStarted() {
    const pending = this.#takeReply('who');
    const isShown = pending?.type !== 'who' || pending.shown;
    // §5.3: the reply lists everyone online at the moment it was made, so it replaces the list;
    // the lines after it are events after that moment.
    this.#roster.clear();
    const entry = isShown ? this.#entry({ kind: 'who', members: [] }) : null;
    this.#block = { type: 'who', entry };
    return entry === null ? [{ type: 'roster' }] : [{ type: 'add', entry }, { type: 'roster' }];
  }

  /**
   * @param {string} addr
   * @param {string} name
   * @param {string} text
   * @returns {Effect[]}
   */
  #whoRow(addr, name, text) {
    if (this.#block?.type !== 'who') return [this.#add({ kind: 'raw', text })];
    this.#roster.set(addr, name);
    const { entry } = this.#block;
    if (entry === null) return [{ type: 'roster' }];
    entry.members.push({ addr, name });
    return [{ type: 'update', entry }, { type: 'roster' }];
  }

  /**
   * §3.3: `rename ok` goes to the renamed client only; the others get the `renamed to` line, so
   * the page takes its new name from the line it sent.
   * @returns {Effect[]}
   */
  #renamed() {
    const pending = this.#takeReply('rename');
    const addr = this.#selfAddr;
    if (pending?.type !== 'rename' || pending.name === null || addr === null) {
      // A rename the page did not see go out: the list is asked for again to learn the name.
      return [this.#add({ kind: 'info', text: 'rename ok' }), this.#ask({ type: 'who', shown: false }, 'who')];
    }
    const oldName = this.#roster.get(addr) ?? addr;
    this.#roster.set(addr, pending.name);
    this.#chosenName = pending.name;
    if (oldName === pending.name) return [this.#add({ kind: 'info', text: `your name is ${pending.name}` })];
    return [this.#add({ kind: 'rename', addr, oldName, newName: pending.name, isSelf: true }), { type: 'roster' }];
  }

  /**
   * §3.4: the sender of `/msg` gets `msg ok`, never its own line: the page shows it from what it sent.
   * @returns {Effect[]}
   */
  #messaged() {
    const pending = this.#takeReply('msg');
    if (pending?.type !== 'msg' || pending.to === null || pending.text === null) return [this.#add({ kind: 'info', text: 'msg ok' })];
    return [this.#add({ kind: 'private', direction: 'out', addr: null, name: pending.to, text: pending.text })];
  }

  /**
   * @param {ErrorLine} line
   * @returns {Effect[]}
   */
  #error(line) {
    const family = replyFamily(line, this.#pending[0]);
    const pending = family === null ? null : this.#takeReply(family);
    const isOwn = pending !== null && 'shown' in pending && !pending.shown;
    // §10: the answers to the page's own questions are the page's business. An older chatd knows
    // no /token or /history, and one started with --resume-window 0 holds no sessions.
    if (isOwn && pending.type === 'token') {
      this.#isResumeOff = true;
      return [];
    }
    if (isOwn && pending.type === 'history') {
      this.#join = null;
      return [];
    }
    // A resume's refusal: the handshake's has no line waiting for it (§10.5).
    if (family === 'resume' && this.#resume !== null) {
      if (this.#resume.isOwn && (pending === null || isOwn)) return this.#resumeRefused(line);
      this.#resume = null; // the user's own /resume: the error says it all, and the connection is as it was
    }
    /** @type {Effect[]} */
    const effects = [this.#add({ kind: 'error', text: line.message, code: line.code })];
    if (pending?.type === 'rename' && pending.restoring) {
      this.#chosenName = null;
      effects.push(this.#add({ kind: 'info', text: `you are back, but not as ${pending.name ?? 'before'}: choose a name with /rename NAME` }));
    }
    const ending = line.code === null ? undefined : ENDINGS[line.code];
    if (ending !== undefined) {
      // §10.4: a timeout or a kick for flooding ends the session too.
      if (!ending.reconnect) this.#forgetSession();
      effects.push({ type: 'ending', ...ending, message: line.message });
    }
    return effects;
  }

  /**
   * A question of the user's or the page's, sent now, whose reply is awaited.
   * @param {Pending} pending
   * @param {string} line
   * @returns {SendEffect}
   */
  #ask(pending, line) {
    this.#pending.push(pending);
    return { type: 'send', line };
  }

  /**
   * The oldest line still waiting for its reply, if the reply is of its kind. The server answers
   * one client's lines in the order they came (§1), so the head is the one answered.
   * @param {Pending['type']} type
   * @returns {Pending | null}
   */
  #takeReply(type) {
    if (this.#pending[0]?.type !== type) return null;
    return this.#pending.shift() ?? null;
  }

  /**
   * @template {EntryFields} Fields
   * @param {Fields} fields
   * @param {Date} [time] when it was said, if not now (§10.1)
   * @returns {Fields & EntryBase}
   */
  #entry(fields, time = this.#now()) {
    return { ...fields, id: this.#nextId++, time };
  }

  /**
   * @param {EntryFields} fields
   * @returns {AddEffect}
   */
  #add(fields) {
    return { type: 'add', entry: /** @type {LogEntry} */ (this.#entry(fields)) };
  }
}

/**
 * The fields of a kept entry's log entry (§10: chat, a rename, an announcement).
 * @param {EntryLine} line
 * @param {boolean} isSelf
 * @returns {EntryFields}
 */
function entryFields(line, isSelf) {
  switch (line.kind) {
    case 'chat':
      return { kind: 'chat', addr: line.addr, name: line.name, text: line.text, isSelf };
    case 'renamed':
      return { kind: 'rename', addr: line.addr, oldName: line.name, newName: line.newName, isSelf };
    case 'announcement':
      return { kind: 'notice', text: line.text, topic: line.topic };
  }
}

/**
 * What an entry says, to tell the same entry come twice by its content.
 * @param {LogEntry} entry
 */
function signatureOf(entry) {
  switch (entry.kind) {
    case 'chat':
      return JSON.stringify([entry.kind, entry.addr, entry.name, entry.text]);
    case 'rename':
      return JSON.stringify([entry.kind, entry.addr, entry.oldName, entry.newName]);
    case 'notice':
      return JSON.stringify([entry.kind, entry.text]);
    default:
      return JSON.stringify([entry.kind, entry.id]);
  }
}

/**
 * @param {Block} block
 * @param {ServerLine} line
 */
function continuesBlock(block, line) {
  switch (block.type) {
    case 'who':
      return line.kind === 'who-row';
    case 'help':
      return line.kind === 'help-row' || line.kind === 'help-limits';
    case 'history':
      return line.kind === 'history';
  }
}

/**
 * Which kind of line an error answers, if it answers one (§3.2–§3.4, §6.1, §10.4). The usage
 * error names its command, and an older chatd's CHAT_ERR_UNKNOWN_COMMAND the §10 command it does
 * not know; CHAT_ERR_CLUSTER_UNAVAILABLE answers a rename or a `/msg`, whichever waits, and
 * CHAT_ERR_RESUME_OFF a `/token` if one waits, or else a resume.
 * @param {ErrorLine} line
 * @param {Pending | undefined} head
 * @returns {Pending['type'] | null}
 */
function replyFamily(line, head) {
  switch (line.code) {
    case 'CHAT_ERR_COMMAND_SYNTAX':
      return REPLY_FAMILIES.get((line.argument ?? '').split(' ')[0]?.slice(1) ?? '') ?? null;
    case 'CHAT_ERR_UNKNOWN_COMMAND': {
      const word = (line.argument ?? '').toLowerCase();
      return word === 'history' || word === 'token' || word === 'resume' ? word : null;
    }
    case 'CHAT_ERR_NO_SUCH_USER':
      return 'msg';
    case 'CHAT_ERR_CLUSTER_UNAVAILABLE':
      return head?.type === 'rename' || head?.type === 'msg' ? head.type : null;
    case 'CHAT_ERR_RESUME_OFF':
      return head?.type === 'token' ? 'token' : 'resume';
    case 'CHAT_ERR_RESUME_REFUSED':
    case 'CHAT_ERR_RESUME_AHEAD':
      return 'resume';
    default:
      return RENAME_ERRORS.has(line.code) ? 'rename' : null;
  }
}
