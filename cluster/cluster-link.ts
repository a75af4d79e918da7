// What the cluster's room needs of Redis (docs/CLUSTER.md §6): run a script, read the stream,
// and say when the link goes down and comes back. RedisLink is the real one; the unit tests of
// the room use an in-memory one (test/cluster/memory-link.ts) that runs the same contract.

import type { ScriptName } from './scripts.ts';
import type { StreamId } from './stream-id.ts';

/** chatd cannot use the Redis it was given; the message says what to check. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
}

/** A command Redis did not answer in time: the link is taken down, and this is its failure. */
export class RedisStallError extends Error {
  override readonly name = 'RedisStallError';
}

export interface LinkListener {
  /** The link is ready again after a loss (not after the first connect); scripts are loaded. */
  onUp(): void;
  /** The link is lost, or Redis stopped answering; commands fail until onUp. */
  onDown(): void;
}

/** One entry as XREAD returns it: its id, then field, value, field, value, … */
export type RawEntry = readonly [StreamId, readonly string[]];

/**
 * The contract:
 * 1. `run` and `read` MUST fail, never wait, while the link is down, and MUST fail a command
 *    in flight when the link drops rather than send it again later.
 * 2. Scripts run one at a time, in the order they were sent, and each appends its entries to
 *    the stream atomically (cluster/scripts.ts).
 * 3. `onDown` is called once per loss, before any failure it causes reaches the caller of `run`.
 */
export interface ClusterLink {
  readonly isUp: boolean;
  /** Where Redis is, without a password, for the log lines and errors. */
  readonly displayUrl: string;
  /** Connects (ClusterError when it cannot); the link is up when this resolves, and `listener` hears every change from then on. */
  connect(listener: LinkListener): Promise<void>;
  /** Runs a script with the node's arguments after the prelude's; resolves to its reply. */
  run(script: ScriptName, args: readonly (string | number)[]): Promise<unknown>;
  /** Entries after `after`, at most `count`, waiting up to `blockMs` for one; [] when none came. */
  read(after: StreamId, count: number, blockMs: number): Promise<RawEntry[]>;
  close(): Promise<void>;
}
