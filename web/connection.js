// @ts-check
// One WebSocket to chatd at a time, and when to open the next: back-off with jitter after a
// close nobody announced, none after an end the user or the server decided (PROTOCOL.md §6.2,
// §3.4 /quit), and with the session's resume token in the handshake when it has one (§10.5).
// DOM-free: the socket and the clock are passed in (app.js gives the browser's), so the tests
// drive it with fakes.

/** The first retry: a chatd restart takes about a second, so the first try is soon. */
export const RECONNECT_BASE_MS = 500;
/** The longest wait between tries: a server down for long is still found within half a minute. */
export const RECONNECT_MAX_MS = 30_000;
/** After `/quit` the server closes at once (§3.4); past this the page closes the socket itself. */
export const QUIT_CLOSE_GRACE_MS = 3_000;

/** PROTOCOL.md §9.1: the WebSocket endpoint, on the page's own origin. */
export const SOCKET_PATH = '/ws';

/**
 * Where a connection takes the session back from (§10.5): its token, and the position of the
 * last entry the page received (session.js keeps both).
 * @typedef {{ readonly token: string, readonly position: number }} ResumePoint
 */

/**
 * The path a connection opens (§9.1, §10.5): `/ws`, or `/ws?resume=TOKEN&position=N` to take
 * the session back in the handshake, so that the entries missed come first and none twice.
 * @param {ResumePoint | null} resume
 */
export function socketPath(resume) {
  if (resume === null) return SOCKET_PATH;
  const query = new URLSearchParams({ resume: resume.token, position: String(resume.position) });
  return `${SOCKET_PATH}?${query}`;
}

/** RFC 6455 §7.4.1, as chatd uses them. */
export const CLOSE_CODES = /** @type {const} */ ({
  normal: 1000,
  unsupportedData: 1003,
  messageTooBig: 1009,
});

/**
 * How long to wait before try number `attempt` (0 for the first retry): 0.5 s doubling up to
 * 30 s, of which a random half is waited ("equal jitter"), so that pages a restart dropped
 * together do not all come back in the same instant.
 * @param {number} attempt
 * @param {number} random in [0, 1)
 */
export function reconnectDelayMs(attempt, random) {
  const nominal = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
  return Math.round(nominal / 2 + (nominal / 2) * random);
}

/**
 * @typedef {object} SocketEvents
 * @property {() => void} onOpen
 * @property {(text: string) => void} onMessage
 * @property {(code: number) => void} onClose called once, also when the socket never opened
 *
 * @typedef {object} SocketLike
 * @property {(text: string) => void} send
 * @property {(code?: number) => void} close
 *
 * @typedef {object} ConnectionDependencies
 * @property {(events: SocketEvents, path: string) => SocketLike} openSocket `path` on the page's origin (socketPath)
 * @property {(callback: () => void, ms: number) => unknown} setTimer
 * @property {(handle: unknown) => void} clearTimer
 * @property {() => number} now milliseconds
 * @property {() => number} random in [0, 1)
 */

/**
 * Why the last connection ended: a reason a server line or `/quit` gave (session.js), or
 * `lost` when the socket closed without one. A try that never opened keeps the cause of the
 * connection before it (`wasOpen` false): "the server shut down" says more than "lost" while
 * the server restarts.
 * @typedef {{ readonly reason: import('./session.js').EndReason | 'lost', readonly code: number | null,
 *   readonly message: string | null, readonly wasOpen: boolean }} CloseCause
 *
 * @typedef {{ readonly state: 'connecting' }
 *   | { readonly state: 'online' }
 *   | { readonly state: 'reconnecting', readonly retryAt: number, readonly cause: CloseCause }
 *   | { readonly state: 'offline', readonly cause: CloseCause }} ConnectionState
 */

/**
 * @typedef {object} ConnectionCallbacks
 * @property {() => void} onOpen
 * @property {(text: string) => void} onMessage
 * @property {(state: ConnectionState) => void} onState
 * @property {(cause: CloseCause) => void} onClose after the socket is gone, before the new state
 * @property {() => ResumePoint | null} [resumePoint] asked as each socket is opened: the session to
 *   resume in its handshake, if any (session.js)
 */

export class Connection {
  #dependencies;
  #callbacks;
  /** @type {SocketLike | null} */
  #socket = null;
  /** @type {ConnectionState} */
  #state = { state: 'offline', cause: { reason: 'lost', code: null, message: null, wasOpen: false } };
  /** @type {CloseCause | null} */
  #lastCause = null;
  /** Whether the current socket has opened. */
  #isOpen = false;
  /** Tries since the last connection that logged in (markLoggedIn). */
  #attempt = 0;
  /** @type {unknown} */
  #timer = null;
  /** @type {{ reason: import('./session.js').EndReason, reconnect: boolean, message: string } | null} */
  #ending = null;

  /**
   * @param {ConnectionDependencies} dependencies
   * @param {ConnectionCallbacks} callbacks
   */
  constructor(dependencies, callbacks) {
    this.#dependencies = dependencies;
    this.#callbacks = callbacks;
  }

  get state() {
    return this.#state;
  }

  /** Opens a connection now: the first, or at once instead of waiting out a back-off. */
  connect() {
    if (this.#socket !== null) return;
    this.#cancelTimer();
    this.#ending = null;
    this.#isOpen = false;
    this.#setState({ state: 'connecting' });
    /** @type {SocketLike | null} */
    let socket = null;
    // Events for this socket only, and only once openSocket has returned it: a socket that
    // could not even be made reports its close from inside openSocket.
    /** @type {number | null} */
    let earlyCloseCode = null;
    const isCurrent = () => socket !== null && socket === this.#socket;
    /** @type {SocketEvents} */
    const events = {
      onOpen: () => {
        if (!isCurrent()) return;
        this.#isOpen = true;
        this.#setState({ state: 'online' });
        this.#callbacks.onOpen();
      },
      onMessage: (text) => {
        if (isCurrent()) this.#callbacks.onMessage(text);
      },
      onClose: (code) => {
        if (socket === null) earlyCloseCode = code;
        else if (isCurrent()) this.#closed(code);
      },
    };
    socket = this.#dependencies.openSocket(events, socketPath(this.#callbacks.resumePoint?.() ?? null));
    this.#socket = socket;
    if (earlyCloseCode !== null) this.#closed(earlyCloseCode);
  }

  /**
   * Sends one line, if online.
   * @param {string} line
   * @returns {boolean} whether it was sent
   */
  send(line) {
    if (this.#state.state !== 'online' || this.#socket === null) return false;
    this.#socket.send(line);
    return true;
  }

  /**
   * A line said that the server is about to close (§6.2), or the user sent `/quit`: when the
   * close comes, it is that end, and the page reconnects only if `reconnect`.
   * @param {import('./session.js').EndReason} reason
   * @param {boolean} reconnect
   * @param {string} message
   */
  expectEnd(reason, reconnect, message) {
    this.#ending = { reason, reconnect, message };
    if (reason !== 'quit') return;
    const socket = this.#socket;
    this.#cancelTimer();
    this.#timer = this.#dependencies.setTimer(() => {
      if (socket !== null && socket === this.#socket) socket.close(CLOSE_CODES.normal);
    }, QUIT_CLOSE_GRACE_MS);
  }

  /** The server greeted this connection (§5.2): it works, so the next loss starts the back-off anew. */
  markLoggedIn() {
    this.#attempt = 0;
  }

  /** @param {number | null} code */
  #closed(code) {
    this.#socket = null;
    this.#cancelTimer();
    const ending = this.#ending;
    this.#ending = null;
    const wasOpen = this.#isOpen;
    this.#isOpen = false;
    /** @type {CloseCause} */
    let cause =
      ending === null ? { reason: 'lost', code, message: null, wasOpen } : { reason: ending.reason, code, message: ending.message, wasOpen };
    if (!wasOpen && ending === null && this.#lastCause !== null) cause = { ...this.#lastCause, wasOpen: false };
    this.#lastCause = cause;
    this.#callbacks.onClose(cause);
    if (ending !== null && !ending.reconnect) {
      this.#setState({ state: 'offline', cause });
      return;
    }
    const delay = reconnectDelayMs(this.#attempt, this.#dependencies.random());
    this.#attempt++;
    this.#timer = this.#dependencies.setTimer(() => {
      this.#timer = null;
      this.connect();
    }, delay);
    this.#setState({ state: 'reconnecting', retryAt: this.#dependencies.now() + delay, cause });
  }

  #cancelTimer() {
    if (this.#timer === null) return;
    this.#dependencies.clearTimer(this.#timer);
    this.#timer = null;
  }

  /** @param {ConnectionState} state */
  #setState(state) {
    this.#state = state;
    this.#callbacks.onState(state);
  }
}
