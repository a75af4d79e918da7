// Who is online: names, addresses and arrival order. Pure; owned by the primary thread alone,
// so no lock and no copy is needed (docs/ARCHITECTURE.md §2).

import { nameKey, type WhoEntry } from '../protocol/index.ts';

export interface Member extends WhoEntry {
  readonly id: number;
}

export class Presence {
  /** Insertion order is arrival order, which `who` lists (PROTOCOL.md §5.3); a rename keeps it. */
  readonly #byId = new Map<number, Member>();
  readonly #idByKey = new Map<string, number>();

  get size(): number {
    return this.#byId.size;
  }

  get(id: number): Member | undefined {
    return this.#byId.get(id);
  }

  /** The member who holds this name, ignoring case. */
  findByName(name: string): Member | undefined {
    const id = this.#idByKey.get(nameKey(name));
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** Adds a member under its address, which is unique while it is connected. */
  add(id: number, addr: string): Member {
    const member: Member = { id, addr, name: addr };
    this.#byId.set(id, member);
    this.#idByKey.set(nameKey(addr), id);
    return member;
  }

  remove(id: number): Member | undefined {
    const member = this.#byId.get(id);
    if (member === undefined) return undefined;
    this.#byId.delete(id);
    this.#idByKey.delete(nameKey(member.name));
    return member;
  }

  /**
   * Gives the member a new name unless someone else holds it (ignoring case). Returns the
   * member as it was before, or undefined when the name is taken.
   */
  rename(id: number, name: string): Member | undefined {
    const before = this.#byId.get(id);
    if (before === undefined) return undefined;
    const key = nameKey(name);
    const holder = this.#idByKey.get(key);
    if (holder !== undefined && holder !== id) return undefined;
    this.#idByKey.delete(nameKey(before.name));
    this.#idByKey.set(key, id);
    // Replacing the entry of an existing key keeps its place in the Map, so arrival order holds.
    this.#byId.set(id, { ...before, name });
    return before;
  }

  /** Members in order of arrival. */
  values(): IterableIterator<Member> {
    return this.#byId.values();
  }
}
