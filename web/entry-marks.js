// @ts-check
// What an entry of the log says about itself beyond its text: the `data-*` attributes that
// log-view.js puts on its element (for the styles and for tests), and the mark of an entry of the
// chat's history (PROTOCOL.md §10). Pure and DOM-free, so Node tests it; log-view.js draws it.

/** @typedef {import('./session.js').LogEntry} LogEntry */

/**
 * How an entry of the chat's history says so in its text, so that screen readers say it too.
 * `isVisible: false` is read but not shown: the entries said before the page joined sit above
 * the live log in their own style, and fifty marks would only be noise.
 * @typedef {{ readonly text: string, readonly title: string | null, readonly isVisible: boolean }} EntryMark
 */

/** @type {EntryMark} */
const CAUGHT_UP = { text: 'caught up', title: 'said while you were away, and sent when you came back', isVisible: true };
/** @type {EntryMark} */
const EARLIER = { text: 'earlier', title: null, isVisible: false };

/**
 * An entry's element attributes, named as `dataset` names them (`caughtUp` is `data-caught-up`).
 * @param {LogEntry} entry
 * @returns {Record<string, string>}
 */
export function entryDataset(entry) {
  /** @type {Record<string, string>} */
  const dataset = { kind: entry.kind, id: String(entry.id) };
  if ('isSelf' in entry && entry.isSelf) dataset['self'] = 'true';
  if (entry.kind === 'private') dataset['direction'] = entry.direction;
  if (entry.kind === 'notice') dataset['topic'] = entry.topic;
  // §10.1, §10.2, §10.4
  if (entry.position !== undefined) dataset['position'] = String(entry.position);
  if (entry.history === true) dataset['history'] = 'true';
  if (entry.caughtUp === true) dataset['caughtUp'] = 'true';
  return dataset;
}

/**
 * @param {LogEntry} entry
 * @returns {EntryMark | null}
 */
export function entryMark(entry) {
  if (entry.caughtUp === true) return CAUGHT_UP;
  if (entry.history === true) return EARLIER;
  return null;
}
