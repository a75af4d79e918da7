// @ts-check
// The connection's state on the screen: `#status` (connecting, online, reconnecting in N s,
// offline) with `data-state`, a sentence on why in `#status-detail`, the reconnect button, and
// one announcement per change for screen readers (the countdown itself is not announced).
// Runs in the browser only.

/**
 * @typedef {import('./connection.js').ConnectionState} ConnectionState
 * @typedef {import('./connection.js').CloseCause} CloseCause
 */

/** The countdown is redrawn this often, so its whole seconds change on time. */
const COUNTDOWN_REFRESH_MS = 250;

/**
 * Why the last connection ended, in a sentence.
 * @param {CloseCause} cause
 */
export function describeCause(cause) {
  switch (cause.reason) {
    case 'quit':
      return 'You left the chat.';
    case 'idle-timeout':
      return 'Disconnected: no line from you for too long.';
    case 'flooding':
      return 'Disconnected for sending lines too fast.';
    case 'too-many':
      return 'Too many connections from your address: close one.';
    case 'server-full':
      return 'The server is full.';
    case 'shutdown':
      return 'The server shut down.';
    case 'lost':
      return cause.code === 1009 ? 'The server closed the connection: a line was too long for it.' : 'The connection was lost.';
  }
}

/**
 * @typedef {object} StatusElements
 * @property {HTMLElement} root gets `data-connection`, for the styles
 * @property {HTMLElement} status
 * @property {HTMLElement} detail
 * @property {HTMLButtonElement} reconnect
 * @property {HTMLElement} announcer a `role="status"` element
 * @property {HTMLInputElement} input its placeholder says what Enter does
 */

export class StatusView {
  #elements;
  /** @type {ConnectionState | null} */
  #shown = null;
  /** @type {number | null} */
  #countdown = null;

  /** @param {StatusElements} elements */
  constructor(elements) {
    this.#elements = elements;
  }

  /** @param {ConnectionState} state */
  show(state) {
    const isNewKind = this.#shown?.state !== state.state;
    this.#shown = state;
    if (this.#countdown !== null) window.clearInterval(this.#countdown);
    this.#countdown = state.state === 'reconnecting' ? window.setInterval(() => this.#render(), COUNTDOWN_REFRESH_MS) : null;
    this.#render();
    if (isNewKind) this.#elements.announcer.textContent = this.#announcement(state);
  }

  #render() {
    const state = this.#shown;
    if (state === null) return;
    const { root, status, detail, reconnect, input } = this.#elements;
    root.dataset['connection'] = state.state;
    status.dataset['state'] = state.state;
    switch (state.state) {
      case 'connecting':
        status.textContent = 'connecting';
        detail.textContent = '';
        reconnect.hidden = true;
        input.placeholder = 'Connecting…';
        break;
      case 'online':
        status.textContent = 'online';
        detail.textContent = '';
        reconnect.hidden = true;
        input.placeholder = 'Message everyone, or /help';
        break;
      case 'reconnecting': {
        const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
        status.textContent = `reconnecting in ${seconds} s`;
        detail.textContent = describeCause(state.cause);
        reconnect.hidden = false;
        reconnect.textContent = 'Retry now';
        input.placeholder = 'Press Enter to retry now';
        break;
      }
      case 'offline':
        status.textContent = 'offline';
        detail.textContent = describeCause(state.cause);
        reconnect.hidden = false;
        reconnect.textContent = 'Reconnect';
        input.placeholder = 'Offline: press Enter to reconnect';
        break;
    }
  }

  /** @param {ConnectionState} state */
  #announcement(state) {
    switch (state.state) {
      case 'connecting':
        return 'Connecting';
      case 'online':
        return 'Online';
      case 'reconnecting':
        return `${describeCause(state.cause)} Reconnecting.`;
      case 'offline':
        return `${describeCause(state.cause)} Offline: press Enter to reconnect.`;
    }
  }
}
