// The room of a chatd that runs alone: the sequencer that decides every event at once, in the
// order the primary hears of it, and hands it to RoomCore.apply. A name is claimed here, against
// this node's registry, and the resume sessions are kept here, in memory (ResumeSessions); the
// cluster's room (cluster/) keeps both in Redis instead. Pure apart from the Delivery and the log,
// so the tests drive it with a fake clock.

import {
  dispatchCommand,
  encodeRenameOk,
  encodeWho,
  nameTaken,
  noSuchUser,
  resumeAhead,
  resumeOff,
  resumeRefused,
  type CommandHandlers,
  type ProtocolError,
  type WhoEntry,
} from '../protocol/index.ts';
import type { ClientEvent } from './client-event.ts';
import { CloseReason } from './close-reason.ts';
import { ResumeSessions } from './resume-sessions.ts';
import { holdsSession, RoomCore, type LocalClient, type ResumeRequest, type RoomParts } from './room-core.ts';
import type { HistoryStatus, Room, RoomSettings } from './room.ts';

/** On one node a member is named by its connection id. */
type Local = LocalClient<number>;

export class SingleNodeRoom implements Room {
  readonly #core: RoomCore<number>;
  readonly #sessions: ResumeSessions<Local>;
  /** The time of the event being handled, for the command handlers (ms, monotonic). */
  #now = 0;

  constructor(settings: RoomSettings, parts: RoomParts) {
    this.#core = new RoomCore(settings, parts);
    this.#sessions = new ResumeSessions(this.#core.resumeWindowMs);
  }

  readonly link = null;

  async start(): Promise<void> {}

  get online(): number {
    return this.#core.members.size;
  }

  get history(): HistoryStatus {
    return this.#core.history;
  }

  handle(event: ClientEvent, now: number): void {
    const core = this.#core;
    this.#now = now;
    switch (event.kind) {
      case 'connect': {
        if (!core.admits(event.id, event.addr, event.ip)) return;
        const { id, addr, ip } = event;
        const local: Local = { id, client: id, addr, ip, name: addr, isAdmitted: false, isLeaving: false, seenUpTo: 0, isPositioned: false };
        core.enter(local, now);
        if (event.resume !== undefined) return this.#resumeAtConnect(local, event.resume);
        // Its address is its first name: unique while it is connected, and never a name anyone
        // can choose (PROTOCOL.md §4 refuses ':').
        return core.apply({ kind: 'login', client: id, addr, name: addr });
      }
      case 'command': {
        const local = core.local(event.id);
        // Lines that were in flight when the client left or was refused: nothing to do.
        if (local === undefined || local.isLeaving) return;
        core.touch(local, now);
        return dispatchCommand(this.#commands, local, event.command);
      }
      case 'framing-error': {
        const local = core.local(event.id);
        if (local !== undefined && !local.isLeaving) core.replyError(local, event.error);
        return;
      }
      case 'disconnect': {
        const local = core.local(event.id);
        if (local === undefined) return; // already gone: timed out, quit, or refused at connect
        return this.#leave(local, event.reason);
      }
    }
  }

  /** What each command does on one node: decided here and now. */
  readonly #commands: CommandHandlers<Local> = {
    empty: () => {},
    text: (local, { text }) => this.#core.apply({ kind: 'chat', addr: local.addr, name: local.name, text, stamp: this.#core.nextStamp() }),
    who: (local) => this.#core.send(local, encodeWho(this.#core.members.values())),
    rename: (local, { name }) => {
      // The name it already has is confirmed without telling anyone.
      if (name === local.name) return this.#core.send(local, encodeRenameOk());
      // §10.4: a name held for a dropped session is taken too.
      if (this.#sessions.isNameHeld(name, this.#now) || !this.#core.members.claim(local.client, local.addr, name)) {
        return this.#core.replyError(local, nameTaken(name));
      }
      const stamp = this.#core.nextStamp();
      this.#core.apply({ kind: 'rename', client: local.client, addr: local.addr, name: local.name, newName: name, stamp });
    },
    msg: (local, { to, text }) => {
      const recipient = this.#core.members.findByName(to);
      if (recipient === undefined) return this.#core.replyError(local, noSuchUser(to));
      this.#core.apply({ kind: 'private', from: local.client, to: recipient.client, addr: local.addr, name: local.name, text });
    },
    quit: (local) => this.#leave(local, CloseReason.Quit),
    help: (local) => this.#core.send(local, this.#core.texts.help),
    history: (local, { count }) => this.#core.sendHistory(local, count),
    token: (local) => {
      if (!this.#core.hasSessions) return this.#core.replyError(local, resumeOff());
      this.#core.giveToken(local, this.#sessions.issue(local));
    },
    resume: (local, request) => {
      const refusal = this.#refuseResume(request);
      if (refusal !== null) return this.#core.refuseResume(local, refusal);
      this.#resume(local, request);
    },
    invalid: (local, { error }) => this.#core.replyError(local, error),
  };

  expireIdle(now: number): number | undefined {
    this.#now = now;
    for (const local of this.#core.takeIdle(now)) {
      this.#startLeaving(local, CloseReason.IdleTimeout);
      this.#core.apply({ kind: 'timeout', client: local.client });
    }
    return this.#core.nextIdleDeadline();
  }

  nextIdleDeadline(): number | undefined {
    return this.#core.nextIdleDeadline();
  }

  dropConnections(isLost: (id: number) => boolean, now: number): void {
    this.#now = now;
    for (const local of [...this.#core.locals()]) if (isLost(local.id)) this.#leave(local, CloseReason.WorkerFailed);
  }

  who(): WhoEntry[] {
    return this.#core.who();
  }

  setMotd(lines: readonly string[]): void {
    this.#core.texts.setMotd(lines);
  }

  announce(text: string): number {
    this.#core.apply({ kind: 'announce', text, stamp: this.#core.nextStamp() });
    return this.#core.members.size;
  }

  /** One node's room holds nothing outside this process. */
  async stop(): Promise<void> {}

  #leave(local: Local, reason: CloseReason): void {
    this.#startLeaving(local, reason);
    this.#core.apply({ kind: 'leave', client: local.client, reason });
  }

  /** §10.4: a drop holds its session (and its chosen name) for a resume; any other leave ends it. */
  #startLeaving(local: Local, reason: CloseReason): void {
    if (holdsSession(reason) && local.isAdmitted) this.#sessions.hold(local, local.name === local.addr ? null : local.name, this.#now);
    else this.#sessions.end(local);
    this.#core.startLeaving(local, reason);
  }

  /** The error a resume is refused with, or null when it can go ahead (a refusal uses nothing up). */
  #refuseResume(request: ResumeRequest): ProtocolError | null {
    if (!this.#core.hasSessions) return resumeOff();
    if (this.#sessions.find(request.token, this.#now) === undefined) return resumeRefused(this.#core.resumeWindowMs / 1000);
    const latest = this.#core.history.latest;
    if (request.position > latest) return resumeAhead(request.position, latest);
    return null;
  }

  /**
   * Carries out a resume `#refuseResume` let through. The session's old connection, if it is
   * somehow still here, is closed first (`Replaced`), and its name is the one given back.
   */
  #resume(local: Local, request: ResumeRequest): void {
    const session = this.#sessions.find(request.token, this.#now);
    if (session === undefined) return;
    const old = session.local;
    const held = old === null ? session.name : old.name === old.addr ? null : old.name;
    this.#sessions.take(request.token);
    if (old !== null && old !== local) this.#leave(old, CloseReason.Replaced);
    this.#core.resume(local, { name: held ?? local.name, position: request.position, token: this.#sessions.issue(local) });
  }

  /**
   * §10.5: a WebSocket that resumes in its handshake is let in under its session's name, after
   * what it missed. A refused token lets it in as a newcomer, told why after its greeting.
   */
  #resumeAtConnect(local: Local, request: ResumeRequest): void {
    const refusal = this.#refuseResume(request);
    if (refusal === null) return this.#resume(local, request);
    this.#core.apply({ kind: 'login', client: local.client, addr: local.addr, name: local.addr });
    this.#core.refuseResume(local, refusal);
  }
}
