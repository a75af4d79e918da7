// The room of a chatd that runs alone: the sequencer that decides every event at once, in the
// order the primary hears of it, and hands it to RoomCore.apply. A name is claimed here, against
// this node's registry; the cluster's room (cluster/) claims it through Redis instead.
// Pure apart from the Delivery and the log, so the tests drive it with a fake clock.

import { dispatchCommand, encodeRenameOk, encodeWho, nameTaken, noSuchUser, type CommandHandlers, type WhoEntry } from '../protocol/index.ts';
import type { ClientEvent } from './client-event.ts';
import { CloseReason } from './close-reason.ts';
import { RoomCore, type LocalClient, type ResumeRequest, type RoomParts } from './room-core.ts';
import type { Room, RoomSettings } from './room.ts';

/** On one node a member is named by its connection id. */
type Local = LocalClient<number>;

export class SingleNodeRoom implements Room {
  readonly #core: RoomCore<number>;
  /** The time of the event being handled, for the command handlers (ms, monotonic). */
  #now = 0;

  constructor(settings: RoomSettings, parts: RoomParts) {
    this.#core = new RoomCore(settings, parts);
  }

  readonly link = null;

  async start(): Promise<void> {}

  get online(): number {
    return this.#core.members.size;
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
      if (this.#core.isNameHeld(name, this.#now) || !this.#core.members.claim(local.client, local.addr, name)) {
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
    token: (local) => this.#core.giveToken(local),
    resume: (local, request) => {
      const refusal = this.#core.refuseResume(request, this.#now);
      if (refusal !== null) return this.#core.replyError(local, refusal);
      this.#core.resume(local, request, this.#now, (old) => this.#leave(old, CloseReason.Replaced));
    },
    invalid: (local, { error }) => this.#core.replyError(local, error),
  };

  expireIdle(now: number): number | undefined {
    this.#now = now;
    for (const local of this.#core.takeIdle(now)) {
      this.#core.startLeaving(local, CloseReason.IdleTimeout, now);
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
    this.#core.startLeaving(local, reason, this.#now);
    this.#core.apply({ kind: 'leave', client: local.client, reason });
  }

  /**
   * §10.5: a WebSocket that resumes in its handshake is let in under its session's name, after
   * what it missed. A refused token lets it in as a newcomer, told why after its greeting.
   */
  #resumeAtConnect(local: Local, request: ResumeRequest): void {
    const refusal = this.#core.refuseResume(request, this.#now);
    if (refusal === null) return this.#core.resume(local, request, this.#now, (old) => this.#leave(old, CloseReason.Replaced));
    this.#core.apply({ kind: 'login', client: local.client, addr: local.addr, name: local.addr });
    this.#core.replyError(local, refusal);
  }
}
