// What the primary needs of a chat room: ChatRoom on one node, ClusterRoom (cluster/) when
// nodes share the chat through Redis. Both run in the primary thread and decide, in one global
// order, what each client receives through a Delivery (server/chat-room.ts).

import type { WhoEntry } from '../protocol/index.ts';
import type { ClientEvent } from './client-event.ts';

/** What a room is configured with (a ServerConfig has all of it). */
export interface RoomSettings {
  readonly maxClients: number;
  /** Clients online from one IP address; 0: no limit. */
  readonly maxPerIp: number;
  readonly idleTimeoutSeconds: number;
  /** Lines a second a client may send (0: no limit) and its burst: /help states them. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  /** The message of the day, sent after the greeting (--motd); none when absent. */
  readonly motd?: readonly string[];
}

export interface Room {
  /** Clients online (across the cluster, as this node knows it). */
  readonly online: number;
  /** Carries out one event from a worker; `now` is the time it is handled (ms, monotonic). */
  handle(event: ClientEvent, now: number): void;
  /** Times out every client idle since before `now`; returns when to call again, if anyone is left. */
  expireIdle(now: number): number | undefined;
  /** When the next idle timeout falls due, if anyone is online. */
  nextIdleDeadline(): number | undefined;
  /** Everyone on a worker that died is gone: announced as `login out`, names freed. */
  dropWorker(isOnWorker: (id: number) => boolean): void;
  /** Everyone online in order of arrival, as `who` lists them. */
  who(): WhoEntry[];
  /** A new message of the day for those who connect from now on (SIGHUP). */
  setMotd(lines: readonly string[]): void;
  /** Sends everyone online one system line; returns how many clients were online to receive it. */
  announce(text: string): number;
  /** Lets go of what the room holds outside this process (the cluster's entries for this node). */
  stop(): Promise<void>;
}
