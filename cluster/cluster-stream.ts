// This node's reading of the cluster's stream (docs/CLUSTER.md §3, §5): from a snapshot of who
// is online, then entry by entry in the one global order, each turned into the RoomEvent it
// records and applied with RoomCore.apply. Runs in the primary thread, inside ClusterRoom.

import { CloseReason } from '../room/close-reason.ts';
import type { Log } from '../room/log.ts';
import type { RoomCore } from '../room/room-core.ts';
import type { RoomEvent } from '../room/room-events.ts';
import type { ClusterLink, RawEntry } from './cluster-link.ts';
import type { ClusterClient } from './cluster-client.ts';
import type { ClusterTimers } from './cluster-timers.ts';
import { nodeOfClient, parseEntry, type Entry } from './entries.ts';
import { STREAM_START, type StreamId } from './stream-id.ts';

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

  /** Starts from the `snapshot` script's answer: the last id, then client, addr, name of each online. */
  startFrom(snapshot: readonly string[]): void {
    this.position = snapshot[0]!;
    for (let i = 1; i + 2 < snapshot.length; i += 3) this.#core.members.set(snapshot[i]!, snapshot[i + 1]!, snapshot[i + 2]!);
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
        return { kind: 'chat', addr: entry.addr, name: entry.name, text: entry.text };
      case 'rename':
        return { kind: 'rename', client: entry.client, addr: entry.addr, name: entry.name, newName: entry.newName };
      case 'private':
        return { kind: 'private', from: entry.client, to: entry.to, addr: entry.addr, name: entry.name, text: entry.text };
      case 'timeout':
        return { kind: 'timeout', client: entry.client };
      case 'announce':
        return { kind: 'announce', text: entry.text };
      case 'logout': {
        if ((entry.why === 'node-lost' || entry.why === 'node-stopped') && this.#core.localOf(entry.client) !== undefined) {
          // This node was given up for dead while its clients were still here (a stall, a long
          // blip). For the other nodes they left; here they never did, so nobody here is told,
          // and the next heartbeat finds the node unknown and registers them again (their
          // `login` is then no news here either: the registry still has them).
          return null;
        }
        return { kind: 'leave', client: entry.client, reason: entry.why === 'quit' ? CloseReason.Quit : CloseReason.ClientClosed };
      }
    }
  }
}
