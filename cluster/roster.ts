// This node's copy of who is online across the cluster, in order of arrival, as of the last
// stream entry it has read (docs/CLUSTER.md §4). `who` is answered from it, so a client's list
// always matches the logins, renames and leaves that client has already been sent.
// Pure; the authority is Redis, and this copy is rebuilt from a snapshot and the stream alone.

import { nameKey, type WhoEntry } from '../protocol/index.ts';

export interface RosterMember extends WhoEntry {
  /** The client key, `NODE/CONNECTION-ID`. */
  readonly client: string;
}

export class Roster {
  /** Insertion order is arrival order; a rename keeps the place. */
  readonly #byClient = new Map<string, RosterMember>();
  readonly #clientByKey = new Map<string, string>();

  get size(): number {
    return this.#byClient.size;
  }

  get(client: string): RosterMember | undefined {
    return this.#byClient.get(client);
  }

  findByName(name: string): RosterMember | undefined {
    const client = this.#clientByKey.get(nameKey(name));
    return client === undefined ? undefined : this.#byClient.get(client);
  }

  /** Adds a member, or gives a known one its new name in its old place. */
  set(client: string, addr: string, name: string): void {
    const before = this.#byClient.get(client);
    if (before !== undefined) this.#clientByKey.delete(nameKey(before.name));
    this.#byClient.set(client, { client, addr, name });
    this.#clientByKey.set(nameKey(name), client);
  }

  remove(client: string): RosterMember | undefined {
    const member = this.#byClient.get(client);
    if (member === undefined) return undefined;
    this.#byClient.delete(client);
    if (this.#clientByKey.get(nameKey(member.name)) === client) this.#clientByKey.delete(nameKey(member.name));
    return member;
  }

  clear(): void {
    this.#byClient.clear();
    this.#clientByKey.clear();
  }

  values(): IterableIterator<RosterMember> {
    return this.#byClient.values();
  }
}
