// The chat's history (PROTOCOL.md §10): chat lines, renames and announcements, each with its
// position in the global order and the time it was said, the last `--history-size` of them kept
// in memory. The sequencer stamps an entry (its position and time); RoomCore.apply records it
// here as it broadcasts it, and hands it to the sink that keeps it on disk (store/, --data-dir).
// Pure; runs in the primary thread.

import type { HistoryEntry } from '../protocol/index.ts';

export type { HistoryEntry, HistoryKind } from '../protocol/index.ts';

/** Where an event stands in the history: its position (`@N`) and when it was said (ms, UTC). */
export interface Stamp {
  readonly position: number;
  readonly time: number;
}

/** What keeps the entries beyond this process (store/history-store.ts), or nothing. */
export interface HistorySink {
  /** Called once per entry, in order; must not block: it queues the write. */
  append(entry: HistoryEntry): void;
}

/** What `after` finds for a client that comes back at a position. */
export interface Missed {
  readonly entries: readonly HistoryEntry[];
  /** Entries after the position that are no longer kept (older than the oldest kept). */
  readonly lost: number;
}

export class ChatHistory {
  readonly capacity: number;
  /** A ring of the last `capacity` entries; `#first` is the oldest. */
  readonly #ring: HistoryEntry[] = [];
  #first = 0;
  /** The newest position decided so far (0: none); survives entries falling out of the ring. */
  #latest = 0;

  /** `entries`: what a store kept, oldest first (the last `capacity` of them are kept). */
  constructor(capacity: number, entries: readonly HistoryEntry[] = []) {
    this.capacity = capacity;
    for (const entry of entries) this.record(entry);
  }

  /** The position of the newest entry (0 when there has been none). */
  get latest(): number {
    return this.#latest;
  }

  get size(): number {
    return this.#ring.length;
  }

  /** The stamp of the next entry a single node decides: one position past the newest. */
  nextStamp(time: number): Stamp {
    return { position: this.#latest + 1, time };
  }

  /** Keeps an entry; positions must grow (an older one is ignored: a cluster's re-read). */
  record(entry: HistoryEntry): void {
    if (entry.position <= this.#latest) return;
    this.#latest = entry.position;
    if (this.capacity === 0) return;
    if (this.#ring.length < this.capacity) {
      this.#ring.push(entry);
      return;
    }
    this.#ring[this.#first] = entry;
    this.#first = (this.#first + 1) % this.capacity;
  }

  /** The last `count` entries, oldest first. */
  last(count: number): HistoryEntry[] {
    const size = this.#ring.length;
    const take = Math.min(Math.max(count, 0), size);
    const out: HistoryEntry[] = new Array<HistoryEntry>(take);
    for (let i = 0; i < take; i++) out[i] = this.#ring[(this.#first + size - take + i) % size]!;
    return out;
  }

  /**
   * The entries after `position` up to and including `upTo`, oldest first, and how many of
   * those are missing: every position is one entry (§10.1), so a position in the range that is
   * not kept (older than the oldest, or a gap a failed disk write left in a restarted history)
   * is one entry the client is told it missed.
   */
  after(position: number, upTo: number = this.#latest): Missed {
    const end = Math.min(upTo, this.#latest);
    if (end <= position) return { entries: [], lost: 0 };
    const size = this.#ring.length;
    const at = (index: number): HistoryEntry => this.#ring[(this.#first + index) % size]!;
    // The first kept entry past `position`: positions grow along the ring (a cluster's may skip).
    let low = 0;
    let high = size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (at(middle).position <= position) low = middle + 1;
      else high = middle;
    }
    const entries: HistoryEntry[] = [];
    for (let index = low; index < size && at(index).position <= end; index++) entries.push(at(index));
    return { entries, lost: end - position - entries.length };
  }
}
