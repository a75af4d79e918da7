// What the primary needs of a chat room: SingleNodeRoom (room/single-node-room.ts) on one node,
// ClusterRoom (cluster/) when nodes share the chat through Redis; cli/compose-room.ts picks one.
// Both run in the primary thread, decide events in one global order, and apply them with
// RoomCore (room/room-core.ts), which tells the Delivery what each client receives.

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
  /** History entries kept (--history-size; default DEFAULT_HISTORY_SIZE) and sent to a newcomer (--history-on-join; default 0). */
  readonly historySize?: number;
  readonly historyOnJoin?: number;
  /** How long a dropped session is held for its resume (--resume-window; 0: off; default DEFAULT_RESUME_WINDOW_SECONDS). */
  readonly resumeWindowSeconds?: number;
}

export const DEFAULT_HISTORY_SIZE = 1000;
export const DEFAULT_RESUME_WINDOW_SECONDS = 120;

/** The history's figures for /metrics. */
export interface HistoryStatus {
  /** Entries kept in memory. */
  readonly size: number;
  /** The newest position (0: none yet). */
  readonly latest: number;
}

/** What a room that shares the chat with other nodes reports for /metrics. */
export interface LinkStatus {
  readonly isLinkUp: boolean;
  /** Times the link was lost since the start. */
  readonly linkLosses: number;
}

export interface Room {
  /** Clients online (across the cluster, as this node knows it). */
  readonly online: number;
  /** The link to the other nodes; null when there are none. */
  readonly link: LinkStatus | null;
  /** The history as this node keeps it (PROTOCOL.md §10), for /metrics. */
  readonly history: HistoryStatus;
  /** Gets ready before the first client comes in (a cluster joins; ClusterError when it cannot). */
  start(): Promise<void>;
  /** Carries out one event from a worker; `now` is the time it is handled (ms, monotonic). */
  handle(event: ClientEvent, now: number): void;
  /** Times out every client idle since before `now`; returns when to call again, if anyone is left. */
  expireIdle(now: number): number | undefined;
  /** When the next idle timeout falls due, if anyone is online. */
  nextIdleDeadline(): number | undefined;
  /** Connections that died without a word (their worker thread did): announced as `login out`, names freed or held (§10.4). */
  dropConnections(isLost: (id: number) => boolean, now: number): void;
  /** Everyone online in order of arrival, as `who` lists them. */
  who(): WhoEntry[];
  /** A new message of the day for those who connect from now on (SIGHUP). */
  setMotd(lines: readonly string[]): void;
  /** Sends everyone online one system line; returns how many clients were online to receive it. */
  announce(text: string): number;
  /** Lets go of what the room holds outside this process (the cluster's entries for this node). */
  stop(): Promise<void>;
}
