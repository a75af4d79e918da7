// WebSocket keepalive for one worker (PROTOCOL.md §9.4): every interval, each peer that answered
// the last ping is pinged again and each that did not is cut. One timer for all of the worker's
// WebSocket clients, not one per client, on the worker's injected clock. A dead peer (a laptop
// closed, a NAT that forgot the flow) is noticed within two intervals. Runs in the worker threads.

import type { WorkerClock } from './worker-clock.ts';

export interface KeepalivePeer {
  /** Sends a ping; its pong is reported with `answered`. */
  ping(): void;
  /** The last ping went unanswered for a whole interval: cut the peer. It is no longer tracked. */
  timedOut(): void;
}

export class Keepalive {
  readonly #clock: WorkerClock;
  readonly #intervalMs: number;
  /** Every tracked peer, and whether it answered since it was last pinged. */
  readonly #peers = new Map<KeepalivePeer, boolean>();
  #isArmed = false;

  constructor(clock: WorkerClock, intervalMs: number) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  get tracked(): number {
    return this.#peers.size;
  }

  /** From the handshake on. A new peer counts as having answered: it is first pinged at the next sweep. */
  track(peer: KeepalivePeer): void {
    this.#peers.set(peer, true);
    this.#arm();
  }

  /** The peer is gone. */
  untrack(peer: KeepalivePeer): void {
    this.#peers.delete(peer);
  }

  /** A pong came from the peer. */
  answered(peer: KeepalivePeer): void {
    if (this.#peers.has(peer)) this.#peers.set(peer, true);
  }

  #arm(): void {
    if (this.#isArmed) return;
    this.#isArmed = true;
    this.#clock.setTimeout(this.#sweep, this.#intervalMs);
  }

  readonly #sweep = (): void => {
    this.#isArmed = false;
    for (const [peer, hasAnswered] of this.#peers) {
      if (hasAnswered) {
        this.#peers.set(peer, false);
        peer.ping();
      } else {
        this.#peers.delete(peer);
        peer.timedOut();
      }
    }
    // No timer while the worker has no WebSocket client at all.
    if (this.#peers.size > 0) this.#arm();
  };
}
