// This node's reading of the cluster's stream (docs/CLUSTER.md §3, §5): from a snapshot of who
// is online, then entry by entry in the one global order, each turned into the RoomEvent it
// records and applied with RoomCore.apply. Runs in the primary thread, inside ClusterRoom.

import { CloseReason } from '../room/close-reason.ts';
import type { Log } from '../room/log.ts';
import type { RoomCore } from '../room/room-core.ts';
import type { HistoryEntry, Stamp } from '../room/history.ts';
import type { RoomEvent } from '../room/room-events.ts';
import type { ClusterLink, RawEntry } from './cluster-link.ts';
import type { ClusterClient } from './cluster-client.ts';
import type { ClusterTimers } from './cluster-timers.ts';
import { nodeOfClient, parseEntry, parseKeptEntry, type Entry, type LoginEntry } from './entries.ts';
import { STREAM_START, timeOfStreamId, type StreamId } from './stream-id.ts';

/** What the `snapshot` script answers (cluster/scripts.ts): the last id, who is online, the kept history. */
export type Snapshot = readonly [last: StreamId, who: readonly string[], kept: readonly string[]];

/** Kinds of entries that a node which showed them during an outage skips when they come back. */
const SHOWN_ONCE: ReadonlySet<Entry['kind']> = new Set(['chat', 'private', 'announce', 'rename']);

/** Entries taken from the stream per read. */
const READ_COUNT = 5000;
const READ_BLOCK_MS = 1000;
/** After a failed read, the next try (the link's own reconnecting paces the rest). */
export const READ_RETRY_MS = 200;

export class ClusterStream {
  /** Where this node has read the stream up to; every entry up to it has been applied. */
  position: StreamId = STREAM_START;
  /** Called after every batch of entries applied. */
  onRead: () => void = () => {};
  /** Called when an entry of this node's request `seq` is applied. */
  onOwnEntry: (seq: number) => void = () => {};
  /**
   * Called for the login of a session this node's client took back (CLUSTER.md §9) instead of
   * applying it; returns false when the room has no resume waiting for it, and it is applied as
   * any login.
   */
  onOwnResume: (entry: LoginEntry) => boolean = () => false;
  readonly #node: string;
  readonly #core: RoomCore<string, ClusterClient>;
  readonly #link: ClusterLink;
  readonly #log: Log;
  readonly #timers: ClusterTimers;
  /**
   * This node's requests that failed with the link and were carried out here: if Redis did run
   * them after all, their entries come back through the stream and must not be shown twice.
   */
  readonly #shownHere = new Set<number>();
  #isStopped = false;
  #loop: Promise<void> = Promise.resolve();

  constructor(node: string, core: RoomCore<string, ClusterClient>, link: ClusterLink, log: Log, timers: ClusterTimers) {
    this.#node = node;
    this.#core = core;
    this.#link = link;
    this.#log = log;
    this.#timers = timers;
  }

  /** Resolves once the read loop has ended (after stop). */
  get stopped(): Promise<void> {
    return this.#loop;
  }

  /**
   * Starts from the `snapshot` script's answer: who is online (client, addr, name of each), the
   * history as Redis keeps it, and the last id, from which it reads on. Nobody is connected to
   * this node yet, so the history is recorded, not broadcast.
   */
  startFrom([last, who, kept]: Snapshot): void {
    this.position = last;
    for (let i = 0; i + 2 < who.length; i += 3) this.#core.members.set(who[i]!, who[i + 1]!, who[i + 2]!);
    for (const raw of kept) {
      try {
        const entry = historyEntryOf(parseKeptEntry(raw));
        if (entry !== null) this.#core.history.record(entry);
      } catch (error) {
        this.#log.error({ err: error }, 'could not read a kept history entry; skipped');
      }
    }
    this.#loop = this.#follow();
  }

  /** This node's request `seq` was carried out here; its entry, should it come back, is not news. */
  shownHere(seq: number): void {
    this.#shownHere.add(seq);
  }

  stop(): void {
    this.#isStopped = true;
  }

  async #follow(): Promise<void> {
    while (!this.#isStopped) {
      let batch: RawEntry[];
      try {
        batch = await this.#link.read(this.position, READ_COUNT, READ_BLOCK_MS);
      } catch (error) {
        if (this.#isStopped) return;
        this.#log.debug({ err: error }, 'reading the cluster stream failed; retrying');
        await this.#timers.delay(READ_RETRY_MS);
        continue;
      }
      if (this.#isStopped) return;
      if (!this.#link.isUp) {
        // While the node is alone, a read that still arrives (the two connections do not drop at
        // the same instant) waits: applied now, an older entry of another node could land after
        // this node's own lines that the link's loss has just shown. Read again once it is back.
        await this.#timers.delay(READ_RETRY_MS);
        continue;
      }
      for (const [id, fields] of batch) {
        this.position = id;
        try {
          this.#apply(parseEntry(id, fields));
        } catch (error) {
          // An entry this node cannot read is logged and skipped: the chat goes on.
          this.#log.error({ err: error, id }, 'could not apply a cluster stream entry; skipped');
        }
      }
      if (batch.length > 0) this.onRead();
    }
  }

  #apply(entry: Entry): void {
    // Already shown here while the link was down. (A login or leave shown then is in the registry
    // already, which makes its entry no news to RoomCore.apply.)
    if (entry.node === this.#node) {
      this.onOwnEntry(entry.seq);
      if (this.#shownHere.delete(entry.seq) && SHOWN_ONCE.has(entry.kind)) return;
      if (entry.kind === 'login' && entry.isResume && this.onOwnResume(entry)) return;
    }
    const event = this.#eventOf(entry);
    if (event !== null) this.#core.apply(event);
  }

  /** The room event an entry records, or null when it is none for this node. */
  #eventOf(entry: Entry): RoomEvent<string> | null {
    switch (entry.kind) {
      case 'login':
        // #11: a client of this node that is gone already (it joined as the link dropped and left
        // during the outage, shown here then): its login is history, and its logout follows.
        if (nodeOfClient(entry.client) === this.#node && this.#core.localOf(entry.client) === undefined) return null;
        return { kind: 'login', client: entry.client, addr: entry.addr, name: entry.name };
      case 'chat':
        return { kind: 'chat', addr: entry.addr, name: entry.name, text: entry.text, ...stamped(entry) };
      case 'rename':
        return { kind: 'rename', client: entry.client, addr: entry.addr, name: entry.name, newName: entry.newName, ...stamped(entry) };
      case 'private':
        return { kind: 'private', from: entry.client, to: entry.to, addr: entry.addr, name: entry.name, text: entry.text };
      case 'timeout':
        return { kind: 'timeout', client: entry.client };
      case 'announce':
        return { kind: 'announce', text: entry.text, ...stamped(entry) };
      case 'logout': {
        if ((entry.why === 'node-lost' || entry.why === 'node-stopped') && this.#core.localOf(entry.client) !== undefined) {
          // This node was given up for dead while its clients were still here (a stall, a long
          // blip). For the other nodes they left; here they never did, so nobody here is told,
          // and the next heartbeat finds the node unknown and registers them again (their
          // `login` is then no news here either: the registry still has them).
          return null;
        }
        const local = this.#core.localOf(entry.client);
        if (local !== undefined && !local.isLeaving) {
          // A leave this node did not decide: its session was taken back on another connection
          // (PROTOCOL.md §10.4), and this one is closed.
          this.#core.startLeaving(local, CloseReason.Replaced);
          return { kind: 'leave', client: entry.client, reason: CloseReason.Replaced };
        }
        return { kind: 'leave', client: entry.client, reason: entry.why === 'quit' ? CloseReason.Quit : CloseReason.ClientClosed };
      }
    }
  }
}

/**
 * Where a history entry stands (PROTOCOL.md §10.1): the position its script counted, and the time
 * of its stream id, Redis's clock, the same on every node. None for an entry without a position.
 */
function stampOf(entry: Entry): Stamp | undefined {
  if (!('position' in entry) || entry.position === null) return undefined;
  return { position: entry.position, time: timeOfStreamId(entry.id) };
}

/** `{stamp}` for an event of an entry that has one, else nothing (the event's stamp is optional). */
function stamped(entry: Entry): { readonly stamp: Stamp } | Record<never, never> {
  const stamp = stampOf(entry);
  return stamp === undefined ? {} : { stamp };
}

/** A kept entry as the history holds it (PROTOCOL.md §10.2: a rename's text is the new name). */
function historyEntryOf(entry: Entry): HistoryEntry | null {
  const stamp = stampOf(entry);
  if (stamp === undefined) return null;
  const at = { position: stamp.position, time: stamp.time };
  switch (entry.kind) {
    case 'chat':
      return { ...at, kind: 'chat', addr: entry.addr, name: entry.name, text: entry.text };
    case 'rename':
      return { ...at, kind: 'rename', addr: entry.addr, name: entry.name, text: entry.newName };
    case 'announce':
      return { ...at, kind: 'announce', addr: '', name: '', text: entry.text };
    default:
      return null;
  }
}
