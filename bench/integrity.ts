// What one simulated client received, checked against what was sent: every message exactly once,
// each sender's messages in order, and a fingerprint of the whole order to compare across
// clients. Pure; one ClientTally per simulated client, in the bench's worker threads.

/** Counts of one client or of many, merged. */
export interface IntegrityCounts {
  received: number;
  duplicated: number;
  /** Arrived after a later message of the same sender: a per-sender order break. */
  late: number;
  lost: number;
}

export const emptyCounts = (): IntegrityCounts => ({ received: 0, duplicated: 0, late: 0, lost: 0 });

export function addCounts(into: IntegrityCounts, from: IntegrityCounts): void {
  into.received += from.received;
  into.duplicated += from.duplicated;
  into.late += from.late;
  into.lost += from.lost;
}

export class ClientTally {
  /** Per sender, the next sequence number expected. */
  readonly #next: Int32Array;
  /** Per sender, numbers skipped over that may still arrive late; usually absent. */
  readonly #missing = new Map<number, Set<number>>();
  #counts = emptyCounts();
  // Two 32-bit lanes of an order-sensitive hash over (sender, seq): equal for equal orders.
  #hashA = 0x811c9dc5;
  #hashB = 0x01000193;

  constructor(senders: number) {
    this.#next = new Int32Array(senders);
  }

  /** Records one received message. */
  receive(sender: number, seq: number): void {
    if (sender >= this.#next.length) return; // not a message of this run
    this.#counts.received++;
    const next = this.#next[sender]!;
    const key = sender * 0x10000 + (seq & 0xffff);
    this.#hashA = Math.imul(this.#hashA ^ key, 16777619) >>> 0;
    this.#hashB = (Math.imul(this.#hashB, 31) + key + seq) >>> 0;
    if (seq === next) {
      this.#next[sender] = next + 1; // fast path: in order
    } else if (seq > next) {
      let missing = this.#missing.get(sender);
      if (missing === undefined) this.#missing.set(sender, (missing = new Set()));
      for (let gap = next; gap < seq; gap++) missing.add(gap);
      this.#next[sender] = seq + 1;
    } else if (this.#missing.get(sender)?.delete(seq) === true) {
      this.#counts.late++;
    } else {
      this.#counts.duplicated++;
    }
  }

  /** Whether every message up to `sent[s]` of every sender has arrived. */
  hasAll(sent: ArrayLike<number>): boolean {
    for (let sender = 0; sender < this.#next.length; sender++) {
      if (this.#next[sender]! < sent[sender]! || (this.#missing.get(sender)?.size ?? 0) > 0) return false;
    }
    return true;
  }

  /**
   * Ends a round in which sender s sent every number below `sent[s]`: counts what never came,
   * returns the round's counts and order fingerprint, and starts the next round.
   */
  endRound(sent: ArrayLike<number>): { counts: IntegrityCounts; fingerprint: string } {
    const counts = this.#counts;
    for (let sender = 0; sender < this.#next.length; sender++) {
      counts.lost += this.#missing.get(sender)?.size ?? 0;
      const next = this.#next[sender]!;
      if (next < sent[sender]!) counts.lost += sent[sender]! - next;
      this.#next[sender] = Math.max(next, sent[sender]!);
    }
    const fingerprint = `${this.#hashA.toString(16)}.${this.#hashB.toString(16)}`;
    this.#missing.clear();
    this.#counts = emptyCounts();
    this.#hashA = 0x811c9dc5;
    this.#hashB = 0x01000193;
    return { counts, fingerprint };
  }
}

/**
 * Clients whose order fingerprint differs from the most common one, among clients that lost
 * nothing (a client that lost a message has a different order by construction).
 */
export function orderDisagreements(fingerprints: ReadonlyMap<string, number>): number {
  let total = 0;
  let most = 0;
  for (const count of fingerprints.values()) {
    total += count;
    most = Math.max(most, count);
  }
  return total - most;
}
