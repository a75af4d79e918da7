// @ts-check
// The chat page's entry point: finds its elements, opens the WebSocket at /ws of the page's own
// origin (with the session to resume, after a drop), and carries out what session.js decides:
// log entries, the history above them, lines to send, the who list, the connection's end. Also the input (recall with the arrows), the who drawer on narrow
// screens, and the unread count in the tab's title. Runs in the browser only.

import { Connection } from './connection.js';
import { InputHistory } from './history.js';
import { LineSplitter } from './lines.js';
import { LogView } from './log-view.js';
import { ChatSession } from './session.js';
import { StatusView } from './status-view.js';
import { WhoView } from './who-view.js';

/**
 * @typedef {import('./session.js').Effect} Effect
 * @typedef {import('./connection.js').SocketEvents} SocketEvents
 * @typedef {import('./connection.js').SocketLike} SocketLike
 */

const TITLE = 'chatd';
/** The name chosen in this tab, kept over a reload of it (sessionStorage is per tab). */
const NAME_KEY = 'chatd.name';
const SOCKET_ORIGIN = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}`;

/**
 * @template {HTMLElement} Element
 * @param {string} id
 * @param {new () => Element} type
 * @returns {Element}
 */
function byId(id, type) {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`index.html has no #${id} of type ${type.name}`);
  return found;
}

const app = byId('app', HTMLElement);
const log = byId('log', HTMLElement);
const input = byId('input', HTMLInputElement);
const composer = byId('composer', HTMLFormElement);
const whoToggle = byId('who-toggle', HTMLButtonElement);
const whoPanel = byId('who-panel', HTMLElement);
const reconnectButton = byId('reconnect', HTMLButtonElement);

const logView = new LogView(log, byId('jump', HTMLButtonElement));
const whoView = new WhoView(byId('who', HTMLUListElement), [byId('who-count', HTMLElement), byId('who-toggle-count', HTMLElement)], (name) => {
  input.value = `/msg ${name} `;
  setWhoOpen(false);
  input.focus();
});
const statusView = new StatusView({
  root: app,
  status: byId('status', HTMLElement),
  detail: byId('status-detail', HTMLElement),
  reconnect: reconnectButton,
  announcer: byId('announcer', HTMLElement),
  input,
});
const session = new ChatSession({ chosenName: readStoredName() });
const splitter = new LineSplitter();
const history = new InputHistory();
let unread = 0;
let hasBeenOnline = false;

const connection = new Connection(
  {
    openSocket: openWebSocket,
    setTimer: (callback, ms) => window.setTimeout(callback, ms),
    clearTimer: (handle) => window.clearTimeout(typeof handle === 'number' ? handle : undefined),
    now: () => Date.now(),
    random: () => Math.random(),
  },
  {
    onOpen: () => {
      if (hasBeenOnline) run([session.note('reconnected')]);
      hasBeenOnline = true;
      run(session.opened());
    },
    onMessage: (text) => {
      /** @type {Effect[]} */
      const effects = [];
      for (const line of splitter.push(text)) effects.push(...session.receive(line));
      run(effects);
    },
    onClose: (cause) => {
      session.closed();
      splitter.reset();
      // Once per connection that was open: the tries that follow fail quietly, the status counts them.
      if (!cause.wasOpen) return;
      if (cause.reason === 'quit') run([session.note('you left the chat; press Enter to come back')]);
      else if (cause.reason === 'lost' && cause.code === 1009) {
        run([session.note('the server closed the connection: that line was longer than it takes')]);
      } else if (cause.reason === 'lost') run([session.note('connection lost')]);
    },
    onState: (state) => statusView.show(state),
    // Asked as each socket opens, with nothing received in between: session.opened() then reads
    // that connection as the resume it is, or not (PROTOCOL.md §10.5).
    resumePoint: () => session.resumePoint(),
  },
);

/**
 * A WebSocket behind the small interface connection.js asks for. Only text messages are read:
 * chatd sends nothing else (a binary one would be a server bug, and is not shown).
 * @param {SocketEvents} events
 * @param {string} path
 * @returns {SocketLike}
 */
function openWebSocket(events, path) {
  /** @type {WebSocket} */
  let socket;
  try {
    socket = new WebSocket(`${SOCKET_ORIGIN}${path}`);
  } catch (error) {
    // A URL the browser refuses (a page served from a file, say): as a close that never opened.
    // The path is not logged: it may hold the resume token.
    console.error('chatd: cannot open', SOCKET_ORIGIN, error);
    events.onClose(1006);
    return { send: () => {}, close: () => {} };
  }
  socket.addEventListener('open', () => events.onOpen());
  socket.addEventListener('message', (event) => {
    if (typeof event.data === 'string') events.onMessage(event.data);
  });
  socket.addEventListener('close', (event) => events.onClose(event.code));
  return {
    send: (text) => socket.send(text),
    close: (code) => socket.close(code),
  };
}

/**
 * Carries out session.js's effects, in order, and redraws the who list once for all of them.
 * @param {readonly Effect[]} effects
 */
function run(effects) {
  let isRosterChanged = false;
  for (const effect of effects) {
    switch (effect.type) {
      case 'add':
        logView.add(effect.entry);
        countUnread(effect.entry);
        break;
      case 'prepend':
        logView.prepend(effect.entries);
        break;
      case 'update':
        logView.update(effect.entry);
        break;
      case 'send':
        connection.send(effect.line);
        break;
      case 'roster':
        isRosterChanged = true;
        break;
      case 'logged-in':
        connection.markLoggedIn();
        isRosterChanged = true;
        break;
      case 'ending':
        connection.expectEnd(effect.reason, effect.reconnect, effect.message);
        break;
    }
  }
  if (isRosterChanged) whoView.render(session.members(), session.selfAddr);
  storeName(session.chosenName);
}

/** @param {import('./session.js').LogEntry} entry */
function countUnread(entry) {
  if (document.visibilityState !== 'hidden') return;
  const isForUser = (entry.kind === 'chat' && !entry.isSelf) || (entry.kind === 'private' && entry.direction === 'in');
  if (!isForUser) return;
  unread++;
  document.title = `(${unread}) ${TITLE}`;
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return;
  unread = 0;
  document.title = TITLE;
});

composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const { state } = connection.state;
  // Enter while offline or waiting to retry reconnects; what was typed stays in the input.
  if (state === 'offline' || state === 'reconnecting') {
    connection.connect();
    return;
  }
  if (state !== 'online') return;
  const typed = input.value;
  const effects = session.submit(typed);
  if (effects.length === 0) return;
  run(effects);
  if (effects.some((effect) => effect.type === 'send')) {
    history.push(typed);
    input.value = '';
  }
});

input.addEventListener('keydown', (event) => {
  if (event.isComposing || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
  const recalled = event.key === 'ArrowUp' ? history.previous(input.value) : history.next();
  if (recalled === null) return;
  event.preventDefault();
  input.value = recalled;
  input.setSelectionRange(recalled.length, recalled.length);
});

// Escape closes the who drawer of narrow screens, wherever the focus is.
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape' || app.dataset['whoOpen'] !== 'true') return;
  const wasInside = event.target instanceof Node && whoPanel.contains(event.target);
  setWhoOpen(false);
  if (wasInside) whoToggle.focus();
});

reconnectButton.addEventListener('click', () => {
  connection.connect();
  input.focus();
});

whoToggle.addEventListener('click', () => setWhoOpen(app.dataset['whoOpen'] !== 'true'));

/** @param {boolean} isOpen */
function setWhoOpen(isOpen) {
  app.dataset['whoOpen'] = String(isOpen);
  whoToggle.setAttribute('aria-expanded', String(isOpen));
}

// Back on the network: no need to wait out the back-off.
window.addEventListener('online', () => {
  if (connection.state.state === 'reconnecting') connection.connect();
});

/** @returns {string | null} */
function readStoredName() {
  try {
    return sessionStorage.getItem(NAME_KEY);
  } catch (error) {
    console.warn('chatd: sessionStorage is not available; a reload forgets the name', error);
    return null;
  }
}

/** @type {string | null} */
let storedName = session.chosenName;
/** @param {string | null} name */
function storeName(name) {
  if (name === storedName) return;
  storedName = name;
  try {
    if (name === null) sessionStorage.removeItem(NAME_KEY);
    else sessionStorage.setItem(NAME_KEY, name);
  } catch (error) {
    console.warn('chatd: cannot keep the name in sessionStorage', error);
  }
}

setWhoOpen(false);
input.focus();
connection.connect();
