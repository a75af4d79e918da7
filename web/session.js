// @ts-check
// The chat as one page sees it, between the socket and the screen: who is online, which of the
// user's commands still await their reply, the page's own address and chosen name, and what each
// server line adds to the log. Pure and DOM-free (tested under Node): lines in, effects out, and
// app.js carries the effects out. One ChatSession lasts as long as the page; opened() and
// closed() bracket each connection.

import { expandAlias, MAX_LINE_BYTES, readClientLine, utf8Length } from './commands.js';
import { parseServerLine } from './lines.js';

/**
 * @typedef {import('./lines.js').ServerLine} ServerLine
 * @typedef {import('./lines.js').ErrorLine} ErrorLine
 * @typedef {import('./lines.js').ErrorCode} ErrorCode
 * @typedef {import('./lines.js').AnnouncementTopic} AnnouncementTopic
 */

/**
 * @typedef {{ readonly addr: string, readonly name: string }} Member
 * @typedef {{ readonly usage: string | null, readonly text: string }} HelpRow
 *
 * @typedef {{ readonly id: number, readonly time: Date }} EntryBase
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
 * @typedef {EntryBase & { readonly kind: 'notice', readonly text: string, readonly topic: AnnouncementTopic }} NoticeEntry
 * @typedef {EntryBase & { readonly kind: 'error', readonly text: string, readonly code: ErrorCode | null }} ErrorEntry
 * @typedef {EntryBase & { readonly kind: 'info', readonly text: string }} InfoEntry
 * @typedef {EntryBase & { readonly kind: 'raw', readonly text: string }} RawEntry
 * @typedef {ChatEntry | LoginEntry | LogoutEntry | TimeoutEntry | RenameEntry | PrivateEntry | WhoEntry | HelpEntry
 *   | NoticeEntry | ErrorEntry | InfoEntry | RawEntry} LogEntry
 * @typedef {LogEntry['kind']} EntryKind
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
 * @typedef {{ readonly type: 'update', readonly entry: LogEntry }} UpdateEffect an entry shown before has grown (a who or help reply)
 * @typedef {{ readonly type: 'send', readonly line: string }} SendEffect
 * @typedef {{ readonly type: 'roster' }} RosterEffect the who list changed
 * @typedef {{ readonly type: 'logged-in' }} LoggedInEffect the greeting came: this connection works
 * @typedef {{ readonly type: 'ending', readonly reason: EndReason, readonly reconnect: boolean,
 *   readonly message: string }} EndingEffect the connection is about to close, and whether to open another by itself
 * @typedef {AddEffect | UpdateEffect | SendEffect | RosterEffect | LoggedInEffect | EndingEffect} Effect
 */

/**
 * A line of the user's that the server answers with exactly one line (commands.js), waiting
 * for that line. `shown: false` is the page's own `who` that seeds the list: its reply is not
 * logged. `restoring`: the rename the page sends by itself after a reconnect.
 * @typedef {{ readonly type: 'who', readonly shown: boolean }
 *   | { readonly type: 'rename', readonly name: string | null, readonly restoring: boolean }
 *   | { readonly type: 'msg', readonly to: string | null, readonly text: string | null }} Pending
 */

/**
 * The reply being read when it spans lines: `who` (§5.3) and `/help` (§5.6). Each is written
 * as one piece, so nothing comes between its lines; the first line that is not one of its rows
 * ends it.
 * @typedef {{ readonly type: 'who', readonly entry: WhoEntry | null }
 *   | { readonly type: 'help', readonly entry: HelpEntry, inLimits: boolean }} Block
 */

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
   * The name the user chose, asked for again after a reconnect (the server forgets it).
   * @type {string | null}
   */
  #chosenName;
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
   * A connection is open: what the last one awaited will never come. Sends `who` at once to
   * seed the list of who is online; its reply is not logged.
   * @returns {Effect[]}
   */
  opened() {
    this.closed();
    this.#pending.push({ type: 'who', shown: false });
    return [{ type: 'send', line: 'who' }];
  }

  /** The connection is gone; the list of who is online stays as it was last known. */
  closed() {
    this.#pending = [];
    this.#block = null;
    this.#selfAddr = null;
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
      case 'quit':
        // §3.4: the server closes without a line; everyone else sees `login out`.
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
    if (this.#block !== null && !continuesBlock(this.#block, line)) this.#block = null;
    switch (line.kind) {
      case 'login': {
        // §5.2: a newcomer's own login is the first line of its connection, before anyone else's.
        this.#selfAddr ??= line.addr;
        this.#roster.set(line.addr, line.name);
        const isSelf = line.addr === this.#selfAddr;
        return [this.#add({ kind: 'login', addr: line.addr, name: line.name, isSelf }), { type: 'roster' }];
      }
      case 'greeting':
        return this.#greeted(line.addr, line.name);
      case 'chat':
        return [this.#add({ kind: 'chat', addr: line.addr, name: line.name, text: line.text, isSelf: line.addr === this.#selfAddr })];
      case 'logout':
      case 'timed-out': {
        this.#roster.delete(line.addr);
        const kind = line.kind === 'logout' ? 'logout' : 'timeout';
        return [this.#add({ kind, addr: line.addr, name: line.name }), { type: 'roster' }];
      }
      case 'renamed': {
        this.#roster.set(line.addr, line.newName);
        const isSelf = line.addr === this.#selfAddr;
        return [this.#add({ kind: 'rename', addr: line.addr, oldName: line.name, newName: line.newName, isSelf }), { type: 'roster' }];
      }
      case 'private':
        return [this.#add({ kind: 'private', direction: 'in', addr: line.addr, name: line.name, text: line.text })];
      case 'who-start':
        return this.#whoStarted();
      case 'who-row':
        return this.#whoRow(line.addr, line.name, text);
      case 'rename-ok':
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
      case 'announcement':
        return [this.#add({ kind: 'notice', text: line.text, topic: line.topic })];
      case 'error':
        return this.#error(line);
      case 'unknown':
        return [this.#add({ kind: 'raw', text })];
    }
  }

  /**
   * §5.2: `I am here` comes to the newcomer only, right after its login. A name chosen on an
   * earlier connection is asked for again, since a new connection starts as its ADDR (§4, rule 1).
   * @param {string} addr
   * @param {string} name
   * @returns {Effect[]}
   */
  #greeted(addr, name) {
    this.#selfAddr = addr;
    /** @type {Effect[]} */
    const effects = [{ type: 'logged-in' }];
    const wanted = this.#chosenName;
    if (wanted !== null && wanted !== name) {
      effects.push(this.#add({ kind: 'info', text: `connected as ${name}; asking for the name ${wanted} again` }));
      this.#pending.push({ type: 'rename', name: wanted, restoring: true });
      effects.push({ type: 'send', line: `/rename ${wanted}` });
    } else {
      effects.push(this.#add({ kind: 'info', text: `connected as ${name}; choose a name with /rename NAME, /help lists the commands` }));
    }
    return effects;
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
      this.#pending.push({ type: 'who', shown: false });
      return [this.#add({ kind: 'info', text: 'rename ok' }), { type: 'send', line: 'who' }];
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
    /** @type {Effect[]} */
    const effects = [];
    const family = replyFamily(line, this.#pending[0]);
    const pending = family === null ? null : this.#takeReply(family);
    effects.push(this.#add({ kind: 'error', text: line.message, code: line.code }));
    if (pending?.type === 'rename' && pending.restoring) {
      this.#chosenName = null;
      effects.push(this.#add({ kind: 'info', text: `you are back, but not as ${pending.name ?? 'before'}: choose a name with /rename NAME` }));
    }
    const ending = line.code === null ? undefined : ENDINGS[line.code];
    if (ending !== undefined) effects.push({ type: 'ending', ...ending, message: line.message });
    return effects;
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
   * @returns {Fields & EntryBase}
   */
  #entry(fields) {
    return { ...fields, id: this.#nextId++, time: this.#now() };
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
 * @param {Block} block
 * @param {ServerLine} line
 */
function continuesBlock(block, line) {
  return block.type === 'who' ? line.kind === 'who-row' : line.kind === 'help-row' || line.kind === 'help-limits';
}

/**
 * Which kind of line an error answers, if it answers one (§3.2–§3.4, §6.1). The usage error
 * names its command; `CHAT_ERR_CLUSTER_UNAVAILABLE` answers a rename or a `/msg`, whichever waits.
 * @param {ErrorLine} line
 * @param {Pending | undefined} head
 * @returns {Pending['type'] | null}
 */
function replyFamily(line, head) {
  if (line.code === 'CHAT_ERR_COMMAND_SYNTAX') {
    const word = (line.argument ?? '').split(' ')[0];
    return word === '/who' ? 'who' : word === '/rename' ? 'rename' : word === '/msg' ? 'msg' : null;
  }
  if (RENAME_ERRORS.has(line.code)) return 'rename';
  if (line.code === 'CHAT_ERR_NO_SUCH_USER') return 'msg';
  if (line.code === 'CHAT_ERR_CLUSTER_UNAVAILABLE' && (head?.type === 'rename' || head?.type === 'msg')) return head.type;
  return null;
}
