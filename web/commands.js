// @ts-check
// What a line the user types will be to the server (PROTOCOL.md §3), read the way
// protocol/parse.ts reads it, as far as the page needs: which lines get exactly one reply
// (`who`, a rename, `/msg`, `/history`, `/token`, `/resume`), which one ends the connection
// (`/quit`). Pure and DOM-free.

/**
 * The longest line the page sends, in UTF-8 bytes: the default of chatd's --max-line (§2.5).
 * A longer message makes the server close the WebSocket (1009), so the page refuses it first; a
 * server set lower still closes, and the page says why (app.js).
 */
export const MAX_LINE_BYTES = 4096;

/**
 * @typedef {{ readonly type: 'empty' }} EmptyInput
 * @typedef {{ readonly type: 'chat' }} ChatInput
 * @typedef {{ readonly type: 'who' }} WhoInput
 * @typedef {{ readonly type: 'rename', readonly name: string | null }} RenameInput NEW in NFKC, as the
 *   server stores it (§4, rule 2), or null when the line has none (an error reply follows)
 * @typedef {{ readonly type: 'msg', readonly to: string | null, readonly text: string | null }} MsgInput
 * @typedef {{ readonly type: 'quit' }} QuitInput
 * @typedef {{ readonly type: 'help' }} HelpInput
 * @typedef {{ readonly type: 'history' }} HistoryInput §10.2
 * @typedef {{ readonly type: 'token' }} TokenInput §10.3
 * @typedef {{ readonly type: 'resume' }} ResumeInput §10.4
 * @typedef {{ readonly type: 'unknown-command', readonly word: string }} UnknownCommandInput
 * @typedef {EmptyInput | ChatInput | WhoInput | RenameInput | MsgInput | QuitInput | HelpInput | HistoryInput | TokenInput
 *   | ResumeInput | UnknownCommandInput} ClientInput
 */

/**
 * §2.3: what the server removes before it reads a line (control characters, the bidirectional
 * controls, the line and paragraph separators). Escape sequences start with ESC, a control, so
 * removing it is enough to read the command word the way the server will.
 */
const INVISIBLE_TO_SERVER = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;
const WHITE_SPACE_CHAR = /\s/u;

/**
 * §3.1, §3.4: command words are matched ignoring the case of ASCII letters only.
 * @param {string} text
 */
function asciiLower(text) {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/**
 * What the server will read `line` as (§3.1–§3.4, §10). Each of `who`, `rename`, `msg`,
 * `history`, `token` and `resume` is answered with one reply, a confirmation or an error, which
 * is what lets the page pair replies with the lines that caused them (session.js).
 * @param {string} line
 * @returns {ClientInput}
 */
export function readClientLine(line) {
  const seen = line.replace(INVISIBLE_TO_SERVER, '');
  if (seen.trim() === '') return { type: 'empty' };
  const trimmed = seen.trimEnd();
  if (trimmed.startsWith('/')) return readSlash(trimmed);
  const lower = asciiLower(trimmed);
  if (lower === 'who') return { type: 'who' };
  // §3.3: `rename` alone is CHAT_ERR_RENAME_SYNTAX, a reply all the same.
  if (lower === 'rename') return { type: 'rename', name: null };
  if (lower.startsWith('rename|')) return renameTo(trimmed.slice('rename|'.length));
  return { type: 'chat' };
}

/**
 * @param {string} line a line that starts with `/`, without white space at its end
 * @returns {ClientInput}
 */
function readSlash(line) {
  // §3.4: `//TEXT` is the chat line `/TEXT`.
  if (line.startsWith('//')) return { type: 'chat' };
  const space = line.search(WHITE_SPACE_CHAR);
  const word = asciiLower(line.slice(1, space === -1 ? line.length : space));
  const rest = space === -1 ? '' : line.slice(space + 1).trim();
  switch (word) {
    case 'who':
      return { type: 'who' };
    case 'rename':
      return rest === '' ? { type: 'rename', name: null } : renameTo(rest);
    case 'msg': {
      const gap = rest.search(WHITE_SPACE_CHAR);
      if (gap === -1) return { type: 'msg', to: rest === '' ? null : rest, text: null };
      return { type: 'msg', to: rest.slice(0, gap), text: rest.slice(gap + 1).trimStart() };
    }
    case 'quit':
      return { type: 'quit' };
    case 'help':
      return { type: 'help' };
    // §10.2–§10.4: a wrong argument is CHAT_ERR_COMMAND_SYNTAX, a reply all the same.
    case 'history':
    case 'token':
    case 'resume':
      return { type: word };
    default:
      return { type: 'unknown-command', word };
  }
}

/** @param {string} raw */
function renameTo(raw) {
  const name = raw.normalize('NFKC');
  return { type: /** @type {const} */ ('rename'), name: name === '' ? null : name };
}

/**
 * The page's one alias: `/nick NEW`, as IRC has it, is sent as `/rename NEW` (§3.3). Every
 * other line is sent as typed.
 * @param {string} line
 * @returns {string}
 */
export function expandAlias(line) {
  const match = /^\/nick(?=\s|$)/i.exec(line);
  return match === null ? line : `/rename${line.slice(match[0].length)}`;
}

/**
 * UTF-8 bytes of `line`, as the server counts them for --max-line (§2.5).
 * @param {string} line
 */
export function utf8Length(line) {
  let bytes = 0;
  for (const char of line) {
    const code = char.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}
