// What both rooms share: who is online (NameRegistry), this node's own connections, their idle
// deadlines and admission limits, and `apply`, the one function that carries out a decided
// RoomEvent: who receives what, and in which order (PROTOCOL.md §5, ARCHITECTURE.md §3). The
// sequencers (room/single-node-room.ts, cluster/cluster-room.ts) decide events; only this applies them.
// Pure apart from the Delivery and the log; runs in the primary thread.

import {
  encodeAnnouncement,
  encodeError,
  encodeGreeting,
  encodeHistory,
  encodeLive,
  encodeLogin,
  encodeLogout,
  encodeMsgOk,
  encodePositioned,
  encodePrivate,
  encodeRenameOk,
  encodeResumed,
  encodeResumeReply,
  encodeTimedOut,
  encodeToken,
  idleTimeout,
  type HistoryEntry,
  type HistoryKind,
  type ProtocolError,
  type WhoEntry,
} from '../protocol/index.ts';
import { AdmissionLimits } from './admission-limits.ts';
import { CloseReason } from './close-reason.ts';
import { NO_OBSERVER, NOBODY, type Delivery, type RoomObserver } from './delivery.ts';
import { ChatHistory, type HistorySink, type Stamp } from './history.ts';
import type { IdleTimer } from './idle-timer.ts';
import type { Log } from './log.ts';
import { NameRegistry } from './name-registry.ts';
import { RefusalLog } from './refusal-log.ts';
import type { RoomEvent } from './room-events.ts';
import { DEFAULT_HISTORY_SIZE, DEFAULT_RESUME_WINDOW_SECONDS, type RoomSettings } from './room.ts';
import { idleTimerFor, RoomTexts } from './room-texts.ts';

/** One of this node's connections, from its connect until its leave is applied. */
export interface LocalClient<Client> {
  /** The connection id the Delivery knows it by. */
  readonly id: number;
  /** How the registry and the events name it. */
  readonly client: Client;
  readonly addr: string;
  readonly ip: string;
  /**
   * Its name as this node last applied it (its address until its login). Kept here as well as in
   * the registry: a cluster node given up for dead loses its clients from the registry's source,
   * Redis, and must register them again under their names.
   */
  name: string;
  /** Receives broadcasts: set when its login is applied. */
  isAdmitted: boolean;
  /** Its leave has been decided: further lines from it are dropped, and no timer runs for it. */
  isLeaving: boolean;
  /**
   * The newest history position when it was let in: entries after it reach it live, so a
   * `/resume` on this connection replays only up to here (PROTOCOL.md §10.4). Set at its login.
   */
  seenUpTo: number;
  /** It asked for a token: its live history lines carry their positions (§10.3). */
  isPositioned: boolean;
}

/**
 * Why a connection ended that leaves its session held for a resume (§10.4): it dropped, or the
 * server lost it. A quit, an idle timeout or a kick for what the client did ends the session.
 */
const RESUMABLE: ReadonlySet<CloseReason> = new Set([
  CloseReason.ClientClosed,
  CloseReason.SocketError,
  CloseReason.SlowConsumer,
  CloseReason.KeepaliveTimeout,
  CloseReason.WorkerFailed,
]);

/** Whether a connection that ended for `reason` leaves its session held (§10.4), were it admitted. */
export function holdsSession(reason: CloseReason): boolean {
  return RESUMABLE.has(reason);
}

/** The history a room starts with and where its entries go beyond this process. */
export interface HistoryParts {
  /** What a store kept (store/, --data-dir), oldest first. */
  readonly entries?: readonly HistoryEntry[];
  readonly sink?: HistorySink;
}

/** A resume the room was asked for (§10.4, §10.5): defined with the events that carry it. */
export type { ResumeRequest } from './client-event.ts';

/**
 * A resume its room's sessions let through (the single node's ResumeSessions, or Redis for a
 * cluster), with the session's old connection already closed if it was still there.
 */
export interface ResumeGrant {
  /** The name the connection is to have: the session's, or its own when the session had none. */
  readonly name: string;
  /** The position the client said it had read up to. */
  readonly position: number;
  /** Its new token: the old one is used up. */
  readonly token: string;
}

/** What a room is given to work with, besides its settings. */
export interface RoomParts {
  readonly delivery: Delivery;
  readonly log: Log;
  readonly observer?: RoomObserver;
  /** For the log lines: which worker thread owns a connection (server/messages.ts `workerOf`). */
  readonly workerOf?: (id: number) => number;
  readonly history?: HistoryParts;
  /** The time of day for history entries (ms since the epoch; default Date.now). */
  readonly wallClock?: () => number;
}

/** `/history` without N (§10.2). */
export const DEFAULT_HISTORY_REPLY = 20;

export class RoomCore<Client, Local extends LocalClient<Client> = LocalClient<Client>> {
  readonly members = new NameRegistry<Client>();
  readonly texts: RoomTexts;
  readonly history: ChatHistory;
  /** How long a dropped session is held (--resume-window); 0: sessions are off. */
  readonly resumeWindowMs: number;
  readonly wallClock: () => number;
  readonly #settings: RoomSettings;
  readonly #delivery: Delivery;
  readonly #log: Log;
  readonly #observer: RoomObserver;
  readonly #workerOf: (id: number) => number | undefined;
  readonly #byId = new Map<number, Local>();
  readonly #byClient = new Map<Client, Local>();
  readonly #idle: IdleTimer;
  readonly #limits: AdmissionLimits;
  readonly #refusals: RefusalLog;
  readonly #historySink: HistorySink | null;
  readonly #historyOnJoin: number;
  /** Admitted connections that asked for positions: none, and history lines go out as they always did. */
  #positioned = 0;

  constructor(settings: RoomSettings, parts: RoomParts) {
    this.#settings = settings;
    this.#delivery = parts.delivery;
    this.#log = parts.log;
    this.#observer = parts.observer ?? NO_OBSERVER;
    this.#workerOf = parts.workerOf ?? (() => undefined);
    this.#idle = idleTimerFor(settings);
    this.#limits = new AdmissionLimits(settings);
    this.#refusals = new RefusalLog(parts.log);
    this.texts = new RoomTexts(settings);
    this.history = new ChatHistory(settings.historySize ?? DEFAULT_HISTORY_SIZE, parts.history?.entries);
    this.#historySink = parts.history?.sink ?? null;
    this.#historyOnJoin = Math.min(settings.historyOnJoin ?? 0, this.history.capacity);
    this.resumeWindowMs = (settings.resumeWindowSeconds ?? DEFAULT_RESUME_WINDOW_SECONDS) * 1000;
    this.wallClock = parts.wallClock ?? Date.now;
  }

  /** The stamp of the next entry a single node decides (§10.1). */
  nextStamp(): Stamp {
    return this.history.nextStamp(this.wallClock());
  }

  /** This node's connections, admitted or on their way in or out. */
  get connected(): number {
    return this.#byId.size;
  }

  local(id: number): Local | undefined {
    return this.#byId.get(id);
  }

  localOf(client: Client): Local | undefined {
    return this.#byClient.get(client);
  }

  locals(): IterableIterator<Local> {
    return this.#byId.values();
  }

  // ── this node's connections ──────────────────────────────────────────────────────────────

  /**
   * Checks --max-clients and --max-per-ip against this node's connections: each node guards its
   * own sockets and memory. A refused client is told why and closed; nobody sees a login for it.
   */
  admits(id: number, addr: string, ip: string): boolean {
    const refusal = this.#limits.admit(ip, this.#byId.size);
    if (refusal === null) return true;
    this.#delivery.close(id, encodeError(refusal.error), refusal.reason);
    this.#refusals.refused(addr, refusal.reason, refusal.message);
    this.#observer.onKick(refusal.reason);
    return false;
  }

  /** A connection that `admits` let in: its idle clock starts now; its login is the sequencer's. */
  enter(local: Local, now: number): void {
    this.#byId.set(local.id, local);
    this.#byClient.set(local.client, local);
    this.#idle.touch(local.id, now);
    this.#log.info({ event: 'connect', addr: local.addr, worker: this.#workerOf(local.id), online: this.#byId.size }, 'client connected');
  }

  /** A complete line from it: activity. */
  touch(local: Local, now: number): void {
    this.#idle.touch(local.id, now);
  }

  /**
   * Its leave is decided (its event follows): no more lines, no timer, and the log line
   * (OPERATIONS.md §5): `leave` when it left by itself, `kick` and a kick counted for the rest.
   */
  startLeaving(local: Local, reason: CloseReason): void {
    local.isLeaving = true;
    this.#idle.remove(local.id);
    // `online`: this node's connections once this one is gone.
    const fields = { event: 'leave', addr: local.addr, name: local.name, online: this.#byId.size - 1, reason };
    if (reason === CloseReason.ClientClosed || reason === CloseReason.Quit || reason === CloseReason.Replaced) {
      this.#log.info(fields, 'client left');
      return;
    }
    this.#log.warn({ ...fields, event: 'kick' }, 'client disconnected by the server');
    this.#observer.onKick(reason);
  }

  /** Its socket is closed, or about to be: it no longer counts here, and nothing more is sent. */
  forget(local: Local): void {
    if (this.#byId.get(local.id) !== local) return;
    this.#byId.delete(local.id);
    this.#delivery.forget(local.id);
    this.#byClient.delete(local.client);
    this.#idle.remove(local.id);
    this.#limits.release(local.ip);
    if (local.isPositioned && local.isAdmitted) this.#positioned--;
  }

  /** Connections idle since before `now` whose leave the sequencer must now decide. */
  takeIdle(now: number): Local[] {
    const expired: Local[] = [];
    for (const id of this.#idle.takeExpired(now)) {
      const local = this.#byId.get(id);
      if (local !== undefined && !local.isLeaving) expired.push(local);
    }
    // The warning is this node's own notice to its client: it needs nobody else's order.
    for (const id of this.#idle.takeWarnings(now)) {
      const local = this.#byId.get(id);
      if (local !== undefined && local.isAdmitted && !local.isLeaving) this.#delivery.send(id, this.texts.idleWarning);
    }
    return expired;
  }

  /** When the next idle timeout or warning falls due, if anyone is connected. */
  nextIdleDeadline(): number | undefined {
    return this.#idle.nextDeadline();
  }

  /** Everyone online in order of arrival, as `who` lists them (PROTOCOL.md §5.3). */
  who(): WhoEntry[] {
    return [...this.members.values()].map(({ addr, name }) => ({ addr, name }));
  }

  /** A line for one connection (a reply), if it is still here. */
  send(local: Local, text: string): void {
    if (this.#byId.get(local.id) === local) this.#delivery.send(local.id, text);
  }

  replyError(local: Local, error: ProtocolError): void {
    this.send(local, encodeError(error));
  }

  // ── history and resume (PROTOCOL.md §10) ──────────────────────────────────────────────────

  /** `/history [N]`: the last N entries (default 20), to this client only. */
  sendHistory(local: Local, count: number | null): void {
    this.send(local, encodeHistory(this.history.last(count ?? DEFAULT_HISTORY_REPLY)));
  }

  /** Whether the room holds sessions at all (§10.4: `--resume-window 0` turns them off). */
  get hasSessions(): boolean {
    return this.resumeWindowMs > 0;
  }

  /**
   * `/token`: its token, given by the room's sessions, and positions on its live history lines
   * from now on. The reply's position is that of the last entry it was sent (§10.3).
   */
  giveToken(local: Local, token: string): void {
    this.#position(local);
    this.send(local, encodeToken(token, this.history.latest));
  }

  /**
   * Carries out a resume the room's sessions granted, on `local`: a connection online under its
   * address (a `/resume` line), or one not yet let in (the WebSocket handshake, §10.5). In this
   * order (§10.4): the entries it missed, up to those this connection was sent live; its name
   * (a login, which lets in a connection not yet in); then `resumed` with its new token.
   */
  resume(local: Local, grant: ResumeGrant): void {
    const upTo = local.isAdmitted ? local.seenUpTo : this.history.latest;
    const missed = this.history.after(grant.position, upTo);
    this.#observer.onResume?.('resumed', missed.lost);
    this.send(local, encodeResumeReply(missed.entries, missed.lost));
    if (!local.isAdmitted || grant.name !== local.name) {
      this.apply({ kind: 'login', client: local.client, addr: local.addr, name: grant.name }, { isResume: true });
    }
    this.#position(local);
    this.send(local, encodeResumed(grant.token, this.history.latest));
  }

  /** A resume refused, and why (§10.4): the client is told, and the refusal counted. */
  refuseResume(local: Local, error: ProtocolError): void {
    this.#observer.onResume?.('refused', 0);
    this.replyError(local, error);
  }

  #position(local: Local): void {
    if (local.isPositioned) return;
    local.isPositioned = true;
    if (local.isAdmitted) this.#positioned++;
    this.#delivery.position(local.id);
  }

  /** Keeps a stamped entry and broadcasts it, with its position for those who asked (§10.3). */
  #broadcastEntry(kind: HistoryKind, addr: string, name: string, text: string, stamp: Stamp | undefined, except: number): void {
    const entry: HistoryEntry = { position: stamp?.position ?? 0, time: stamp?.time ?? 0, kind, addr, name, text };
    if (stamp === undefined) return this.#delivery.broadcast(encodeLive(entry), except);
    this.history.record(entry);
    this.#historySink?.append(entry);
    const live = encodeLive(entry);
    this.#delivery.broadcast(live, except, this.#positioned > 0 ? encodePositioned(entry.position, live) : undefined);
  }

  // ── the one place that decides who receives what ─────────────────────────────────────────

  /**
   * Carries out one decided event. Every rule of who receives what lives here, so the single
   * node, the cluster and the cluster's fallback during an outage cannot disagree. Applying an
   * event a second time changes nothing and sends nothing, except `chat`, `private` and
   * `announce`, which the cluster never applies twice (cluster/cluster-room.ts `SHOWN_ONCE`).
   */
  apply(event: RoomEvent<Client>, options: { readonly isResume?: boolean } = {}): void {
    const delivery = this.#delivery;
    switch (event.kind) {
      case 'login': {
        const known = this.members.get(event.client);
        this.members.set(event.client, event.addr, event.name);
        const local = this.#byClient.get(event.client);
        if (local !== undefined) local.name = event.name;
        const isNew = local !== undefined && !local.isAdmitted;
        if (isNew) {
          local.isAdmitted = true;
          local.seenUpTo = this.history.latest;
          if (local.isPositioned) this.#positioned++;
          delivery.admit(local.id);
        }
        // §5.1: everyone, the newcomer too, sees the login first; a login already shown (a
        // cluster's resync after a blip) is not news.
        if (known === undefined || known.name !== event.name) delivery.broadcast(encodeLogin(event.addr, event.name), NOBODY);
        if (isNew) {
          delivery.send(local.id, encodeGreeting(event.addr, event.name));
          if (this.texts.motd !== '') delivery.send(local.id, this.texts.motd);
          // §10.2: a resumed client has just been sent what it missed instead.
          if (this.#historyOnJoin > 0 && options.isResume !== true) this.sendHistory(local, this.#historyOnJoin);
        }
        return;
      }
      case 'chat':
        return this.#broadcastEntry('chat', event.addr, event.name, event.text, event.stamp, NOBODY);
      case 'rename': {
        this.members.set(event.client, event.addr, event.newName);
        const local = this.#byClient.get(event.client);
        if (local !== undefined) {
          local.name = event.newName;
          // §5.4: the renamed client gets its confirmation instead of the broadcast; with a
          // token, with the entry's position, since it stands for that entry (§10.3).
          const isPositioned = local.isPositioned && event.stamp !== undefined;
          delivery.send(local.id, isPositioned ? encodePositioned(event.stamp.position, encodeRenameOk()) : encodeRenameOk());
          this.#log.info({ event: 'rename', addr: event.addr, from: event.name, to: event.newName }, 'client renamed');
        }
        return this.#broadcastEntry('rename', event.addr, event.name, event.newName, event.stamp, local?.id ?? NOBODY);
      }
      case 'private': {
        const recipient = this.#byClient.get(event.to);
        if (recipient !== undefined) delivery.send(recipient.id, encodePrivate(event.addr, event.name, event.text));
        const sender = this.#byClient.get(event.from);
        if (sender !== undefined) delivery.send(sender.id, encodeMsgOk());
        return;
      }
      case 'leave': {
        const local = this.#byClient.get(event.client);
        if (local !== undefined) {
          this.forget(local);
          // §3.3: closed first, so the client that leaves is not sent its own `login out`; a
          // half-closed socket is closed once the replies before this point are out.
          delivery.close(local.id, null, event.reason);
        }
        const member = this.members.remove(event.client);
        if (member !== undefined) delivery.broadcast(encodeLogout(member.addr, member.name), NOBODY);
        return;
      }
      case 'timeout': {
        const local = this.#byClient.get(event.client);
        const member = this.members.remove(event.client);
        // §5.2: everyone else is told; the idle client is told why, then closed.
        if (member !== undefined) delivery.broadcast(encodeTimedOut(member.addr, member.name), local?.id ?? NOBODY);
        if (local !== undefined) {
          this.forget(local);
          delivery.close(local.id, encodeError(idleTimeout(this.#settings.idleTimeoutSeconds)), CloseReason.IdleTimeout);
        }
        return;
      }
      case 'announce':
        return this.#broadcastEntry('announce', '', '', event.text, event.stamp, NOBODY);
      case 'notice':
        return delivery.broadcast(encodeAnnouncement(event.text), NOBODY);
    }
  }
}
