// Where a room's decisions go, and what it reports as they happen. The primary's Dispatcher
// (server/dispatcher.ts) carries them to the worker threads; the tests record them.

import type { CloseReason } from './close-reason.ts';

/** `except` of a broadcast to everyone. */
export const NOBODY = -1;

/**
 * The room's output, by connection id. Calls are in the one global order; an implementation
 * MUST keep that order for every client it delivers to.
 */
export interface Delivery {
  /** The connection is online: from now on it receives broadcasts. */
  admit(id: number): void;
  /**
   * To every online client except `except` (NOBODY: to all); those that asked for positions
   * (`position`) get `positioned` instead when it is given (PROTOCOL.md §10.3).
   */
  broadcast(text: string, except: number, positioned?: string): void;
  /** From now on the connection gets the positioned form of a broadcast that has one. */
  position(id: number): void;
  send(id: number, text: string): void;
  /** Sends `text` if given, then closes the connection. */
  close(id: number, text: string | null, reason: CloseReason): void;
  /**
   * The connection no longer counts in the room (it left, timed out, was kicked or lost): after
   * the ops already given for it, nothing more is delivered to it. Called once for each
   * connection the room let in, admitted yet or not; a `close` after it is still delivered.
   */
  forget(id: number): void;
}

/** What the room reports as it happens, for the metrics. Called rarely: never per line. */
export interface RoomObserver {
  /** A client was put out by the server, or refused at connect. */
  onKick(reason: CloseReason): void;
  /**
   * A client tried to resume (PROTOCOL.md §10.4): `resumed`, with how many missed entries the
   * history no longer held (`lost`), or `refused`.
   */
  onResume?(outcome: 'resumed' | 'refused', lost: number): void;
}

export const NO_OBSERVER: RoomObserver = { onKick: () => {} };
