// @ts-check
// The log on the screen: one element per entry of session.js, each `.entry` with its
// `data-kind` and the other attributes of entry-marks.js (`data-position`, `data-history`,
// `data-caught-up` for the chat's history, PROTOCOL.md §10). Every byte from the server is text:
// it goes in through textContent and text nodes only, never as HTML, so `<img src=x onerror=…>`
// is shown as typed. Keeps the newest entry in view unless the reader has scrolled up. Runs in
// the browser only.

import { entryDataset, entryMark } from './entry-marks.js';

/** Entries kept on the page: a tab left open for days must not grow without end. */
export const MAX_ENTRIES = 2000;
/** Within this many pixels of the bottom, the reader is reading the newest lines and stays there. */
const PINNED_SLACK_PX = 48;
/** Only these become links; a `javascript:` or `data:` URL stays text. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+[^\s<>"'.,;:!?)\]]/g;
/** Colours of names (style.css `[data-hue]`): the same name always gets the same one. */
const HUES = 8;

/**
 * @typedef {import('./session.js').LogEntry} LogEntry
 * @typedef {import('./session.js').Member} Member
 */

/**
 * Local time as HH:MM.
 * @param {Date} date
 */
export function formatClock(date) {
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/**
 * A colour index for a name, stable across reloads (FNV-1a over its UTF-16 units).
 * @param {string} name
 */
export function hueOf(name) {
  let hash = 0x811c9dc5;
  for (let index = 0; index < name.length; index++) {
    hash ^= name.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % HUES;
}

/**
 * @param {string} tag
 * @param {string} className
 * @param {string} [text]
 * @returns {HTMLElement}
 */
function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A name as the log shows it, coloured, with the address in its tooltip.
 * @param {string} name
 * @param {string | null} addr
 */
function nameElement(name, addr) {
  const node = element('span', 'entry-name', name);
  node.dataset['hue'] = String(hueOf(name));
  if (addr !== null && addr !== name) node.title = addr;
  return node;
}

/**
 * Chat text, with its http(s) URLs as links. The URL becomes the link's text and href as it
 * stands; nothing of it is read as markup.
 * @param {string} text
 */
function textElement(text) {
  const node = element('span', 'entry-text');
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    if (start > last) node.append(document.createTextNode(text.slice(last, start)));
    const link = document.createElement('a');
    link.href = match[0];
    link.textContent = match[0];
    link.rel = 'noopener noreferrer nofollow';
    link.target = '_blank';
    node.append(link);
    last = start + match[0].length;
  }
  if (last < text.length) node.append(document.createTextNode(text.slice(last)));
  return node;
}

/**
 * A sentence about someone: the name coloured, the rest plain.
 * @param {readonly (string | HTMLElement)[]} parts
 */
function sentence(parts) {
  const node = element('span', 'entry-text');
  node.append(...parts);
  return node;
}

/**
 * A hidden separator that screen readers read between a name and its text ("alice: hello").
 * @param {string} text
 */
function spoken(text) {
  return element('span', 'visually-hidden', text);
}

/**
 * An entry's mark (entry-marks.js) in its text: a visible one with a hidden separator after it,
 * or words for screen readers alone.
 * @param {LogEntry} entry
 * @returns {HTMLElement[]}
 */
function markOf(entry) {
  const mark = entryMark(entry);
  if (mark === null) return [];
  if (!mark.isVisible) return [spoken(`${mark.text}: `)];
  const node = element('span', 'entry-mark', mark.text);
  if (mark.title !== null) node.title = mark.title;
  return [node, spoken(': ')];
}

/**
 * @param {LogEntry} entry
 * @returns {HTMLElement[]}
 */
function bodyOf(entry) {
  switch (entry.kind) {
    case 'chat':
      return [nameElement(entry.name, entry.addr), spoken(': '), textElement(entry.text)];
    case 'login':
      return [
        entry.isSelf
          ? sentence(['You joined as ', nameElement(entry.name, entry.addr)])
          : sentence([nameElement(entry.name, entry.addr), ' joined']),
      ];
    case 'logout':
      return [sentence([nameElement(entry.name, entry.addr), ' left'])];
    case 'timeout':
      return [sentence([nameElement(entry.name, entry.addr), ' timed out'])];
    case 'rename':
      return [
        entry.isSelf
          ? sentence(['You are now ', nameElement(entry.newName, entry.addr)])
          : sentence([nameElement(entry.oldName, entry.addr), ' is now ', nameElement(entry.newName, entry.addr)]),
      ];
    case 'private':
      return entry.direction === 'in'
        ? [element('span', 'entry-tag', 'private'), nameElement(entry.name, entry.addr), spoken(' to you: '), textElement(entry.text)]
        : [element('span', 'entry-tag', 'private'), sentence(['to ', nameElement(entry.name, null)]), spoken(': '), textElement(entry.text)];
    case 'who': {
      const list = element('span', 'entry-text');
      list.append(`Online (${entry.members.length}): `);
      entry.members.forEach((member, index) => {
        if (index > 0) list.append(', ');
        list.append(nameElement(member.name, member.addr));
      });
      return [list];
    }
    case 'help': {
      const table = element('dl', 'help');
      for (const row of entry.commands) {
        if (row.usage !== null) table.append(element('dt', '', row.usage));
        table.append(element('dd', '', row.text));
      }
      const limits = element('ul', 'help-limits');
      for (const row of entry.limits) limits.append(element('li', '', row.text));
      return [element('span', 'entry-text', 'Commands'), table, limits];
    }
    case 'notice':
    case 'error':
    case 'info':
    case 'raw':
      return [textElement(entry.text)];
  }
}

export class LogView {
  #container;
  #jumpButton;
  /** @type {Map<number, HTMLElement>} */
  #elements = new Map();

  /**
   * @param {HTMLElement} container the scrolling `role="log"` element
   * @param {HTMLButtonElement} jumpButton shown when lines arrive below the reader's view
   */
  constructor(container, jumpButton) {
    this.#container = container;
    this.#jumpButton = jumpButton;
    container.addEventListener('scroll', () => {
      if (this.#isPinned()) this.#jumpButton.hidden = true;
    });
    jumpButton.addEventListener('click', () => this.scrollToEnd());
  }

  /** @param {LogEntry} entry */
  add(entry) {
    const isPinned = this.#isPinned();
    this.#container.append(this.#create(entry));
    this.#trim();
    if (isPinned) this.scrollToEnd();
    else this.#jumpButton.hidden = false;
  }

  /**
   * Entries said before the page joined (§10.2), above everything shown. The reader keeps their
   * place: one at the newest lines stays there, one scrolled up sees the same lines as before.
   * @param {readonly LogEntry[]} entries oldest first
   */
  prepend(entries) {
    const isPinned = this.#isPinned();
    const { scrollHeight, scrollTop } = this.#container;
    this.#container.prepend(...entries.map((entry) => this.#create(entry)));
    this.#trim();
    if (isPinned) this.scrollToEnd();
    else this.#container.scrollTop = scrollTop + (this.#container.scrollHeight - scrollHeight);
  }

  /**
   * An entry that grew (a who or help reply read line by line).
   * @param {LogEntry} entry
   */
  update(entry) {
    const node = this.#elements.get(entry.id);
    if (node === undefined) return;
    const isPinned = this.#isPinned();
    this.#fill(node, entry);
    if (isPinned) this.scrollToEnd();
  }

  scrollToEnd() {
    this.#container.scrollTop = this.#container.scrollHeight;
    this.#jumpButton.hidden = true;
  }

  /**
   * @param {LogEntry} entry
   * @returns {HTMLElement}
   */
  #create(entry) {
    const node = element('div', 'entry');
    Object.assign(node.dataset, entryDataset(entry));
    this.#fill(node, entry);
    this.#elements.set(entry.id, node);
    return node;
  }

  /** The oldest entries on the page go first, wherever they were put. */
  #trim() {
    while (this.#elements.size > MAX_ENTRIES) {
      const oldest = this.#container.firstElementChild;
      if (!(oldest instanceof HTMLElement)) break;
      oldest.remove();
      this.#elements.delete(Number(oldest.dataset['id']));
    }
  }

  /**
   * @param {HTMLElement} node
   * @param {LogEntry} entry
   */
  #fill(node, entry) {
    const time = document.createElement('time');
    time.className = 'entry-time';
    time.dateTime = entry.time.toISOString();
    // §10.1: a history entry's time is when it was said, which may be another day.
    time.title = entry.history === true || entry.caughtUp === true ? `said ${entry.time.toLocaleString()}` : entry.time.toLocaleString();
    time.textContent = formatClock(entry.time);
    const body = element('div', 'entry-body');
    body.append(...markOf(entry), ...bodyOf(entry));
    node.replaceChildren(time, body);
  }

  #isPinned() {
    const { scrollHeight, scrollTop, clientHeight } = this.#container;
    return scrollHeight - scrollTop - clientHeight <= PINNED_SLACK_PX;
  }
}
