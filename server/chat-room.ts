// The chat itself: carries out every client event against presence and decides what each client
// receives, in one global order. Runs in the primary thread only; pure apart from the Delivery
// it writes to and the log, so the tests drive it with a fake clock and a recording Delivery.

import {
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
  nameTaken,
  noSuchUser,
  type Command,
  type ProtocolError,
  type WhoEntry,
} from '../protocol/index.ts';
import { CloseReason } from '../room/close-reason.ts';
import { AdmissionLimits } from '../room/admission-limits.ts';
import type { IdleTimer } from '../room/idle-timer.ts';
import type { Logger } from './log.ts';
import { NOBODY } from '../room/delivery.ts';
import { workerOf, type ClientEvent } from './messages.ts';
import { Presence, type Member } from './presence.ts';
import { RefusalLog } from '../room/refusal-log.ts';
import type { Room, RoomSettings } from '../room/room.ts';
import { idleTimerFor, RoomTexts } from '../room/room-texts.ts';

/**
 * Where the room's decisions go. Calls are in the one global order; an implementation MUST keep
 * that order for every client it delivers to.
 */
export interface Delivery {
  admit(id: number): void;
  /** To every online client except `except` (NOBODY: to all). */
  broadcast(text: string, except: number): void;
  send(id: number, text: string): void;
  /** Sends `text` if given, then closes the connection. */
  close(id: number, text: string | null, reason: CloseReason): void;
}

/** What the room reports as it happens, for the metrics. Called in the primary, rarely: never per line. */
export interface RoomObserver {
  /** A client was put out by the server, or refused at connect. */
  onKick(reason: CloseReason): void;
}

const NO_OBSERVER: RoomObserver = { onKick: () => {} };

export class ChatRoom implements Room {
  readonly #settings: RoomSettings;
  readonly #delivery: Delivery;
  readonly #log: Logger;
  readonly #observer: RoomObserver;
  readonly #presence = new Presence();
  readonly #idle: IdleTimer;
  /** --max-clients and --max-per-ip, and each client's address to release it by. */
  readonly #limits: AdmissionLimits;
  readonly #ipOf = new Map<number, string>();
  readonly #refusals: RefusalLog;
  readonly #texts: RoomTexts;

  constructor(settings: RoomSettings, delivery: Delivery, log: Logger, observer: RoomObserver = NO_OBSERVER) {
    this.#settings = settings;
    this.#delivery = delivery;
    this.#log = log;
    this.#observer = observer;
    this.#idle = idleTimerFor(settings);
    this.#limits = new AdmissionLimits(settings);
    this.#refusals = new RefusalLog(log);
    this.#texts = new RoomTexts(settings);
  }

  /** A new message of the day for those who connect from now on (SIGHUP). */
  setMotd(lines: readonly string[]): void {
    this.#texts.setMotd(lines);
  }

  get online(): number {
    return this.#presence.size;
  }

  /** Carries out one event from a worker; `now` is the time it is handled (ms, monotonic). */
  handle(event: ClientEvent, now: number): void {
    switch (event.kind) {
      case 'connect':
        return this.#connect(event.id, event.addr, event.ip, now);
      case 'command':
        return this.#command(event.id, event.command, now);
      case 'framing-error':
        if (this.#presence.get(event.id) !== undefined) this.#replyError(event.id, event.error);
        return;
      case 'disconnect':
        return this.#leave(event.id, event.reason);
    }
  }

  /** Times out every client idle since before `now`; returns when to call again, if anyone is left. */
  expireIdle(now: number): number | undefined {
    for (const id of this.#idle.takeExpired(now)) {
      const member = this.#remove(id);
      if (member === undefined) continue;
      // Seed: everyone else is told; the idle client is told why, then closed (PROTOCOL.md §5.2).
      this.#delivery.broadcast(encodeTimedOut(member.addr, member.name), id);
      this.#delivery.close(id, encodeError(idleTimeout(this.#settings.idleTimeoutSeconds)), CloseReason.IdleTimeout);
      this.#logLeave(member, CloseReason.IdleTimeout);
    }
    for (const id of this.#idle.takeWarnings(now)) this.#delivery.send(id, this.#texts.idleWarning);
    return this.#idle.nextDeadline();
  }

  /** Everyone on a worker that died is gone: announced as `login out`, names freed. */
  dropWorker(isOnWorker: (id: number) => boolean): void {
    const lost = [...this.#presence.values()].filter((member) => isOnWorker(member.id));
    for (const member of lost) this.#leave(member.id, CloseReason.WorkerFailed);
  }

  /** Everyone online in order of arrival, as `who` lists them (PROTOCOL.md §5.3). */
  who(): WhoEntry[] {
    return [...this.#presence.values()].map(({ addr, name }) => ({ addr, name }));
  }

  /**
   * Sends everyone online one system line (PROTOCOL.md §5.7), in the global order like any
   * broadcast; `text` is already sanitized. Returns how many clients were online to receive it.
   */
  announce(text: string): number {
    this.#delivery.broadcast(encodeAnnouncement(text), NOBODY);
    return this.#presence.size;
  }

  /** When the next idle timeout falls due, if anyone is online. */
  nextIdleDeadline(): number | undefined {
    return this.#idle.nextDeadline();
  }

  /** One node's room holds nothing outside this process. */
  async stop(): Promise<void> {}

  #connect(id: number, addr: string, ip: string, now: number): void {
    // Nobody sees a login for a client that never got in.
    const refusal = this.#limits.admit(ip, this.#presence.size);
    if (refusal !== null) {
      this.#delivery.close(id, encodeError(refusal.error), refusal.reason);
      this.#refusals.refused(addr, refusal.reason, refusal.message);
      this.#observer.onKick(refusal.reason);
      return;
    }
    this.#ipOf.set(id, ip);
    const member = this.#presence.add(id, addr);
    this.#idle.touch(id, now);
    this.#delivery.admit(id);
    this.#delivery.broadcast(encodeLogin(addr, member.name), NOBODY);
    this.#delivery.send(id, encodeGreeting(addr, member.name));
    if (this.#texts.motd !== '') this.#delivery.send(id, this.#texts.motd);
    this.#log.info({ event: 'connect', addr, worker: workerOf(id), online: this.#presence.size }, 'client connected');
  }

  #command(id: number, command: Command, now: number): void {
    const member = this.#presence.get(id);
    // Lines that were in flight when the client left or was refused: nothing to do.
    if (member === undefined) return;
    this.#idle.touch(id, now);
    switch (command.type) {
      case 'empty':
        return;
      case 'text':
        return this.#delivery.broadcast(encodeChat(member.addr, member.name, command.text), NOBODY);
      case 'who':
        return this.#delivery.send(id, encodeWho(this.#presence.values()));
      case 'rename':
        return this.#rename(member, command.name);
      case 'msg':
        return this.#privateMessage(member, command.to, command.text);
      case 'quit':
        return this.#leave(id, CloseReason.Quit);
      case 'help':
        return this.#delivery.send(id, this.#texts.help);
      case 'invalid':
        return this.#replyError(id, command.error);
    }
  }

  #rename(member: Member, name: string): void {
    if (name === member.name) return this.#delivery.send(member.id, encodeRenameOk());
    const before = this.#presence.rename(member.id, name);
    if (before === undefined) return this.#replyError(member.id, nameTaken(name));
    this.#delivery.send(member.id, encodeRenameOk());
    this.#delivery.broadcast(encodeRenamed(before.addr, before.name, name), member.id);
    this.#log.info({ event: 'rename', addr: member.addr, from: before.name, to: name }, 'client renamed');
  }

  #privateMessage(sender: Member, to: string, text: string): void {
    const recipient = this.#presence.findByName(to);
    if (recipient === undefined) return this.#replyError(sender.id, noSuchUser(to));
    this.#delivery.send(recipient.id, encodePrivate(sender.addr, sender.name, text));
    this.#delivery.send(sender.id, encodeMsgOk());
  }

  #leave(id: number, reason: CloseReason): void {
    const member = this.#remove(id);
    if (member === undefined) return; // already gone: timed out, or refused at connect
    this.#idle.remove(id);
    // Closed first, so the client that leaves is not sent its own `login out`; a half-closed
    // socket is closed once the replies before this point are out.
    this.#delivery.close(id, null, reason);
    this.#delivery.broadcast(encodeLogout(member.addr, member.name), NOBODY);
    this.#logLeave(member, reason);
  }

  /** Takes a client out of presence and of the per-address count. */
  #remove(id: number): Member | undefined {
    const member = this.#presence.remove(id);
    const ip = this.#ipOf.get(id);
    if (ip !== undefined) {
      this.#ipOf.delete(id);
      this.#limits.release(ip);
    }
    return member;
  }

  #replyError(id: number, error: ProtocolError): void {
    this.#delivery.send(id, encodeError(error));
  }

  #logLeave(member: Member, reason: CloseReason): void {
    logLeave(this.#log, this.#observer, { addr: member.addr, name: member.name, online: this.#presence.size }, reason);
  }
}

/**
 * The log line of a client that is gone (OPERATIONS.md §5): `leave` when it left by itself,
 * `kick` (and a kick for the metrics) for every other reason.
 */
export function logLeave(
  log: Logger,
  observer: RoomObserver,
  client: { readonly addr: string; readonly name: string; readonly online: number },
  reason: CloseReason,
): void {
  const fields = { event: 'leave', ...client, reason };
  if (reason === CloseReason.ClientClosed || reason === CloseReason.Quit) {
    log.info(fields, 'client left');
    return;
  }
  log.warn({ ...fields, event: 'kick' }, 'client disconnected by the server');
  observer.onKick(reason);
}
