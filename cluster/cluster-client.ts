// One of this node's clients as the cluster's room keeps it: what the room core keeps for any
// connection, and its replies waiting for the stream. Shared by ClusterRoom, its requests and
// its stream reader.

import type { LocalClient } from '../room/room-core.ts';
import type { ReplyQueue } from './reply-queue.ts';

/** One of this node's clients: its client key is `NODE/ID`, how Redis and the other nodes name it. */
export interface ClusterClient extends LocalClient<string> {
  /** Its replies, in the order of its commands (cluster/reply-queue.ts). */
  readonly replies: ReplyQueue;
  /** Its resume token (PROTOCOL.md §10.3) as Redis knows it, once it asked for one; null before. */
  token: string | null;
}
