// Who is online: names, addresses and arrival order. Pure; owned by the primary thread alone,
// so no lock and no copy is needed (docs/ARCHITECTURE.md §2).

import { nameKeys, type NameKeys, type WhoEntry } from '../protocol/index.ts';

export interface Member extends WhoEntry {
  readonly id: number;
}

export class Presence {
  /** Insertion order is arrival order, which `who` lists (PROTOCOL.md §5.3); a rename keeps it. */
  readonly #byId = new Map<number, Member>();
  /** Holders by each of a name's two keys (protocol/names.ts `NameKeys`). */
  readonly #idByFolded = new Map<string, number>();
  readonly #idBySkeleton = new Map<string, number>();
  /** Each member's keys, made once per name: a skeleton is not free to compute. */
  readonly #keysOf = new Map<number, NameKeys>();

  get size(): number {
    return this.#byId.size;
  }

  get(id: number): Member | undefined {
    return this.#byId.get(id);
  }

  /** The member who holds this name, or one that looks the same (PROTOCOL.md §4). */
  findByName(name: string): Member | undefined {
    const keys = nameKeys(name);
    const id = this.#idByFolded.get(keys.folded) ?? this.#idBySkeleton.get(keys.skeleton);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** Adds a member under its address, which is unique while it is connected. */
  add(id: number, addr: string): Member {
    const member: Member = { id, addr, name: addr };
    this.#byId.set(id, member);
    this.#hold(id, nameKeys(addr));
    return member;
  }

  remove(id: number): Member | undefined {
    const member = this.#byId.get(id);
    if (member === undefined) return undefined;
    this.#byId.delete(id);
    this.#release(id);
    return member;
  }

  /**
   * Gives the member a new name unless someone else holds it or one that looks the same (either
   * key). Returns the member as it was before, or undefined when the name is taken.
   */
  rename(id: number, name: string): Member | undefined {
    const before = this.#byId.get(id);
    if (before === undefined) return undefined;
    const keys = nameKeys(name);
    for (const holder of [this.#idByFolded.get(keys.folded), this.#idBySkeleton.get(keys.skeleton)]) {
      if (holder !== undefined && holder !== id) return undefined;
    }
    this.#release(id);
    this.#hold(id, keys);
    // Replacing the entry of an existing key keeps its place in the Map, so arrival order holds.
    this.#byId.set(id, { ...before, name });
    return before;
  }

  /** Members in order of arrival. */
  values(): IterableIterator<Member> {
    return this.#byId.values();
  }

  #hold(id: number, keys: NameKeys): void {
    this.#keysOf.set(id, keys);
    this.#idByFolded.set(keys.folded, id);
    this.#idBySkeleton.set(keys.skeleton, id);
  }

  #release(id: number): void {
    const keys = this.#keysOf.get(id);
    if (keys === undefined) return;
    this.#keysOf.delete(id);
    if (this.#idByFolded.get(keys.folded) === id) this.#idByFolded.delete(keys.folded);
    if (this.#idBySkeleton.get(keys.skeleton) === id) this.#idBySkeleton.delete(keys.skeleton);
  }
}
