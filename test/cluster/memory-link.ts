// An in-memory Redis for the cluster room's unit tests. MemoryRedis carries out the Lua of
// cluster/scripts.ts in TypeScript (join, say, rename, msg, leave, announce, heartbeat with its
// trim, resync, snapshot, leaveNode, token, resume: the same arguments, replies and entries,
// positions, the kept history and the sessions; not the MAXLEN cap); test/cluster/scripts.test.ts checks the real Lua. Redis's
// clock is the shared ManualClock. A MemoryLink per node is its ClusterLink.

import { ClusterError, type ClusterLink, type LinkListener, type RawEntry } from '../../cluster/cluster-link.ts';
import { HOLDS_CLEARED, type ScriptName } from '../../cluster/scripts.ts';
import {
  flattenEntry,
  RESUME_WHY,
  RESYNC_WHY,
  TIMEOUT_WHY,
  type EntryFields,
  type EntryKind,
  type HistoryEntryKind,
  type LogoutReason,
} from '../../cluster/stream-fields.ts';
import { compareStreamIds, STREAM_START, type StreamId } from '../../cluster/stream-id.ts';
import type { ManualClock } from './manual-clock.ts';

/** What the `client` hash holds for a client (its JSON's a, n, k, s, t in scripts.ts). */
interface Member {
  readonly addr: string;
  readonly name: string;
  /** The keys it holds in `names` and `looks`. */
  readonly folded: string;
  readonly skeleton: string;
  /** Its session id (`t`), once it asked for a token. */
  readonly session: string | null;
}

/** What `held` keeps for a dropped session: the name to give back ('' for none) and its keys. */
interface Hold {
  readonly name: string;
  readonly folded: string;
  readonly skeleton: string;
  /** `holds`: when its window ends (ms, the clock). */
  readonly endsAt: number;
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
  /** `names` and `looks`: a client key, or `#SID` for a name held for a session. */
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
  /** `sessions`: session id -> the client that has it. */
  readonly #sessions = new Map<string, string>();
  /** `held` and `holds` in one. */
  readonly #holds = new Map<string, Hold>();
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

  /** The kept history, as the JSON the Lua keeps: for assertions. */
  get keptHistory(): readonly string[] {
    return this.#history;
  }

  /** What `sessions`, `held` and `holds` keep, by session id: for assertions. */
  get sessionRecords(): { readonly online: number; readonly held: number } {
    return { online: this.#sessions.size, held: this.#holds.size };
  }

  /** The node's heartbeat key runs out now, as if its TTL had passed. */
  expireHeartbeat(node: string): void {
    this.#heartbeats.delete(node);
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
      this.#setMember(client, { ...member, name, folded, skeleton });
      return ['ok', this.#appendKept(keep, 'rename', { node, seq, client, addr: member.addr, name: member.name, text: name })];
    },
    msg: ({ next }) => {
      const [node, seq, client, folded, skeleton, text] = [next(), next(), next(), next(), next(), next()];
      const member = this.#members.get(client);
      if (member === undefined) return ['gone', this.#last];
      const to = clientOf(this.#names.get(folded)) ?? clientOf(this.#looks.get(skeleton));
      if (to === undefined) return ['nouser', this.#last];
      return ['ok', this.#append('private', { node, seq, client, addr: member.addr, name: member.name, to, text })];
    },
    leave: ({ next }) => {
      const [node, seq, client, why, holdMs] = [next(), next(), next(), next(), Number(next())];
      const member = this.#drop(client, holdMs);
      if (member === undefined) return ['gone', this.#last];
      const entry = { node, seq, client, addr: member.addr, name: member.name, why };
      return ['ok', why === TIMEOUT_WHY ? this.#append('timeout', entry) : this.#append('logout', entry)];
    },
    announce: ({ next }) => {
      const [node, seq, keep, text] = [next(), next(), Number(next()), next()];
      return ['ok', this.#appendKept(keep, 'announce', { node, seq, text }), this.#members.size];
    },
    heartbeat: ({ next }) => {
      const [node, ttl, cursor, retention, holdMs] = [next(), Number(next()), next(), Number(next()), Number(next())];
      // SET … XX: only a node that still has its key renews it.
      if (!this.#hasHeartbeat(node)) return ['lost'];
      this.#heartbeats.set(node, { cursor, expiresAt: this.clock.now + ttl });
      let lowest = Infinity;
      for (const other of [...this.#nodes]) {
        const seen = this.#heartbeats.get(other);
        if (seen === undefined || !this.#hasHeartbeat(other)) this.#dropNode(other, 'node-lost', holdMs);
        else lowest = Math.min(lowest, millisecondsOf(seen.cursor));
      }
      // XTRIM MINID: what no live node still needs and what is older than the retention.
      const oldest = Math.min(lowest, this.clock.now - retention);
      while (this.#stream.length > 0 && millisecondsOf(this.#stream[0]![0]) < oldest) this.#stream.shift();
      // Holds whose window has ended go, HOLDS_CLEARED at most, earliest first.
      const ended = [...this.#holds].filter(([, hold]) => hold.endsAt <= this.clock.now).sort(([, a], [, b]) => a.endsAt - b.endsAt);
      for (const [session] of ended.slice(0, HOLDS_CLEARED)) this.#unhold(session);
      return ['ok'];
    },
    resync: (args) => {
      const { next } = args;
      const [node, ttl, cursor, seq, latest] = [next(), Number(next()), next(), next(), Number(next())];
      // Then client, addr, name, folded key, skeleton key, session id or '' for every client the node owns.
      const owned: [string, string, string, string, string, string][] = [];
      while (args.hasMore) owned.push([next(), next(), next(), next(), next(), next()]);
      this.#heartbeats.set(node, { cursor, expiresAt: this.clock.now + ttl });
      this.#nodes.add(node);
      this.#position = Math.max(this.#position, latest);
      const isOwned = new Set(owned.map(([client]) => client));
      for (const client of [...(this.#clientsOf.get(node) ?? [])]) {
        if (isOwned.has(client)) continue;
        const member = this.#drop(client, 0);
        if (member !== undefined) this.#append('logout', { node, client, addr: member.addr, name: member.name, why: 'left' });
      }
      const lost: string[] = [];
      for (const [client, addr, name, folded, skeleton, given] of owned) {
        if (this.#members.has(client)) continue;
        let session: string | null = given === '' ? null : given;
        let mine: string | undefined;
        if (session !== null && this.#isHeld(session)) {
          mine = `#${session}`;
          this.#holds.delete(session);
        } else if (session !== null && this.#sessions.get(session) !== client) {
          session = null;
          lost.push(client);
        }
        const claimed = this.#claim(client, addr, name, folded, skeleton, mine, session);
        if (session !== null) this.#sessions.set(session, client);
        this.#append('login', { node, seq, client, addr, name: claimed, why: RESYNC_WHY });
      }
      return ['ok', this.#last, ...lost];
    },
    snapshot: ({ next }) => {
      const wanted = Math.max(Number(next()), 1);
      return [this.#last, [...this.#members].flatMap(([client, { addr, name }]) => [client, addr, name]), this.#history.slice(-wanted)];
    },
    leaveNode: ({ next }) => {
      const [node, holdMs] = [next(), Number(next())];
      this.#dropNode(node, 'node-stopped', holdMs);
      return ['ok'];
    },
    token: ({ next }) => {
      const [, , client, session] = [next(), next(), next(), next()];
      const member = this.#members.get(client);
      if (member === undefined) return ['gone', this.#last];
      if (member.session !== null && member.session !== session) this.#sessions.delete(member.session);
      this.#members.set(client, { ...member, session });
      this.#sessions.set(session, client);
      return ['ok', this.#last];
    },
    resume: ({ next }) => {
      const [node, seq, client, addr, addrFolded, addrSkeleton, session, fresh, position, joins] = [
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        next(),
        Number(next()),
        next(),
      ];
      const member = this.#members.get(client);
      if (member === undefined && joins !== '1') return ['gone', this.#last];
      const refuse = (status: string, ...newest: number[]): Reply => {
        if (member !== undefined) return [status, this.#last, ...newest];
        const name = this.#claim(client, addr, addr, addrFolded, addrSkeleton);
        return [status, this.#append('login', { node, seq, client, addr, name }), ...newest];
      };
      const online = this.#sessions.get(session);
      if (online === undefined && !this.#isHeld(session)) return refuse('refused');
      if (position > this.#position) return refuse('ahead', this.#position);
      // The name to give back: held with the session, or still its old connection's.
      let back: { name: string; folded: string; skeleton: string } | undefined;
      if (online !== undefined) {
        this.#sessions.delete(session);
        const old = online === client ? undefined : this.#drop(online, 0);
        if (old !== undefined) {
          this.#append('logout', { node, seq, client: online, addr: old.addr, name: old.name, why: 'left' });
          if (old.name !== old.addr) back = old;
        }
      } else {
        const hold = this.#unhold(session);
        if (hold !== undefined && hold.name !== '') back = hold;
      }
      let name: string;
      if (member !== undefined) {
        if (member.session !== null) this.#sessions.delete(member.session);
        let renamed = member;
        if (back !== undefined && back.name !== member.name && !this.#isTaken(client, back.folded, back.skeleton)) {
          this.#release(client, member);
          renamed = { ...member, name: back.name, folded: back.folded, skeleton: back.skeleton };
        }
        this.#setMember(client, { ...renamed, session: fresh });
        name = renamed.name;
      } else {
        name = this.#claim(client, addr, back?.name ?? addr, back?.folded ?? addrFolded, back?.skeleton ?? addrSkeleton, undefined, fresh);
      }
      this.#sessions.set(fresh, client);
      return ['ok', this.#append('login', { node, seq, client, addr, name, why: RESUME_WHY }), name];
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

  #hasHeartbeat(node: string): boolean {
    const heartbeat = this.#heartbeats.get(node);
    return heartbeat !== undefined && this.clock.now < heartbeat.expiresAt;
  }

  /** `isHeld`: the session is held and its window has not ended. */
  #isHeld(session: string): boolean {
    const hold = this.#holds.get(session);
    return hold !== undefined && hold.endsAt > this.clock.now;
  }

  /** `holderOf`: a client key, a held session's `#SID`, or undefined when nobody holds the key. */
  #holderOf(holder: string | undefined): string | undefined {
    if (holder?.startsWith('#') === true && !this.#isHeld(holder.slice(1))) return undefined;
    return holder;
  }

  /** `taken`: someone other than `client` (or its own held session `mine`) holds either key. */
  #isTaken(client: string, folded: string, skeleton: string, mine?: string): boolean {
    const byName = this.#holderOf(this.#names.get(folded));
    const byLook = this.#holderOf(this.#looks.get(skeleton));
    const isOther = (holder: string | undefined): boolean => holder !== undefined && holder !== client && holder !== mine;
    return isOther(byName) || isOther(byLook);
  }

  /** `claim`: the name, or when it is taken the address, then ADDR~2, ADDR~3… keyed in lower case. */
  #claim(client: string, addr: string, name: string, folded: string, skeleton: string, mine?: string, session: string | null = null): string {
    if (this.#isTaken(client, folded, skeleton, mine)) {
      name = addr;
      folded = addr.toLowerCase();
      for (let n = 2; this.#isTaken(client, folded, folded); n++) {
        name = `${addr}~${n}`;
        folded = name.toLowerCase();
      }
      skeleton = folded;
    }
    this.#setMember(client, { addr, name, folded, skeleton, session });
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

  /** `release` of both keys, each only if it is still theirs; `held` (a session's `#SID`) holds them instead when given. */
  #release(client: string, member: Member, held?: string): void {
    for (const [keys, key] of [
      [this.#names, member.folded],
      [this.#looks, member.skeleton],
    ] as const) {
      if (keys.get(key) !== client) continue;
      if (held === undefined) keys.delete(key);
      else keys.set(key, held);
    }
  }

  /** `drop`: out of presence, its session held for `holdMs` (0: ended); what it was, or undefined when it was not there. */
  #drop(client: string, holdMs: number): Member | undefined {
    const member = this.#members.get(client);
    if (member === undefined) return undefined;
    let held: string | undefined;
    if (member.session !== null) {
      this.#sessions.delete(member.session);
      if (holdMs > 0) {
        const hasName = member.name !== member.addr;
        if (hasName) held = `#${member.session}`;
        const hold = { name: hasName ? member.name : '', folded: member.folded, skeleton: member.skeleton, endsAt: this.clock.now + holdMs };
        this.#holds.set(member.session, hold);
      }
    }
    this.#release(client, member, held);
    this.#members.delete(client);
    this.#clientsOf.get(nodeOf(client))?.delete(client);
    return member;
  }

  /** `unhold`: the hold ends; its name's keys are let go unless someone took them since. */
  #unhold(session: string): Hold | undefined {
    const hold = this.#holds.get(session);
    this.#holds.delete(session);
    if (hold === undefined) return undefined;
    if (this.#names.get(hold.folded) === `#${session}`) this.#names.delete(hold.folded);
    if (this.#looks.get(hold.skeleton) === `#${session}`) this.#looks.delete(hold.skeleton);
    return hold;
  }

  /** `dropNode`: a logout for each client the node owned, their sessions held, then the node is forgotten. */
  #dropNode(node: string, why: LogoutReason, holdMs: number): void {
    for (const client of [...(this.#clientsOf.get(node) ?? [])]) {
      const member = this.#drop(client, holdMs);
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

/** `clientOf`: a client key, never a held session's `#SID`. */
function clientOf(holder: string | undefined): string | undefined {
  return holder?.startsWith('#') === true ? undefined : holder;
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
