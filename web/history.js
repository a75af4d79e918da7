// @ts-check
// The lines the user sent from this tab, recalled with the up and down arrows as a shell does:
// in memory only, gone with the tab. Pure and DOM-free.

/** Enough to go back over a conversation; an old line is quicker typed again than found. */
export const HISTORY_LIMIT = 100;

export class InputHistory {
  /** @type {string[]} */
  #lines = [];
  /** Index into #lines of the line shown, or #lines.length when it is the draft. */
  #cursor = 0;
  /** What the user was typing before the first step back, given back at the bottom. */
  #draft = '';
  #limit;

  constructor(limit = HISTORY_LIMIT) {
    this.#limit = limit;
  }

  /**
   * A line was sent: it is the newest, and the next step back starts from it. The same line
   * twice in a row is kept once.
   * @param {string} line
   */
  push(line) {
    if (line !== '' && this.#lines.at(-1) !== line) this.#lines.push(line);
    if (this.#lines.length > this.#limit) this.#lines.splice(0, this.#lines.length - this.#limit);
    this.#cursor = this.#lines.length;
    this.#draft = '';
  }

  /**
   * Up arrow: the line before the one shown, or null at the oldest.
   * @param {string} current what the input holds now
   * @returns {string | null}
   */
  previous(current) {
    if (this.#cursor === 0) return null;
    if (this.#cursor === this.#lines.length) this.#draft = current;
    this.#cursor--;
    return this.#lines[this.#cursor] ?? null;
  }

  /**
   * Down arrow: the line after the one shown, the draft after the newest, or null at the draft.
   * @returns {string | null}
   */
  next() {
    if (this.#cursor >= this.#lines.length) return null;
    this.#cursor++;
    return this.#cursor === this.#lines.length ? this.#draft : (this.#lines[this.#cursor] ?? null);
  }
}
