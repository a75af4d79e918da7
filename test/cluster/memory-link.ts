// An in-memory Redis for the cluster room's unit tests. MemoryRedis carries out the Lua of
// cluster/scripts.ts in TypeScript (join, say, rename, msg, leave, announce, heartbeat with its
// trim, resync, snapshot, leaveNode: the same arguments, replies and entries, positions and the
// kept history; not the MAXLEN cap); test/cluster/scripts.test.ts checks the real Lua. Redis's
// clock is the shared ManualClock. A MemoryLink per node is its ClusterLink.

import { ClusterError, type ClusterLink, type LinkListener, type RawEntry } from '../../cluster/cluster-link.ts';
import type { ScriptName } from '../../cluster/scripts.ts';
import {
  flattenEntry,
  RESYNC_WHY,
  TIMEOUT_WHY,
  type EntryFields,
  type EntryKind,
  type HistoryEntryKind,
  type LogoutReason,
} from '../../cluster/stream-fields.ts';
import { compareStreamIds, STREAM_START, type StreamId } from '../../cluster/stream-id.ts';
import type { ManualClock } from './manual-clock.ts';

/** What the `client` hash holds for a client (its JSON's a, n, k, s in scripts.ts). */
interface Member {
  readonly addr: string;
  readonly name: string;
  /** The keys it holds in `names` and `looks`. */
  readonly folded: string;
  readonly skeleton: string;
}

type Reply = readonly unknown[];

/** A script's ARGV after the prelude's two (prefix, MAXLEN), taken in order as the Lua names them. */
class Arguments {
  readonly #script: ScriptName;
  readonly #values: readonly (string | number)[];
  #index = 0;

  constructor(script: ScriptName, values: readonly (string | number)[]) {
    this.#script = script;
    this.#values = values;
  }

  get hasMore(): boolean {
    return this.#index < this.#values.length;
  }

  /** The next one, as Redis hands it to Lua: a string. A missing one is the caller's bug. */
  readonly next = (): string => {
    const value = this.#values[this.#index++];
    if (value === undefined) throw new Error(`the ${this.#script} script was given no argument ${this.#index}`);
    return String(value);
  };
}

export class MemoryRedis {
  readonly clock: ManualClock;
  /** `log`; its entries are trimmed from the front only, so it stays in id order. */
  readonly #stream: RawEntry[] = [];
  /** `last`, which also gives the next id its time and sequence (XADD `*`). */
  #last: StreamId = STREAM_START;
  /**
   * `client` and `who` in one: a client enters only when it is not there (join and resync check
   * first) and leaves only with `drop`, so insertion order is the order of arrival.
   */
  readonly #members = new Map<string, Member>();
  readonly #names = new Map<string, string>();
  readonly #looks = new Map<string, string>();
  readonly #nodes = new Set<string>();
  /** `node:ID`: the read cursor, and when the key expires (PX). */
  readonly #heartbeats = new Map<string, { readonly cursor: StreamId; readonly expiresAt: number }>();
  /** `clients:ID`. */
  readonly #clientsOf = new Map<string, Set<string>>();
  /** `position`: the newest history position counted. */
  #position = 0;
  /** `history`: the kept history entries, oldest first, as the JSON the Lua keeps. */
  #history: string[] = [];
  readonly #onAppend = new Set<() => void>();
  /** Entries appended since the start: a script that appended wakes the readers. */
  #appended = 0;

  constructor(clock: ManualClock) {
    this.clock = clock;
  }

  /** Runs one script to its end, as Redis does: nothing else happens in between. */
  run(script: ScriptName, args: readonly (string | number)[]): Reply {
    const appended = this.#appended;
    const reply = this.#scripts[script](new Arguments(script, args));
    // A reader waiting is woken once, with everything the script appended.
    if (this.#appended !== appended) for (const wake of this.#onAppend) wake();
    return reply;
  }

  /** XREAD's answer: the entries after `after`, at most `count`. */
  entriesAfter(after: StreamId, count: number): RawEntry[] {
    return this.#stream.filter(([id]) => compareStreamIds(id, after) > 0).slice(0, count);
  }

  /** Calls `wake` after every script that appended entries. */
  onAppend(wake: () => void): void {
    this.#onAppend.add(wake);
  }

  /** Who holds presence, in order of arrival, as `client` JSON would read: for assertions. */
  get online(): { readonly client: string; readonly name: string }[] {
    return [...this.#members].map(([client, { name }]) => ({ client, name }));
  }

  /** Each script by its name in scripts.ts; a script added there does not compile here until it is here. */
  readonly #scripts: { readonly [S in ScriptName]: (args: Arguments) => Reply } = {
    join: ({ next }) => {
      const [node, seq, client, addr, name, folded, skeleton] = [next(), next(), next(), next(), next(), next(), next()];
      if (this.#members.has(client)) return ['dup', this.#last];
      const claimed = this.#claim(client, addr, name, folded, skeleton);
      return ['ok', this.#append('login', { node, seq, client, addr, name: claimed }), claimed];
    },
    say: ({ next }) => {
      const [node, seq, keep, client, text] = [next(), next(), Number(next()), next(), next()];
      const member = this.#members.get(client);
      if (member === undefined) return ['gone', this.#last];
      return ['ok', this.#appendKept(keep, 'chat', { node, seq, client, addr: member.addr, name: member.name, text })];
    },
    rename: ({ next }) => {
      const [node, seq, keep, client, name, folded, skeleton] = [next(), next(), Number(next()), next(), next(), next(), next()];
      const member = this.#members.get(client);
      if (member === undefined) return ['gone', this.#last];
      if (member.name === name) return ['same', this.#last];
      if (this.#isTaken(client, folded, skeleton)) return ['taken', this.#last];
      this.#release(client, member);
      this.#setMember(client, { addr: member.addr, name, folded, skeleton });
      return ['ok', this.#appendKept(keep, 'rename', { node, seq, client, addr: member.addr, name: member.name, text: name })];
    },
    msg: ({ next }) => {
      const [node, seq, client, folded, skeleton, text] = [next(), next(), next(), next(), next(), next()];
      const member = this.#members.get(client);
      if (member === undefined) return ['gone', this.#last];
      const to = this.#names.get(folded) ?? this.#looks.get(skeleton);
      if (to === undefined) return ['nouser', this.#last];
      return ['ok', this.#append('private', { node, seq, client, addr: member.addr, name: member.name, to, text })];
    },
    leave: ({ next }) => {
      const [node, seq, client, why] = [next(), next(), next(), next()];
      const member = this.#drop(client);
      if (member === undefined) return ['gone', this.#last];
      const entry = { node, seq, client, addr: member.addr, name: member.name, why };
      return ['ok', why === TIMEOUT_WHY ? this.#append('timeout', entry) : this.#append('logout', entry)];
    },
    announce: ({ next }) => {
      const [node, seq, keep, text] = [next(), next(), Number(next()), next()];
      return ['ok', this.#appendKept(keep, 'announce', { node, seq, text }), this.#members.size];
    },
    heartbeat: ({ next }) => {
      const [node, ttl, cursor, retention] = [next(), Number(next()), next(), Number(next())];
      // SET … XX: only a node that still has its key renews it.
      if (!this.#hasHeartbeat(node)) return ['lost'];
      this.#heartbeats.set(node, { cursor, expiresAt: this.clock.now + ttl });
      let lowest = Infinity;
      for (const other of [...this.#nodes]) {
        const seen = this.#heartbeats.get(other);
        if (seen === undefined || !this.#hasHeartbeat(other)) this.#dropNode(other, 'node-lost');
        else lowest = Math.min(lowest, millisecondsOf(seen.cursor));
      }
      // XTRIM MINID: what no live node still needs and what is older than the retention.
      const oldest = Math.min(lowest, this.clock.now - retention);
      while (this.#stream.length > 0 && millisecondsOf(this.#stream[0]![0]) < oldest) this.#stream.shift();
      return ['ok'];
    },
    resync: (args) => {
      const { next } = args;
      const [node, ttl, cursor, seq, latest] = [next(), Number(next()), next(), next(), Number(next())];
      // Then client, addr, name, folded key, skeleton key for every client the node owns.
      const owned: [string, string, string, string, string][] = [];
      while (args.hasMore) owned.push([next(), next(), next(), next(), next()]);
      this.#heartbeats.set(node, { cursor, expiresAt: this.clock.now + ttl });
      this.#nodes.add(node);
      this.#position = Math.max(this.#position, latest);
      const isOwned = new Set(owned.map(([client]) => client));
      for (const client of [...(this.#clientsOf.get(node) ?? [])]) {
        if (isOwned.has(client)) continue;
        const member = this.#drop(client);
        if (member !== undefined) this.#append('logout', { node, client, addr: member.addr, name: member.name, why: 'left' });
      }
      for (const [client, addr, name, folded, skeleton] of owned) {
        if (this.#members.has(client)) continue;
        const claimed = this.#claim(client, addr, name, folded, skeleton);
        this.#append('login', { node, seq, client, addr, name: claimed, why: RESYNC_WHY });
      }
      return ['ok', this.#last];
    },
    snapshot: ({ next }) => {
      const wanted = Math.max(Number(next()), 1);
      return [this.#last, [...this.#members].flatMap(([client, { addr, name }]) => [client, addr, name]), this.#history.slice(-wanted)];
    },
    leaveNode: ({ next }) => {
      this.#dropNode(next(), 'node-stopped');
      return ['ok'];
    },
  };

  /** XADD with `*` and SET last: the id is the clock's millisecond, or the last one's next sequence. */
  #append<K extends EntryKind>(kind: K, values: EntryFields<K>): StreamId {
    const [lastMs, lastSeq] = this.#last.split('-').map(Number) as [number, number];
    const id = this.clock.now > lastMs ? `${this.clock.now}-0` : `${lastMs}-${lastSeq + 1}`;
    this.#stream.push([id, flattenEntry(kind, values)]);
    this.#last = id;
    this.#appended++;
    return id;
  }

  /** `keepHistory`: the next position, the entry, and the entry kept in `history`, the last `keep` (at least 1) of them. */
  #appendKept<K extends HistoryEntryKind>(keep: number, kind: K, values: Omit<EntryFields<K>, 'position'>): StreamId {
    const position = String(++this.#position);
    const fields = { ...values, position } as EntryFields<K>;
    const id = this.#append(kind, fields);
    this.#history.push(JSON.stringify([id, ...flattenEntry(kind, fields)]));
    this.#history = this.#history.slice(-Math.max(keep, 1));
    return id;
  }

  /** The kept history, parsed: for assertions. */
  get keptHistory(): readonly string[] {
    return this.#history;
  }

  #hasHeartbeat(node: string): boolean {
    const heartbeat = this.#heartbeats.get(node);
    return heartbeat !== undefined && this.clock.now < heartbeat.expiresAt;
  }

  /** `taken`: someone other than `client` holds either key. */
  #isTaken(client: string, folded: string, skeleton: string): boolean {
    const byName = this.#names.get(folded);
    const byLook = this.#looks.get(skeleton);
    return (byName !== undefined && byName !== client) || (byLook !== undefined && byLook !== client);
  }

  /** `claim`: the name, or when it is taken the address, then ADDR~2, ADDR~3… keyed in lower case. */
  #claim(client: string, addr: string, name: string, folded: string, skeleton: string): string {
    if (this.#isTaken(client, folded, skeleton)) {
      name = addr;
      folded = addr.toLowerCase();
      for (let n = 2; this.#isTaken(client, folded, folded); n++) {
        name = `${addr}~${n}`;
        folded = name.toLowerCase();
      }
      skeleton = folded;
    }
    this.#setMember(client, { addr, name, folded, skeleton });
    const owned = this.#clientsOf.get(nodeOf(client)) ?? new Set<string>();
    this.#clientsOf.set(nodeOf(client), owned.add(client));
    return name;
  }

  /** HSET of `names`, `looks` and `client`; a new client goes to the end of `who`. */
  #setMember(client: string, member: Member): void {
    this.#names.set(member.folded, client);
    this.#looks.set(member.skeleton, client);
    this.#members.set(client, member);
  }

  /** Lets go of a member's keys, each only if it is still theirs. */
  #release(client: string, member: Member): void {
    if (this.#names.get(member.folded) === client) this.#names.delete(member.folded);
    if (this.#looks.get(member.skeleton) === client) this.#looks.delete(member.skeleton);
  }

  /** `drop`: out of presence; what it was, or undefined when it was not there. */
  #drop(client: string): Member | undefined {
    const member = this.#members.get(client);
    if (member === undefined) return undefined;
    this.#release(client, member);
    this.#members.delete(client);
    this.#clientsOf.get(nodeOf(client))?.delete(client);
    return member;
  }

  /** `dropNode`: a logout for each client the node owned, then the node is forgotten. */
  #dropNode(node: string, why: LogoutReason): void {
    for (const client of [...(this.#clientsOf.get(node) ?? [])]) {
      const member = this.#drop(client);
      if (member !== undefined) this.#append('logout', { node, client, addr: member.addr, name: member.name, why });
    }
    this.#clientsOf.delete(node);
    this.#heartbeats.delete(node);
    this.#nodes.delete(node);
  }
}

function nodeOf(client: string): string {
  return client.slice(0, client.indexOf('/'));
}

function millisecondsOf(id: StreamId): number {
  return Number(id.slice(0, id.indexOf('-')));
}

interface WaitingRead {
  readonly after: StreamId;
  readonly count: number;
  readonly resolve: (entries: RawEntry[]) => void;
  readonly reject: (error: Error) => void;
  readonly cancelBlock: () => void;
}

/**
 * One node's link to a MemoryRedis, keeping ClusterLink's contract (cluster/cluster-link.ts):
 * 1. down, `run` and `read` fail at once, and `down()` fails what is in flight, after onDown;
 * 2. a script runs whole when it is sent, so scripts run in the order they were sent;
 * 3. `hold()` is a Redis that has run the scripts but answers late on one connection or both
 *    (RedisLink has one for the scripts, one for the reads): what it holds waits until
 *    `release()`, or fails if the link goes down first; the link comes back unheld.
 */
export class MemoryLink implements ClusterLink {
  readonly displayUrl = 'memory://';
  readonly #redis: MemoryRedis;
  #listener: LinkListener | undefined;
  #isUp = false;
  #isClosed = false;
  #areRepliesHeld = false;
  #areReadsHeld = false;
  readonly #heldReplies: { readonly answer: () => void; readonly fail: (error: Error) => void }[] = [];
  readonly #reads = new Set<WaitingRead>();

  constructor(redis: MemoryRedis) {
    this.#redis = redis;
    redis.onAppend(() => this.#answerReads());
  }

  get isUp(): boolean {
    return this.#isUp;
  }

  /** As RedisLink: the first connect is not an `onUp`; only a link that comes back is. */
  async connect(listener: LinkListener): Promise<void> {
    if (this.#isClosed) throw new ClusterError('this memory link was closed');
    this.#listener = listener;
    this.#isUp = true;
  }

  run(script: ScriptName, args: readonly (string | number)[]): Promise<unknown> {
    if (!this.#isUp) return Promise.reject(new Error(`${script}: the link is down`));
    const reply = this.#redis.run(script, args);
    if (!this.#areRepliesHeld) return Promise.resolve(reply);
    return new Promise((resolve, reject) => this.#heldReplies.push({ answer: () => resolve(reply), fail: reject }));
  }

  read(after: StreamId, count: number, blockMs: number): Promise<RawEntry[]> {
    if (!this.#isUp) return Promise.reject(new Error('read: the link is down'));
    return new Promise((resolve, reject) => {
      const read: WaitingRead = {
        after,
        count,
        resolve,
        reject,
        cancelBlock: this.#redis.clock.after(blockMs, () => {
          this.#reads.delete(read);
          resolve([]);
        }),
      };
      this.#reads.add(read);
      this.#answerReads();
    });
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    this.#isUp = false;
    this.#failInFlight(new Error('the link was closed'));
  }

  /** The link drops: onDown first, then every command and read in flight fails; a hold ends with it. */
  down(): void {
    if (!this.#isUp) return;
    this.#isUp = false;
    this.#areRepliesHeld = this.#areReadsHeld = false;
    this.#listener?.onDown();
    this.#failInFlight(new Error('the link went down'));
  }

  up(): void {
    if (this.#isUp || this.#isClosed) return;
    this.#isUp = true;
    this.#listener?.onUp();
  }

  /** `scripts`: the scripts' replies wait; `reads`: the stream reads do; `both` (the default). */
  hold(connection: 'both' | 'scripts' | 'reads' = 'both'): void {
    if (connection !== 'reads') this.#areRepliesHeld = true;
    if (connection !== 'scripts') this.#areReadsHeld = true;
  }

  /** Answers what was held, in the order it was sent: the replies, then the reads. */
  release(): void {
    this.#areRepliesHeld = this.#areReadsHeld = false;
    for (const { answer } of this.#heldReplies.splice(0)) answer();
    this.#answerReads();
  }

  #answerReads(): void {
    if (this.#areReadsHeld) return;
    for (const read of [...this.#reads]) {
      const entries = this.#redis.entriesAfter(read.after, read.count);
      if (entries.length === 0) continue;
      this.#reads.delete(read);
      read.cancelBlock();
      read.resolve(entries);
    }
  }

  #failInFlight(error: Error): void {
    for (const { fail } of this.#heldReplies.splice(0)) fail(error);
    for (const read of [...this.#reads]) {
      this.#reads.delete(read);
      read.cancelBlock();
      read.reject(error);
    }
  }
}
