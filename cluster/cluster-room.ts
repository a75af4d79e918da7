// The chat of a node that shares it with other nodes through Redis (docs/CLUSTER.md). It takes
// ChatRoom's place in the primary thread: the same events from the workers, the same Delivery
// calls out. What differs is who decides: every change goes to Redis as a script, lands in one
// stream in one global order, and each node delivers the stream to its own clients as it reads
// it. Idle timeouts and per-node limits stay here, with the sockets. When the link to Redis is
// down, the node carries on alone for its own clients and catches up once it is back (§6).

import { randomBytes } from 'node:crypto';
import {
  clusterUnavailable,
  encodeAnnouncement,
  encodeChat,
  encodeError,
  encodeGreeting,
  encodeLogin,
  encodeLogout,
  encodeMsgOk,
  encodePrivate,
  encodeRenamed,
  encodeRenameOk,
  encodeTimedOut,
  encodeWho,
  idleTimeout,
  nameKeys,
  nameTaken,
  noSuchUser,
  type Command,
  type ProtocolError,
  type WhoEntry,
} from '../protocol/index.ts';
import { logLeave, type Delivery, type RoomObserver } from '../server/chat-room.ts';
import { CloseReason } from '../room/close-reason.ts';
import { AdmissionLimits, type Refusal } from '../room/admission-limits.ts';
import type { IdleTimer } from '../room/idle-timer.ts';
import { RefusalLog } from '../room/refusal-log.ts';
import type { Logger } from '../server/log.ts';
import type { ClusterStatus } from '../server/metrics.ts';
import { NOBODY } from '../room/delivery.ts';
import { workerOf, type ClientEvent } from '../server/messages.ts';
import type { Room, RoomSettings } from '../room/room.ts';
import { idleTimerFor, RoomTexts } from '../room/room-texts.ts';
import { nodeOfClient, parseEntry, type Entry, type LeaveWhy } from './entries.ts';
import { ClusterError, RedisLink, RedisStallError, type RawEntry } from './redis-link.ts';
import { ReplyQueue, type PendingStep } from './reply-queue.ts';
import { Roster } from './roster.ts';
import type { ScriptName } from './scripts.ts';
import { compareStreamIds, STREAM_START, type StreamId } from './stream-id.ts';

/** Kinds of entries that a node which showed them during an outage skips when they come back. */
const SHOWN_ONCE: ReadonlySet<Entry['kind']> = new Set(['chat', 'private', 'announce', 'rename']);

/** A node renews its heartbeat this often… */
export const HEARTBEAT_MS = 1000;
/** …and the others give it up for dead, and its clients for gone, this long after the last one. */
export const NODE_TTL_MS = 4000;
/** Entries stay in the stream at least this long, for a node back from a blip (docs/CLUSTER.md §7). */
export const RETENTION_MS = 30_000;
/** Entries taken from the stream per read. */
const READ_COUNT = 5000;
const READ_BLOCK_MS = 1000;
/** After a failed read, the next try (the link's own reconnecting paces the rest). */
const READ_RETRY_MS = 200;
/** How long a stopping node waits for Redis to take its clients out. */
const LEAVE_TIMEOUT_MS = 1000;

export const LINK_DOWN_NOTICE = 'the link to the other chat servers is down; until it is back, your lines reach only the people on this server';
export const LINK_UP_NOTICE = 'the link to the other chat servers is back';

export interface ClusterSettings extends RoomSettings {
  readonly redisUrl: string;
}

interface LocalClient {
  readonly id: number;
  /** `NODE/ID`: how Redis and the other nodes name this client. */
  readonly key: string;
  readonly addr: string;
  readonly ip: string;
  /**
   * Its name as its own stream last showed it (its address until its login). Kept here, not only
   * in the roster: a node given up for dead loses its clients from the roster and must still
   * register them again under their names.
   */
  name: string;
  /** Receives broadcasts: set when its login is delivered (from the stream, or locally). */
  isAdmitted: boolean;
  /** Its leave has been decided: further lines from it are dropped. */
  isLeaving: boolean;
  readonly replies: ReplyQueue;
}

interface RequestHandlers {
  /** The script's status (ok, taken, nouser…), once the stream has been read up to its answer. */
  readonly onReply?: (status: string) => void;
  /** Carries the request out on this node alone: the link is down, or dropped before Redis answered. */
  readonly local: () => void;
  /**
   * Shows the effect of a request that Redis did carry out but whose entry this node had not read
   * when the link dropped (default: `local`, when that is the same thing).
   */
  readonly landed?: () => void;
}

/** What a script answers: a status, then the stream id to wait for, then script-specific values. */
type ScriptReply = readonly [string, StreamId, ...(string | number)[]];

export class ClusterRoom implements Room, ClusterStatus {
  readonly #settings: ClusterSettings;
  readonly #delivery: Delivery;
  readonly #log: Logger;
  readonly #observer: RoomObserver;
  readonly #link: RedisLink;
  /** This node's id in the cluster: new at every start, so a restarted node never meets its old entries. */
  readonly #node = randomBytes(6).toString('hex');
  readonly #roster = new Roster();
  readonly #idle: IdleTimer;
  readonly #local = new Map<number, LocalClient>();
  readonly #localByKey = new Map<string, LocalClient>();
  readonly #limits: AdmissionLimits;
  readonly #refusals: RefusalLog;
  readonly #texts: RoomTexts;
  /** Clients whose replies wait for the stream. */
  readonly #waiting = new Set<LocalClient>();
  /**
   * Requests that failed with the link and were carried out locally: if Redis did run them after
   * all, their entries come back through the stream and must not be delivered here twice.
   */
  readonly #doneLocally = new Set<number>();
  /**
   * This node's requests that Redis carried out and whose entries this node has not read yet, by
   * sequence number (in order). Should the link drop now, they are shown here at once: their
   * entries come back only after the outage, behind lines said during it.
   */
  readonly #unread = new Map<number, { readonly after: StreamId; readonly show: () => void }>();
  /** Where this node has read the stream up to; every entry up to it has been delivered. */
  #position: StreamId = STREAM_START;
  #seq = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #isStopped = false;
  #linkLosses = 0;
  /** Resyncs sent so far: a heartbeat sent before the latest one may say `lost` and is old news. */
  #resyncs = 0;
  #readLoop: Promise<void> = Promise.resolve();

  constructor(settings: ClusterSettings, delivery: Delivery, log: Logger, observer: RoomObserver) {
    this.#settings = settings;
    this.#delivery = delivery;
    this.#log = log.child({ node: this.#node });
    this.#observer = observer;
    this.#idle = idleTimerFor(settings);
    this.#limits = new AdmissionLimits(settings);
    this.#refusals = new RefusalLog(this.#log);
    this.#texts = new RoomTexts(settings);
    this.#link = new RedisLink(settings.redisUrl, this.#log);
  }

  get node(): string {
    return this.#node;
  }

  /** A new message of the day for those who connect from now on (SIGHUP). */
  setMotd(lines: readonly string[]): void {
    this.#texts.setMotd(lines);
  }

  get isLinkUp(): boolean {
    return this.#link.isUp;
  }

  get linkLosses(): number {
    return this.#linkLosses;
  }

  /** Everyone online across the cluster, as this node has read it. */
  get online(): number {
    return this.#roster.size;
  }

  /** Connects, registers this node, reads who is online and starts following the stream. */
  async start(): Promise<void> {
    await this.#link.connect({ onUp: () => this.#linkUp(), onDown: () => this.#linkDown() });
    let snapshot: string[];
    try {
      await this.#link.run('resync', [this.#node, NODE_TTL_MS, this.#position, 0]);
      snapshot = (await this.#link.run('snapshot', [])) as string[];
    } catch (error) {
      await this.#link.close();
      if (error instanceof RedisStallError) {
        throw new ClusterError(`Redis at ${this.#link.displayUrl} stopped answering while chatd joined the cluster (${error.message}); is it overloaded?`);
      }
      // A Redis that takes connections but not scripts: read-only replica, ACLs, a proxy…
      throw new ClusterError(`Redis at ${this.#link.displayUrl} refused chatd's scripts (${(error as Error).message})`);
    }
    this.#position = snapshot[0]!;
    for (let i = 1; i + 2 < snapshot.length; i += 3) this.#roster.set(snapshot[i]!, snapshot[i + 1]!, snapshot[i + 2]!);
    this.#readLoop = this.#follow();
    this.#heartbeat = setInterval(() => this.#beat(), HEARTBEAT_MS);
    this.#log.info(
      { event: 'cluster-joined', redis: this.#link.displayUrl, online: this.#roster.size },
      `joined the cluster through ${this.#link.displayUrl}`,
    );
  }

  /** Takes this node's clients out of the cluster (the others are told) and closes the link. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    clearInterval(this.#heartbeat);
    if (this.#link.isUp) {
      await Promise.race([this.#link.run('leaveNode', [this.#node]).catch(() => {}), delay(LEAVE_TIMEOUT_MS)]);
    }
    await this.#link.close();
    await this.#readLoop;
  }

  handle(event: ClientEvent, now: number): void {
    switch (event.kind) {
      case 'connect':
        return this.#connect(event.id, event.addr, event.ip, now);
      case 'command': {
        const client = this.#local.get(event.id);
        if (client === undefined || client.isLeaving) return;
        this.#idle.touch(event.id, now);
        return this.#command(client, event.command);
      }
      case 'framing-error': {
        const client = this.#local.get(event.id);
        if (client !== undefined && !client.isLeaving) this.#replyLocally(client, event.error);
        return;
      }
      case 'disconnect':
        return this.#disconnect(event.id, event.reason);
    }
  }

  expireIdle(now: number): number | undefined {
    for (const id of this.#idle.takeExpired(now)) {
      const client = this.#local.get(id);
      if (client === undefined || client.isLeaving) continue;
      client.isLeaving = true;
      this.#logLeave(client, CloseReason.IdleTimeout);
      this.#request(client, 'leave', [client.key, 'timeout'], { local: () => this.#timeOutLocally(client) });
    }
    // The warning is this node's own notice to its client: it needs nobody else's order.
    for (const id of this.#idle.takeWarnings(now)) {
      const client = this.#local.get(id);
      if (client !== undefined && client.isAdmitted && !client.isLeaving) this.#delivery.send(id, this.#texts.idleWarning);
    }
    return this.#idle.nextDeadline();
  }

  nextIdleDeadline(): number | undefined {
    return this.#idle.nextDeadline();
  }

  dropWorker(isOnWorker: (id: number) => boolean): void {
    for (const id of [...this.#local.keys()]) if (isOnWorker(id)) this.#disconnect(id, CloseReason.WorkerFailed);
  }

  who(): WhoEntry[] {
    return [...this.#roster.values()].map(({ addr, name }) => ({ addr, name }));
  }

  announce(text: string): number {
    const seq = ++this.#seq;
    const show = (): void => this.#delivery.broadcast(encodeAnnouncement(text), NOBODY);
    if (!this.#link.isUp) {
      show();
      return this.#roster.size;
    }
    this.#link.run('announce', [this.#node, seq, text]).then(
      (raw) => {
        const [, after] = raw as ScriptReply;
        if (compareStreamIds(after, this.#position) > 0) this.#unread.set(seq, { after, show });
      },
      () => {
        this.#doneLocally.add(seq);
        show();
      },
    );
    return this.#roster.size;
  }

  // ── local events ──────────────────────────────────────────────────────────────────────────

  #connect(id: number, addr: string, ip: string, now: number): void {
    // The limits count this node's clients: each node guards its own sockets and memory.
    const refusal = this.#limits.admit(ip, this.#local.size);
    if (refusal !== null) return this.#refuse(id, addr, refusal);
    const client: LocalClient = { id, key: `${this.#node}/${id}`, addr, ip, name: addr, isAdmitted: false, isLeaving: false, replies: new ReplyQueue() };
    this.#local.set(id, client);
    this.#localByKey.set(client.key, client);
    this.#idle.touch(id, now);
    this.#log.info({ event: 'connect', addr, worker: workerOf(id), online: this.#local.size }, 'client connected');
    // Its login, admission and greeting come back through the stream (#applyLogin).
    this.#request(client, 'join', [client.key, addr, addr, ...keysOf(addr)], { local: () => this.#joinLocally(client) });
  }

  #command(client: LocalClient, command: Command): void {
    switch (command.type) {
      case 'empty':
        return;
      case 'text':
        return this.#request(client, 'say', [client.key, command.text], { local: () => this.#sayLocally(client, command.text) });
      case 'who':
        return this.#replyLater(client, () => this.#delivery.send(client.id, encodeWho(this.#roster.values())));
      case 'rename':
        return this.#rename(client, command.name);
      case 'msg':
        return this.#request(client, 'msg', [client.key, ...keysOf(command.to), command.text], {
          onReply: (status) => status === 'nouser' && this.#reply(client, noSuchUser(command.to)),
          local: () => this.#privateLocally(client, command.to, command.text),
        });
      case 'quit':
        client.isLeaving = true;
        this.#idle.remove(client.id);
        this.#logLeave(client, CloseReason.Quit);
        return this.#request(client, 'leave', [client.key, 'quit'], { local: () => this.#leaveLocally(client, CloseReason.Quit) });
      case 'help':
        return this.#replyLater(client, () => this.#delivery.send(client.id, this.#texts.help));
      case 'invalid':
        return this.#replyLocally(client, command.error);
    }
  }

  #rename(client: LocalClient, name: string): void {
    this.#request(client, 'rename', [client.key, name, ...keysOf(name)], {
      onReply: (status) => {
        // As ChatRoom: the name it already has is answered without telling anyone.
        if (status === 'same' && this.#local.get(client.id) === client) this.#delivery.send(client.id, encodeRenameOk());
        if (status === 'taken') this.#reply(client, nameTaken(name));
      },
      // Uniqueness across the cluster cannot be checked without Redis.
      local: () => this.#reply(client, clusterUnavailable()),
      landed: () => this.#renameLocally(client, name),
    });
  }

  #disconnect(id: number, reason: CloseReason): void {
    const client = this.#local.get(id);
    if (client === undefined) return;
    this.#forget(client);
    if (client.isLeaving) return; // its leave is already on its way (quit, timeout)
    client.isLeaving = true;
    this.#logLeave(client, reason);
    this.#request(client, 'leave', [client.key, 'left'], { local: () => this.#leaveLocally(client, reason) });
  }

  #refuse(id: number, addr: string, refusal: Refusal): void {
    this.#delivery.close(id, encodeError(refusal.error), refusal.reason);
    this.#refusals.refused(addr, refusal.reason, refusal.message);
    this.#observer.onKick(refusal.reason);
  }

  /** The socket is gone (or going): nothing more is sent to it, and it no longer counts here. */
  #forget(client: LocalClient): void {
    if (this.#local.get(client.id) !== client) return;
    this.#local.delete(client.id);
    this.#localByKey.delete(client.key);
    this.#waiting.delete(client);
    this.#idle.remove(client.id);
    this.#limits.release(client.ip);
  }

  // ── requests to Redis, and replies in order ──────────────────────────────────────────────

  /**
   * Sends a script for `client` and queues its reply step, which runs once the stream has been
   * read as far as the script's answer says (ReplyQueue).
   */
  #request(client: LocalClient, script: ScriptName, args: readonly (string | number)[], handlers: RequestHandlers): void {
    const seq = ++this.#seq;
    const step: PendingStep = client.replies.pending();
    const onReply = handlers.onReply ?? (() => {});
    if (!this.#link.isUp) {
      step.complete(null, handlers.local);
      return this.#runReplies(client);
    }
    this.#link.run(script, [this.#node, seq, ...args]).then(
      (raw) => {
        const [status, after] = raw as ScriptReply;
        if (status === 'ok' && compareStreamIds(after, this.#position) > 0) {
          this.#unread.set(seq, { after, show: handlers.landed ?? handlers.local });
        }
        step.complete(after, () => onReply(status));
        this.#runReplies(client);
      },
      (error: unknown) => {
        this.#log.debug({ err: error, script }, 'cluster request failed; carried out on this node');
        // Redis may have run it before the link dropped: then its entry must not show here twice.
        if (handlers.landed === undefined) this.#doneLocally.add(seq);
        step.complete(null, handlers.local);
        this.#runReplies(client);
      },
    );
  }

  /** A reply that needs no script, in order behind the client's earlier ones. */
  #replyLater(client: LocalClient, reply: () => void): void {
    client.replies.local(reply);
    this.#runReplies(client);
  }

  #replyLocally(client: LocalClient, error: ProtocolError): void {
    this.#replyLater(client, () => this.#reply(client, error));
  }

  #reply(client: LocalClient, error: ProtocolError): void {
    if (this.#local.get(client.id) === client) this.#delivery.send(client.id, encodeError(error));
  }

  #runReplies(client: LocalClient): void {
    client.replies.run(this.#link.isUp ? this.#position : null);
    if (client.replies.isEmpty) this.#waiting.delete(client);
    else if (this.#local.get(client.id) === client) this.#waiting.add(client);
  }

  // ── the stream ───────────────────────────────────────────────────────────────────────────

  async #follow(): Promise<void> {
    while (!this.#isStopped) {
      let batch: RawEntry[];
      try {
        batch = await this.#link.read(this.#position, READ_COUNT, READ_BLOCK_MS);
      } catch (error) {
        if (this.#isStopped) return;
        this.#log.debug({ err: error }, 'reading the cluster stream failed; retrying');
        await delay(READ_RETRY_MS);
        continue;
      }
      if (!this.#link.isUp) {
        // While the node is alone, a read that still arrives (the two connections do not drop at
        // the same instant) waits: applied now, an older entry of another node could land after
        // this node's own lines that #linkDown has just shown. Read again once the link is back.
        await delay(READ_RETRY_MS);
        continue;
      }
      for (const [id, fields] of batch) {
        this.#position = id;
        try {
          this.#apply(parseEntry(id, fields));
        } catch (error) {
          // An entry this node cannot read is logged and skipped: the chat goes on.
          this.#log.error({ err: error, id }, 'could not apply a cluster stream entry; skipped');
        }
      }
      if (batch.length === 0) continue;
      for (const [seq, { after }] of this.#unread) {
        if (compareStreamIds(after, this.#position) > 0) break;
        this.#unread.delete(seq);
      }
      for (const client of [...this.#waiting]) this.#runReplies(client);
    }
  }

  #apply(entry: Entry): void {
    const isMine = entry.node === this.#node;
    // Already shown here while the link was down. (A login or leave shown then is in the roster
    // already, which makes its entry no news below.)
    if (isMine && this.#doneLocally.delete(entry.seq) && SHOWN_ONCE.has(entry.kind)) return;
    switch (entry.kind) {
      case 'login':
        return this.#applyLogin(entry.client, entry.addr, entry.name);
      case 'chat':
        return this.#delivery.broadcast(encodeChat(entry.addr, entry.name, entry.text), NOBODY);
      case 'rename': {
        this.#roster.set(entry.client, entry.addr, entry.newName);
        const owner = this.#localByKey.get(entry.client);
        if (owner !== undefined) {
          owner.name = entry.newName;
          this.#delivery.send(owner.id, encodeRenameOk());
          this.#log.info({ event: 'rename', addr: entry.addr, from: entry.name, to: entry.newName }, 'client renamed');
        }
        return this.#delivery.broadcast(encodeRenamed(entry.addr, entry.name, entry.newName), owner?.id ?? NOBODY);
      }
      case 'private': {
        const recipient = this.#localByKey.get(entry.to);
        if (recipient !== undefined) this.#delivery.send(recipient.id, encodePrivate(entry.addr, entry.name, entry.text));
        const sender = this.#localByKey.get(entry.client);
        if (sender !== undefined) this.#delivery.send(sender.id, encodeMsgOk());
        return;
      }
      case 'logout':
        return this.#applyLogout(entry.client, entry.addr, entry.name, entry.why);
      case 'timeout': {
        if (this.#roster.remove(entry.client) === undefined) return;
        const owner = this.#localByKey.get(entry.client);
        this.#delivery.broadcast(encodeTimedOut(entry.addr, entry.name), owner?.id ?? NOBODY);
        if (owner !== undefined) {
          this.#forget(owner);
          this.#delivery.close(owner.id, encodeError(idleTimeout(this.#settings.idleTimeoutSeconds)), CloseReason.IdleTimeout);
        }
        return;
      }
      case 'announce':
        return this.#delivery.broadcast(encodeAnnouncement(entry.text), NOBODY);
    }
  }

  #applyLogin(key: string, addr: string, name: string): void {
    const known = this.#roster.get(key);
    this.#roster.set(key, addr, name);
    const owner = this.#localByKey.get(key);
    if (owner !== undefined) owner.name = name;
    const isNew = owner !== undefined && !owner.isAdmitted;
    if (isNew) {
      owner.isAdmitted = true;
      this.#delivery.admit(owner.id);
    }
    // A login this node has already shown (a resync after a blip) is not news.
    if (known === undefined || known.name !== name) this.#delivery.broadcast(encodeLogin(addr, name), NOBODY);
    if (isNew) {
      this.#delivery.send(owner.id, encodeGreeting(addr, name));
      if (this.#texts.motd !== '') this.#delivery.send(owner.id, this.#texts.motd);
    }
  }

  #applyLogout(key: string, addr: string, name: string, why: LeaveWhy): void {
    const owner = this.#localByKey.get(key);
    if (owner !== undefined && (why === 'node-lost' || why === 'node-stopped')) {
      // This node was given up for dead while its clients were still here (a stall, a long
      // blip). For the other nodes they left; here they never did, so nobody here is told, and
      // the next heartbeat finds the node unknown and registers them again (their `login` is
      // then no news here either: the roster still has them).
      return;
    }
    if (owner !== undefined) {
      this.#forget(owner);
      this.#delivery.close(owner.id, null, why === 'quit' ? CloseReason.Quit : CloseReason.ClientClosed);
    }
    // Already shown here while the link was down: not news.
    if (this.#roster.remove(key) !== undefined) this.#delivery.broadcast(encodeLogout(addr, name), NOBODY);
  }

  // ── the link ─────────────────────────────────────────────────────────────────────────────

  #beat(): void {
    if (!this.#link.isUp) return;
    const resyncsBefore = this.#resyncs;
    this.#link.run('heartbeat', [this.#node, NODE_TTL_MS, this.#position, RETENTION_MS]).then(
      (reply) => {
        if ((reply as string[])[0] !== 'lost') return;
        // #10: Redis answers one connection in order, so every heartbeat sent before a resync
        // answers before it, each `lost`; the first one's resync registers the node for all.
        if (this.#resyncs !== resyncsBefore) return;
        this.#log.warn({ event: 'cluster-rejoin' }, 'this node was given up for dead; registering its clients again');
        this.#resync();
      },
      // A heartbeat lost with the link is expected; one that Redis refuses is a problem to see.
      (error: unknown) => this.#link.isUp && this.#log.error({ err: error }, 'cluster heartbeat failed'),
    );
  }

  /** Tells Redis again which clients this node has, under the names this node knows them by. */
  #resync(): void {
    this.#resyncs++;
    const args: (string | number)[] = [this.#node, NODE_TTL_MS, this.#position, ++this.#seq];
    for (const client of this.#local.values()) {
      // Also those whose join is still on its way: Redis may have run it already (then this skips
      // them) or will run it after this (then the join finds them there).
      if (client.isLeaving) continue;
      args.push(client.key, client.addr, client.name, ...keysOf(client.name));
    }
    this.#link.run('resync', args).catch((error: unknown) => this.#log.warn({ err: error }, 'resync failed; retried when the link is back'));
  }

  #linkDown(): void {
    if (this.#isStopped) return;
    this.#linkLosses++;
    this.#log.warn({ event: 'cluster-link-down' }, 'lost the link to Redis; serving this node\'s clients alone');
    // What Redis took from this node but this node has not read yet goes out now, in order.
    for (const [seq, { show }] of this.#unread) {
      this.#doneLocally.add(seq);
      show();
    }
    this.#unread.clear();
    this.#delivery.broadcast(encodeAnnouncement(LINK_DOWN_NOTICE), NOBODY);
    for (const client of [...this.#waiting]) this.#runReplies(client);
  }

  #linkUp(): void {
    if (this.#isStopped) return;
    this.#log.warn({ event: 'cluster-link-up' }, 'the link to Redis is back');
    this.#resync();
    this.#delivery.broadcast(encodeAnnouncement(LINK_UP_NOTICE), NOBODY);
  }

  // ── carried out on this node alone, while the link is down ──────────────────────────────

  #joinLocally(client: LocalClient): void {
    if (this.#local.get(client.id) !== client || client.isAdmitted) return;
    this.#applyLogin(client.key, client.addr, client.addr);
  }

  #sayLocally(client: LocalClient, text: string): void {
    const member = this.#roster.get(client.key);
    if (member !== undefined) this.#delivery.broadcast(encodeChat(member.addr, member.name, text), NOBODY);
  }

  /** A rename Redis granted, shown before its entry comes back. */
  #renameLocally(client: LocalClient, name: string): void {
    const before = this.#roster.get(client.key);
    if (before === undefined || before.name === name) return;
    this.#roster.set(client.key, before.addr, name);
    client.name = name;
    const isHere = this.#local.get(client.id) === client;
    if (isHere) this.#delivery.send(client.id, encodeRenameOk());
    this.#delivery.broadcast(encodeRenamed(before.addr, before.name, name), isHere ? client.id : NOBODY);
  }

  #privateLocally(client: LocalClient, to: string, text: string): void {
    const member = this.#roster.get(client.key);
    const recipient = this.#roster.findByName(to);
    if (member === undefined) return;
    if (recipient === undefined) return this.#reply(client, noSuchUser(to));
    const local = this.#localByKey.get(recipient.client);
    if (local === undefined || nodeOfClient(recipient.client) !== this.#node) return this.#reply(client, clusterUnavailable());
    this.#delivery.send(local.id, encodePrivate(member.addr, member.name, text));
    this.#delivery.send(client.id, encodeMsgOk());
  }

  #leaveLocally(client: LocalClient, reason: CloseReason): void {
    const member = this.#roster.remove(client.key);
    if (this.#local.get(client.id) === client) {
      this.#forget(client);
      this.#delivery.close(client.id, null, reason);
    }
    if (member !== undefined) this.#delivery.broadcast(encodeLogout(member.addr, member.name), NOBODY);
  }

  #timeOutLocally(client: LocalClient): void {
    const member = this.#roster.remove(client.key);
    if (member !== undefined) this.#delivery.broadcast(encodeTimedOut(member.addr, member.name), client.id);
    if (this.#local.get(client.id) === client) {
      this.#forget(client);
      this.#delivery.close(client.id, encodeError(idleTimeout(this.#settings.idleTimeoutSeconds)), CloseReason.IdleTimeout);
    }
  }

  #logLeave(client: LocalClient, reason: CloseReason): void {
    // `online`: this node's clients once this one is gone, as a single node counts them.
    const online = this.#local.size - (this.#local.has(client.id) ? 1 : 0);
    logLeave(this.#log, this.#observer, { addr: client.addr, name: client.name, online }, reason);
  }
}

/** A name's two keys as the scripts take them: folded, then skeleton (cluster/scripts.ts). */
function keysOf(name: string): [string, string] {
  const keys = nameKeys(name);
  return [keys.folded, keys.skeleton];
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
