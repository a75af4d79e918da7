// The room of a node that shares the chat with other nodes through Redis (docs/CLUSTER.md): the
// cluster's sequencer. It takes the single node's place in the primary thread (the same events
// from the workers, the same Delivery out), but a change is decided by Redis: it goes there as a
// script, lands in one stream in one global order, and this node applies each entry it reads
// with RoomCore.apply (ClusterStream). Idle timeouts and admission limits stay here, with the
// sockets. Resume sessions live in Redis too, so that a client can take its session back on any
// node (§9). While the link is down, the node decides alone for its own clients (§6).

import { createHash, randomBytes } from 'node:crypto';
import {
  clusterUnavailable,
  dispatchCommand,
  encodeMsgOk,
  encodeRenameOk,
  encodeWho,
  nameKeys,
  nameTaken,
  noSuchUser,
  resumeAhead,
  resumeOff,
  resumeRefused,
  type CommandHandlers,
  type ProtocolError,
  type WhoEntry,
} from '../protocol/index.ts';
import type { ClientEvent } from '../room/client-event.ts';
import { CloseReason } from '../room/close-reason.ts';
import type { Log } from '../room/log.ts';
import { newResumeToken } from '../room/resume-sessions.ts';
import { holdsSession, RoomCore, type ResumeRequest, type RoomParts } from '../room/room-core.ts';
import type { HistoryStatus, LinkStatus, Room, RoomSettings } from '../room/room.ts';
import { ClusterError, RedisStallError, type ClusterLink } from './cluster-link.ts';
import { ClusterRequests } from './cluster-requests.ts';
import type { LoginEntry } from './entries.ts';
import { ClusterStream, type Snapshot } from './cluster-stream.ts';
import type { ClusterClient } from './cluster-client.ts';
import { REAL_TIMERS, type ClusterTimers } from './cluster-timers.ts';
import { ReplyQueue } from './reply-queue.ts';

/** A node renews its heartbeat this often… */
export const HEARTBEAT_MS = 1000;
/** …and the others give it up for dead, and its clients for gone, this long after the last one. */
export const NODE_TTL_MS = 4000;
/** Entries stay in the stream at least this long, for a node back from a blip (docs/CLUSTER.md §7). */
export const RETENTION_MS = 30_000;
/** How long a stopping node waits for Redis to take its clients out. */
const LEAVE_TIMEOUT_MS = 1000;

export const LINK_DOWN_NOTICE = 'the link to the other chat servers is down; until it is back, your lines reach only the people on this server';
export const LINK_UP_NOTICE = 'the link to the other chat servers is back';

/** What the cluster room is given: the link to Redis is made outside, so the tests give a fake. */
export interface ClusterParts extends RoomParts {
  readonly link: ClusterLink;
  /** This node's id in the cluster (default: newNodeId()). */
  readonly node?: string;
  /** Timers for the heartbeat and the stream's retries (default: the real ones). */
  readonly timers?: ClusterTimers;
}

/** A resume sent to Redis whose login entry this node has not applied yet (CLUSTER.md §9). */
interface PendingResume {
  readonly client: ClusterClient;
  /** The position the client gave. */
  readonly position: number;
  /** Its new token, registered in Redis by the same script. */
  readonly token: string;
}

export class ClusterRoom implements Room, LinkStatus {
  readonly #core: RoomCore<string, ClusterClient>;
  readonly #link: ClusterLink;
  readonly #log: Log;
  readonly #node: string;
  readonly #timers: ClusterTimers;
  readonly #requests: ClusterRequests;
  readonly #stream: ClusterStream;
  #heartbeat: { stop(): void } | undefined;
  #isStopped = false;
  #linkLosses = 0;
  /** Resyncs sent so far: a heartbeat sent before the latest one may say `lost` and is old news. */
  #resyncs = 0;
  /** This node's resumes on their way, by the seq of their request. */
  readonly #resumes = new Map<number, PendingResume>();

  constructor(settings: RoomSettings, parts: ClusterParts) {
    this.#node = parts.node ?? newNodeId();
    this.#log = parts.log.child({ node: this.#node });
    this.#core = new RoomCore(settings, { ...parts, log: this.#log });
    this.#link = parts.link;
    this.#timers = parts.timers ?? REAL_TIMERS;
    this.#stream = new ClusterStream(this.#node, this.#core, this.#link, this.#log, this.#timers);
    this.#requests = new ClusterRequests(this.#node, this.#core, this.#link, this.#stream, this.#log);
    this.#stream.onRead = () => this.#requests.caughtUp();
    this.#stream.onOwnEntry = (seq) => this.#requests.entryApplied(seq);
    this.#stream.onOwnResume = (entry) => this.#resumed(entry);
  }

  get link(): LinkStatus {
    return this;
  }

  get isLinkUp(): boolean {
    return this.#link.isUp;
  }

  get linkLosses(): number {
    return this.#linkLosses;
  }

  /** Everyone online across the cluster, as this node has read it. */
  get online(): number {
    return this.#core.members.size;
  }

  get history(): HistoryStatus {
    return this.#core.history;
  }

  /** Connects, registers this node, reads who is online and starts following the stream. */
  async start(): Promise<void> {
    await this.#link.connect({ onUp: () => this.#linkUp(), onDown: () => this.#linkDown() });
    try {
      await this.#link.run('resync', [this.#node, NODE_TTL_MS, this.#stream.position, 0, this.#core.history.latest]);
      this.#stream.startFrom((await this.#link.run('snapshot', [this.#core.history.capacity])) as Snapshot);
    } catch (error) {
      await this.#link.close();
      if (error instanceof RedisStallError) {
        throw new ClusterError(`Redis at ${this.#link.displayUrl} stopped answering while chatd joined the cluster (${error.message}); is it overloaded?`);
      }
      // A Redis that takes connections but not scripts: read-only replica, ACLs, a proxy…
      throw new ClusterError(`Redis at ${this.#link.displayUrl} refused chatd's scripts (${(error as Error).message})`);
    }
    this.#heartbeat = this.#timers.every(() => this.#beat(), HEARTBEAT_MS);
    this.#log.info(
      { event: 'cluster-joined', redis: this.#link.displayUrl, online: this.#core.members.size },
      `joined the cluster through ${this.#link.displayUrl}`,
    );
  }

  /** Takes this node's clients out of the cluster (the others are told) and closes the link. */
  async stop(): Promise<void> {
    if (this.#isStopped) return;
    this.#isStopped = true;
    this.#stream.stop();
    this.#heartbeat?.stop();
    if (this.#link.isUp) {
      // Its clients' sessions are held, as for a node given up: they may take them back on another node.
      const leaving = this.#link.run('leaveNode', [this.#node, this.#core.resumeWindowMs]).catch(() => {});
      await Promise.race([leaving, this.#timers.delay(LEAVE_TIMEOUT_MS)]);
    }
    await this.#link.close();
    await this.#stream.stopped;
  }

  setMotd(lines: readonly string[]): void {
    this.#core.texts.setMotd(lines);
  }

  handle(event: ClientEvent, now: number): void {
    const core = this.#core;
    switch (event.kind) {
      case 'connect':
        return this.#connect(event.id, event.addr, event.ip, now, event.resume);
      case 'command': {
        const client = core.local(event.id);
        if (client === undefined || client.isLeaving) return;
        core.touch(client, now);
        return dispatchCommand(this.#commands, client, event.command);
      }
      case 'framing-error': {
        const client = core.local(event.id);
        if (client !== undefined && !client.isLeaving) this.#replyError(client, event.error);
        return;
      }
      case 'disconnect': {
        const client = core.local(event.id);
        // Gone already, or its leave is on its way (quit, timeout): that leave closes it.
        if (client === undefined || client.isLeaving) return;
        return this.#leave(client, event.reason, 'left');
      }
    }
  }

  expireIdle(now: number): number | undefined {
    for (const client of this.#core.takeIdle(now)) this.#leave(client, CloseReason.IdleTimeout, 'timeout');
    return this.#core.nextIdleDeadline();
  }

  nextIdleDeadline(): number | undefined {
    return this.#core.nextIdleDeadline();
  }

  dropConnections(isLost: (id: number) => boolean): void {
    for (const client of [...this.#core.locals()]) {
      if (isLost(client.id) && !client.isLeaving) this.#leave(client, CloseReason.WorkerFailed, 'left');
    }
  }

  who(): WhoEntry[] {
    return this.#core.who();
  }

  announce(text: string): number {
    this.#requests.announce(text);
    return this.#core.members.size;
  }

  /** How many history entries Redis keeps for the scripts that append one: this node's --history-size. */
  get #keep(): number {
    return this.#core.history.capacity;
  }

  // ── this node's clients ──────────────────────────────────────────────────────────────────

  #connect(id: number, addr: string, ip: string, now: number, resume: ResumeRequest | undefined): void {
    if (!this.#core.admits(id, addr, ip)) return;
    const key = `${this.#node}/${id}`;
    const client: ClusterClient = {
      id,
      client: key,
      addr,
      ip,
      name: addr,
      isAdmitted: false,
      isLeaving: false,
      seenUpTo: 0,
      isPositioned: false,
      replies: new ReplyQueue(),
      token: null,
    };
    this.#core.enter(client, now);
    // PROTOCOL.md §10.5: it joins by taking its session back, and comes in as a newcomer if it cannot.
    if (resume !== undefined && this.#core.hasSessions) return this.#resume(client, resume, true);
    // Its login, admission and greeting come back through the stream.
    this.#requests.send(client, 'join', [key, addr, addr, ...keysOf(addr)], { local: () => this.#loginAlone(client) });
    if (resume !== undefined) this.#replyError(client, resumeOff());
  }

  /** A newcomer let in by this node alone, under its address: its join could not reach Redis. */
  #loginAlone(client: ClusterClient): void {
    if (this.#core.local(client.id) === client && !client.isAdmitted) {
      this.#core.apply({ kind: 'login', client: client.client, addr: client.addr, name: client.addr });
    }
  }

  /** What each command does in a cluster: sent to Redis, with what to do on this node alone. */
  readonly #commands: CommandHandlers<ClusterClient> = {
    empty: () => {},
    text: (client, { text }) =>
      this.#requests.send(client, 'say', [this.#keep, client.client, text], {
        local: () => {
          const member = this.#core.members.get(client.client);
          if (member !== undefined) this.#core.apply({ kind: 'chat', addr: member.addr, name: member.name, text });
        },
      }),
    who: (client) => this.#requests.later(client, () => this.#core.send(client, encodeWho(this.#core.members.values()))),
    rename: (client, { name }) =>
      this.#requests.send(client, 'rename', [this.#keep, client.client, name, ...keysOf(name)], {
        onReply: (status) => {
          // As on one node: the name it already has is confirmed without telling anyone.
          if (status === 'same') this.#core.send(client, encodeRenameOk());
          if (status === 'taken') this.#core.replyError(client, nameTaken(name));
        },
        // Uniqueness across the cluster cannot be checked without Redis.
        local: () => this.#core.replyError(client, clusterUnavailable()),
        refusesLocally: true,
        landed: () => {
          const before = this.#core.members.get(client.client);
          if (before === undefined || before.name === name) return;
          this.#core.apply({ kind: 'rename', client: client.client, addr: before.addr, name: before.name, newName: name });
        },
      }),
    msg: (client, { to, text }) =>
      this.#requests.send(client, 'msg', [client.client, ...keysOf(to), text], {
        onReply: (status) => status === 'nouser' && this.#core.replyError(client, noSuchUser(to)),
        local: () => this.#privateLocally(client, to, text),
        // Redis found the recipient: it reads the line on its own node, or is here.
        landed: () => this.#privateLanded(client, to, text),
      }),
    quit: (client) => this.#leave(client, CloseReason.Quit, 'quit'),
    help: (client) => this.#requests.later(client, () => this.#core.send(client, this.#core.texts.help)),
    history: (client, { count }) => this.#requests.later(client, () => this.#core.sendHistory(client, count)),
    token: (client) => this.#giveToken(client),
    resume: (client, request) => {
      if (!this.#core.hasSessions) return this.#replyError(client, resumeOff());
      this.#resume(client, request, false);
    },
    invalid: (client, { error }) => this.#replyError(client, error),
  };

  /**
   * Decides a leave on this node's side: quit, closed, idle (`timeout`) or its worker lost. The
   * connection stays until the leave is applied, so a half-closed client still gets the replies
   * before it, then is closed. A drop holds its session in Redis for --resume-window (§10.4).
   */
  #leave(client: ClusterClient, reason: CloseReason, why: 'quit' | 'left' | 'timeout'): void {
    this.#core.startLeaving(client, reason);
    const applyHere = (): void => this.#core.apply(why === 'timeout' ? { kind: 'timeout', client: client.client } : { kind: 'leave', client: client.client, reason });
    const holdMs = holdsSession(reason) && client.isAdmitted ? this.#core.resumeWindowMs : 0;
    this.#requests.send(client, 'leave', [client.client, why, holdMs], { local: applyHere });
  }

  // ── resume sessions, in Redis (docs/CLUSTER.md §9, PROTOCOL.md §10.3-§10.5) ────────────────

  /**
   * `/token`: the first one registers a new token with Redis, so that any node can find it; the
   * reply waits for that. While the link is down a token cannot be registered, and is refused.
   */
  #giveToken(client: ClusterClient): void {
    if (!this.#core.hasSessions) return this.#replyError(client, resumeOff());
    const known = client.token;
    if (known !== null) return this.#requests.later(client, () => this.#core.giveToken(client, known));
    const token = newResumeToken();
    // Known from now on, so that a second /token, answered after this one, gives the same.
    client.token = token;
    this.#requests.send(client, 'token', [client.client, sessionIdOf(token)], {
      onReply: () => this.#core.giveToken(client, token),
      local: () => {
        if (client.token === token) client.token = null;
        this.#core.replyError(client, clusterUnavailable());
      },
      refusesLocally: true,
    });
  }

  /**
   * Sends a resume to Redis, which checks the token and hands the session over in one step. On
   * success its login entry comes back through the stream, and `#resumed` carries it out there, in
   * its place in the order; a refusal is answered in the client's order of replies. `joins`: the
   * WebSocket handshake (§10.5), for a client not in yet, which comes in as a newcomer when refused.
   * While the link is down, nothing can say whether the token is good: it is refused, unused.
   */
  #resume(client: ClusterClient, request: ResumeRequest, joins: boolean): void {
    const token = newResumeToken();
    // The handlers may run before `send` returns (the link is down): nothing is left waiting then.
    let seq = 0;
    let isSettled = false;
    const settle = (): void => {
      isSettled = true;
      this.#resumes.delete(seq);
    };
    const args = [
      client.client,
      client.addr,
      ...keysOf(client.addr),
      sessionIdOf(request.token),
      sessionIdOf(token),
      request.position,
      joins ? '1' : '0',
    ];
    seq = this.#requests.send(client, 'resume', args, {
      onReply: (status, values) => {
        settle();
        if (status === 'refused') this.#core.refuseResume(client, resumeRefused(this.#core.resumeWindowMs / 1000));
        if (status === 'ahead') this.#core.refuseResume(client, resumeAhead(request.position, Number(values[0])));
      },
      local: () => {
        settle();
        if (joins) this.#loginAlone(client);
        this.#core.refuseResume(client, clusterUnavailable());
      },
      // Redis handed the session over, but the link dropped before this node read the login.
      landed: (values) => {
        settle();
        if (this.#core.local(client.id) !== client) return;
        this.#core.resume(client, { name: String(values[0]), position: request.position, token });
        client.token = token;
      },
      refusesLocally: true,
    });
    if (!isSettled) this.#resumes.set(seq, { client, position: request.position, token });
  }

  /**
   * The login of a session this node's client took back, read from the stream: in its place in
   * the order, the client is sent what it missed, its name is shown (RoomCore.resume, the single
   * node's rules), then `resumed` with its new token. Returns false when no resume waits for it.
   */
  #resumed(entry: LoginEntry): boolean {
    const pending = this.#resumes.get(entry.seq);
    if (pending === undefined) return false;
    this.#resumes.delete(entry.seq);
    const { client, position, token } = pending;
    if (this.#core.local(client.id) !== client || client.client !== entry.client) return false;
    this.#core.resume(client, { name: entry.name, position, token });
    client.token = token;
    return true;
  }

  /** A private message while the link is down reaches only this node's clients. */
  #privateLocally(client: ClusterClient, to: string, text: string): void {
    const sender = this.#core.members.get(client.client);
    if (sender === undefined) return;
    const recipient = this.#core.members.findByName(to);
    if (recipient === undefined) return this.#core.replyError(client, noSuchUser(to));
    if (this.#core.localOf(recipient.client) === undefined) return this.#core.replyError(client, clusterUnavailable());
    this.#core.apply({ kind: 'private', from: client.client, to: recipient.client, addr: sender.addr, name: sender.name, text });
  }

  /** A /msg Redis carried out whose entry this node had not read when the link dropped. */
  #privateLanded(client: ClusterClient, to: string, text: string): void {
    const sender = this.#core.members.get(client.client);
    const recipient = this.#core.members.findByName(to);
    if (sender === undefined) return;
    if (recipient === undefined) return this.#core.send(client, encodeMsgOk());
    this.#core.apply({ kind: 'private', from: client.client, to: recipient.client, addr: sender.addr, name: sender.name, text });
  }

  #replyError(client: ClusterClient, error: ProtocolError): void {
    this.#requests.later(client, () => this.#core.replyError(client, error));
  }

  // ── the link ─────────────────────────────────────────────────────────────────────────────

  #beat(): void {
    if (!this.#link.isUp) return;
    const resyncsBefore = this.#resyncs;
    const args = [this.#node, NODE_TTL_MS, this.#stream.position, RETENTION_MS, this.#core.resumeWindowMs];
    this.#link.run('heartbeat', args).then(
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
    const args: (string | number)[] = [this.#node, NODE_TTL_MS, this.#stream.position, this.#requests.nextSeq(), this.#core.history.latest];
    for (const client of this.#core.locals()) {
      // Also those whose join is still on its way: Redis may have run it already (then this skips
      // them) or will run it after this (then the join finds them there).
      if (client.isLeaving) continue;
      args.push(client.client, client.addr, client.name, ...keysOf(client.name), client.token === null ? '' : sessionIdOf(client.token));
    }
    this.#link.run('resync', args).then(
      (reply) => {
        // Sessions that did not survive the node being given up: taken back elsewhere, or ended.
        for (const key of (reply as string[]).slice(2)) {
          const client = this.#core.localOf(key);
          if (client !== undefined) client.token = null;
        }
      },
      (error: unknown) => this.#log.warn({ err: error }, 'resync failed; retried when the link is back'),
    );
  }

  #linkDown(): void {
    if (this.#isStopped) return;
    this.#linkLosses++;
    this.#log.warn({ event: 'cluster-link-down' }, 'lost the link to Redis; serving this node\'s clients alone');
    this.#requests.linkDown();
    this.#core.apply({ kind: 'notice', text: LINK_DOWN_NOTICE });
    this.#requests.caughtUp();
  }

  #linkUp(): void {
    if (this.#isStopped) return;
    this.#log.warn({ event: 'cluster-link-up' }, 'the link to Redis is back');
    this.#resync();
    this.#core.apply({ kind: 'notice', text: LINK_UP_NOTICE });
  }
}

/** A node id: new at every start, so a restarted node never meets its old entries. */
export function newNodeId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * The id Redis keeps a session under: the SHA-1 of its token, so that what Redis holds (or a
 * dump of it) cannot be used to take a session over (cluster/scripts.ts).
 */
export function sessionIdOf(token: string): string {
  return createHash('sha1').update(token).digest('hex');
}

/** A name's two keys as the scripts take them: folded, then skeleton (cluster/scripts.ts). */
function keysOf(name: string): [string, string] {
  const keys = nameKeys(name);
  return [keys.folded, keys.skeleton];
}
