// What a room hears from the connections: what happened on one of them, in the order it
// happened. The worker threads make these (server/connection.ts); a room carries them out.

import type { Command, ProtocolError } from '../protocol/index.ts';
import type { CloseReason } from './close-reason.ts';

/** A resume a client asked for (PROTOCOL.md §10.4, §10.5): its token, and the position it last received. */
export interface ResumeRequest {
  readonly token: string;
  readonly position: number;
}

export type ClientEvent =
  /** `resume`: a WebSocket that asked in its handshake to take back a session (PROTOCOL.md §10.5). */
  | {
      readonly kind: 'connect';
      readonly id: number;
      readonly addr: string;
      readonly ip: string;
      readonly resume?: ResumeRequest;
    }
  /** A complete line: carried out by the room, and it counts as activity. */
  | { readonly kind: 'command'; readonly id: number; readonly command: Command }
  /** A framing error before any line is complete (a line too long): answered, not activity. */
  | { readonly kind: 'framing-error'; readonly id: number; readonly error: ProtocolError }
  | { readonly kind: 'disconnect'; readonly id: number; readonly reason: CloseReason };
