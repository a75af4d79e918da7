// Who is online: names, addresses and arrival order, and the two keys that make a name taken
// (PROTOCOL.md §4). One registry for both rooms: the single node keys its members by connection
// id, a cluster node by client key (`NODE/ID`), as the stream names them (docs/CLUSTER.md §4).
// Pure; owned by the primary thread alone, so no lock and no copy is needed.

import { nameKeys, type NameKeys, type WhoEntry } from '../protocol/index.ts';

export interface Member<Client> extends WhoEntry {
  readonly client: Client;
}

export class NameRegistry<Client> {
  /** Insertion order is arrival order, which `who` lists (PROTOCOL.md §5.3); a rename keeps it. */
  readonly #byClient = new Map<Client, Member<Client>>();
  /** Holders by each of a name's two keys (protocol/names.ts `NameKeys`), as Redis keeps them too. */
  readonly #byFolded = new Map<string, Client>();
  readonly #bySkeleton = new Map<string, Client>();
  /** Each member's keys, made once per name: a skeleton is not free to compute. */
  readonly #keysOf = new Map<Client, NameKeys>();

  get size(): number {
    return this.#byClient.size;
  }

  get(client: Client): Member<Client> | undefined {
    return this.#byClient.get(client);
  }

  /** The member who holds this name, or one that looks the same. */
  findByName(name: string): Member<Client> | undefined {
    const keys = nameKeys(name);
    const client = this.#byFolded.get(keys.folded) ?? this.#bySkeleton.get(keys.skeleton);
    return client === undefined ? undefined : this.#byClient.get(client);
  }

  /**
   * Gives `client` the name unless someone else holds it or one that looks the same (either
   * key); a client not yet here is added. Returns false, changing nothing, when it is taken.
   */
  claim(client: Client, addr: string, name: string): boolean {
    const keys = nameKeys(name);
    for (const holder of [this.#byFolded.get(keys.folded), this.#bySkeleton.get(keys.skeleton)]) {
      if (holder !== undefined && holder !== client) return false;
    }
    this.#put(client, addr, name, keys);
    return true;
  }

  /**
   * Sets what the sequencer decided, without asking: a cluster node copies Redis, which has
   * already checked the name. A known member keeps its place.
   */
  set(client: Client, addr: string, name: string): void {
    const before = this.#byClient.get(client);
    // fast path: a login this node has already shown (a resync) changes nothing.
    if (before !== undefined && before.addr === addr && before.name === name) return;
    this.#put(client, addr, name, nameKeys(name));
  }

  remove(client: Client): Member<Client> | undefined {
    const member = this.#byClient.get(client);
    if (member === undefined) return undefined;
    this.#byClient.delete(client);
    this.#release(client);
    return member;
  }

  /** Members in order of arrival. */
  values(): IterableIterator<Member<Client>> {
    return this.#byClient.values();
  }

  #put(client: Client, addr: string, name: string, keys: NameKeys): void {
    this.#release(client);
    this.#keysOf.set(client, keys);
    this.#byFolded.set(keys.folded, client);
    this.#bySkeleton.set(keys.skeleton, client);
    // Replacing the entry of an existing key keeps its place in the Map, so arrival order holds.
    this.#byClient.set(client, { client, addr, name });
  }

  #release(client: Client): void {
    const keys = this.#keysOf.get(client);
    if (keys === undefined) return;
    this.#keysOf.delete(client);
    if (this.#byFolded.get(keys.folded) === client) this.#byFolded.delete(keys.folded);
    if (this.#bySkeleton.get(keys.skeleton) === client) this.#bySkeleton.delete(keys.skeleton);
  }
}
