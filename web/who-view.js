// @ts-check
// The list of who is online, `#who`: one `li` per client in order of arrival, its text the
// name and nothing else, with `data-addr` and `data-self`. Each name is a button that starts a
// private message. Updated in place, so a keyboard user's focus on a name survives others
// coming and going. Runs in the browser only.

import { hueOf } from './log-view.js';

/** @typedef {import('./session.js').Member} Member */

export class WhoView {
  #list;
  #counts;
  #onPick;
  /** @type {Map<string, HTMLLIElement>} */
  #items = new Map();

  /**
   * @param {HTMLUListElement} list
   * @param {readonly HTMLElement[]} counts elements that show how many are online
   * @param {(name: string) => void} onPick a name was chosen
   */
  constructor(list, counts, onPick) {
    this.#list = list;
    this.#counts = counts;
    this.#onPick = onPick;
  }

  /**
   * @param {readonly Member[]} members
   * @param {string | null} selfAddr
   */
  render(members, selfAddr) {
    const present = new Set(members.map((member) => member.addr));
    for (const [addr, item] of this.#items) {
      if (present.has(addr)) continue;
      item.remove();
      this.#items.delete(addr);
    }
    members.forEach((member, index) => {
      const item = this.#items.get(member.addr) ?? this.#create(member.addr);
      const button = /** @type {HTMLButtonElement} */ (item.firstElementChild);
      if (button.textContent !== member.name) {
        button.textContent = member.name;
        button.dataset['hue'] = String(hueOf(member.name));
      }
      const isSelf = member.addr === selfAddr;
      if (isSelf) item.dataset['self'] = 'true';
      else delete item.dataset['self'];
      button.title = isSelf ? `you (${member.addr})` : `${member.addr}: send a private message`;
      // Moved only when out of place: moving the focused element would drop its focus.
      const current = this.#list.children[index];
      if (current !== item) this.#list.insertBefore(item, current ?? null);
    });
    for (const count of this.#counts) count.textContent = String(members.length);
  }

  /** @param {string} addr */
  #create(addr) {
    const item = document.createElement('li');
    item.dataset['addr'] = addr;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'who-name';
    button.addEventListener('click', () => this.#onPick(button.textContent ?? ''));
    item.append(button);
    this.#items.set(addr, item);
    return item;
  }
}
