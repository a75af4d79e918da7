// The room's events: what happened in the chat once a sequencer has decided it, in the one
// global order. The single node decides them at once (room/single-node-room.ts); a cluster node reads
// them from the Redis stream, or decides them alone while the link is down (cluster/). Either
// way they are carried out by RoomCore.apply, the only place that knows who receives what.
// `Client` names a member: a connection id on one node, a client key in a cluster.

import type { CloseReason } from './close-reason.ts';
import type { Stamp } from './history.ts';

export type RoomEvent<Client> =
  /** Someone is online under `name`; their own node admits and greets them. */
  | { readonly kind: 'login'; readonly client: Client; readonly addr: string; readonly name: string }
  /**
   * A line for everyone, said by the member as they were named when it was decided. `stamp`:
   * its place in the history (PROTOCOL.md §10.1); none when a cluster node decided it alone
   * while its link was down, which keeps it out of the cluster's history.
   */
  | { readonly kind: 'chat'; readonly addr: string; readonly name: string; readonly text: string; readonly stamp?: Stamp }
  /** A member who was `name` is `newName` from now on. */
  | {
      readonly kind: 'rename';
      readonly client: Client;
      readonly addr: string;
      readonly name: string;
      readonly newName: string;
      readonly stamp?: Stamp;
    }
  /** A line for one member, and the sender's confirmation. */
  | { readonly kind: 'private'; readonly from: Client; readonly to: Client; readonly addr: string; readonly name: string; readonly text: string }
  /** A member is gone: quit, closed, cut, or lost with its node; `reason` is its own node's close reason. */
  | { readonly kind: 'leave'; readonly client: Client; readonly reason: CloseReason }
  /** A member was idle too long. */
  | { readonly kind: 'timeout'; readonly client: Client }
  /** A line from the operator (POST /announce) for everyone. */
  | { readonly kind: 'announce'; readonly text: string; readonly stamp?: Stamp }
  /** The server's own line for everyone (a cluster's link notices): never history. */
  | { readonly kind: 'notice'; readonly text: string };
