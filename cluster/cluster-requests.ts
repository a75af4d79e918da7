// Requests to Redis on behalf of this node's clients, and their replies in order (docs/CLUSTER.md
// §5, §6). A request is a script; its effect comes back through the stream (ClusterStream), and
// its reply to the client waits for that (ReplyQueue). When the link is down, or drops before
// Redis answers, the request is carried out on this node alone instead, exactly once.
// Runs in the primary thread, inside ClusterRoom.

import type { Log } from '../room/log.ts';
import type { RoomCore } from '../room/room-core.ts';
import type { ClusterLink } from './cluster-link.ts';
import type { ClusterClient } from './cluster-client.ts';
import type { ClusterStream } from './cluster-stream.ts';
import type { PendingStep } from './reply-queue.ts';
import type { ScriptName } from './scripts.ts';
import { compareStreamIds, type StreamId } from './stream-id.ts';

/** What a script answers after its status and the stream id to wait for (cluster/scripts.ts). */
export type ReplyValues = readonly (string | number)[];

export interface RequestHandlers {
  /** The script's status (ok, taken, nouser…) and what follows its id, once the stream has been read up to its answer. */
  readonly onReply?: (status: string, values: ReplyValues) => void;
  /** Carries the request out on this node alone: the link is down, or dropped before Redis answered. */
  readonly local: () => void;
  /**
   * Shows the effect of a request that Redis did carry out but whose entry this node had not read
   * when the link dropped (default: `local`, when that is the same thing).
   */
  readonly landed?: (values: ReplyValues) => void;
  /**
   * `local` refuses (an error) rather than carrying the request out: should Redis have run it
   * after all, its entry must still be applied when it comes back (a rename, CLUSTER.md §8).
   */
  readonly refusesLocally?: boolean;
}

/** What a script answers: a status, then the stream id to wait for, then script-specific values. */
type ScriptReply = readonly [string, StreamId, ...(string | number)[]];

export class ClusterRequests {
  readonly #node: string;
  readonly #core: RoomCore<string, ClusterClient>;
  readonly #link: ClusterLink;
  readonly #stream: ClusterStream;
  readonly #log: Log;
  #seq = 0;
  /** Clients whose replies wait for the stream. */
  readonly #waiting = new Set<ClusterClient>();
  /**
   * This node's requests that Redis carried out and whose entries this node has not read yet, by
   * sequence number (in order). Should the link drop now, they are shown here at once: their
   * entries come back only after the outage, behind lines said during it.
   */
  readonly #unread = new Map<number, { readonly after: StreamId; readonly show: () => void }>();
  /** Requests sent and not yet answered, and those of them whose entry the stream has applied already. */
  readonly #inFlight = new Set<number>();
  readonly #applied = new Set<number>();

  constructor(node: string, core: RoomCore<string, ClusterClient>, link: ClusterLink, stream: ClusterStream, log: Log) {
    this.#node = node;
    this.#core = core;
    this.#link = link;
    this.#stream = stream;
    this.#log = log;
  }

  /**
   * The stream applied an entry of this node's request `seq`. Should the reply be lost with the
   * link after all, the request is done: carried out locally too, it would show twice.
   */
  entryApplied(seq: number): void {
    if (this.#inFlight.has(seq)) this.#applied.add(seq);
  }

  /** A sequence number for a script that needs one but answers no client (a resync). */
  nextSeq(): number {
    return ++this.#seq;
  }

  /**
   * Sends a script for `client` and queues its reply step, which runs once the stream has been
   * read as far as the script's answer says (ReplyQueue). Returns the request's sequence number,
   * the `seq` of the entries it causes.
   */
  send(client: ClusterClient, script: ScriptName, args: readonly (string | number)[], handlers: RequestHandlers): number {
    const seq = ++this.#seq;
    const step: PendingStep = client.replies.pending();
    const onReply = handlers.onReply ?? (() => {});
    if (!this.#link.isUp) {
      step.complete(null, handlers.local);
      this.#runReplies(client);
      return seq;
    }
    this.#inFlight.add(seq);
    this.#link.run(script, [this.#node, seq, ...args]).then(
      (raw) => {
        this.#settled(seq);
        const [status, after, ...values] = raw as ScriptReply;
        if (status === 'ok' && compareStreamIds(after, this.#stream.position) > 0) {
          const landed = handlers.landed;
          this.#unread.set(seq, { after, show: landed === undefined ? handlers.local : () => landed(values) });
        }
        // #11: Redis no longer knows the client (its node was given up for dead, or Redis lost its
        // data): until the next heartbeat registers it again, it is served here alone, as while
        // the link is down. No entry comes back for it.
        step.complete(after, status === 'gone' ? handlers.local : () => onReply(status, values));
        this.#runReplies(client);
      },
      (error: unknown) => {
        if (this.#settled(seq)) {
          // The stream brought its entry before the link dropped with the reply: it is done.
          step.complete(null, () => onReply('ok', []));
          return this.#runReplies(client);
        }
        this.#log.debug({ err: error, script }, 'cluster request failed; carried out on this node');
        // Redis may have run it before the link dropped: then its entry must not show here twice.
        if (handlers.refusesLocally !== true) this.#stream.shownHere(seq);
        step.complete(null, handlers.local);
        this.#runReplies(client);
      },
    );
    return seq;
  }

  /** A reply that needs no script, in order behind the client's earlier ones. */
  later(client: ClusterClient, reply: () => void): void {
    client.replies.local(reply);
    this.#runReplies(client);
  }

  /** An operator's line for everyone: through the stream, or on this node alone while the link is down. */
  announce(text: string): void {
    const seq = ++this.#seq;
    const show = (): void => this.#core.apply({ kind: 'announce', text });
    if (!this.#link.isUp) return show();
    this.#link.run('announce', [this.#node, seq, this.#core.history.capacity, text]).then(
      (raw) => {
        const [, after] = raw as ScriptReply;
        if (compareStreamIds(after, this.#stream.position) > 0) this.#unread.set(seq, { after, show });
      },
      () => {
        this.#stream.shownHere(seq);
        show();
      },
    );
  }

  /** The stream has been read further, or the link is down: what was waiting for it may go. */
  caughtUp(): void {
    for (const [seq, { after }] of this.#unread) {
      if (compareStreamIds(after, this.#stream.position) > 0) break;
      this.#unread.delete(seq);
    }
    for (const client of [...this.#waiting]) this.#runReplies(client);
  }

  /** What Redis took from this node but this node has not read yet goes out now, in order. */
  linkDown(): void {
    for (const [seq, { show }] of this.#unread) {
      this.#stream.shownHere(seq);
      show();
    }
    this.#unread.clear();
  }

  /** The request has an answer or a failure; returns whether its entry had been applied. */
  #settled(seq: number): boolean {
    this.#inFlight.delete(seq);
    return this.#applied.delete(seq);
  }

  #runReplies(client: ClusterClient): void {
    client.replies.run(this.#link.isUp ? this.#stream.position : null);
    if (client.replies.isEmpty) this.#waiting.delete(client);
    else if (this.#core.local(client.id) === client) this.#waiting.add(client);
  }
}
