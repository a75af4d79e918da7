// This node's copy of who is online across the cluster, in order of arrival, as of the last
// stream entry it has read (docs/CLUSTER.md §4). `who` is answered from it, so a client's list
// always matches the logins, renames and leaves that client has already been sent.
// Pure; the authority is Redis, and this copy is rebuilt from a snapshot and the stream alone.

import { nameKeys, type NameKeys, type WhoEntry } from '../protocol/index.ts';

export interface RosterMember extends WhoEntry {
  /** The client key, `NODE/CONNECTION-ID`. */
  readonly client: string;
}

export class Roster {
  /** Insertion order is arrival order; a rename keeps the place. */
  readonly #byClient = new Map<string, RosterMember>();
  /** Holders by each of a name's two keys (protocol/names.ts `NameKeys`), as Redis keeps them. */
  readonly #clientByFolded = new Map<string, string>();
  readonly #clientBySkeleton = new Map<string, string>();
  /** Each member's keys, made once per name: a skeleton is not free to compute. */
  readonly #keysOf = new Map<string, NameKeys>();

  get size(): number {
    return this.#byClient.size;
  }

  get(client: string): RosterMember | undefined {
    return this.#byClient.get(client);
  }

  /** The member who holds this name, or one that looks the same (PROTOCOL.md §4). */
  findByName(name: string): RosterMember | undefined {
    const keys = nameKeys(name);
    const client = this.#clientByFolded.get(keys.folded) ?? this.#clientBySkeleton.get(keys.skeleton);
    return client === undefined ? undefined : this.#byClient.get(client);
  }

  /** Adds a member, or gives a known one its new name in its old place. */
  set(client: string, addr: string, name: string): void {
    const before = this.#byClient.get(client);
    // fast path: a login this node has already shown (a resync) changes nothing.
    if (before !== undefined && before.addr === addr && before.name === name) return;
    if (before !== undefined) this.#release(client);
    this.#byClient.set(client, { client, addr, name });
    const keys = nameKeys(name);
    this.#keysOf.set(client, keys);
    this.#clientByFolded.set(keys.folded, client);
    this.#clientBySkeleton.set(keys.skeleton, client);
  }

  remove(client: string): RosterMember | undefined {
    const member = this.#byClient.get(client);
    if (member === undefined) return undefined;
    this.#byClient.delete(client);
    this.#release(client);
    return member;
  }

  values(): IterableIterator<RosterMember> {
    return this.#byClient.values();
  }

  #release(client: string): void {
    const keys = this.#keysOf.get(client);
    if (keys === undefined) return;
    this.#keysOf.delete(client);
    if (this.#clientByFolded.get(keys.folded) === client) this.#clientByFolded.delete(keys.folded);
    if (this.#clientBySkeleton.get(keys.skeleton) === client) this.#clientBySkeleton.delete(keys.skeleton);
  }
}
