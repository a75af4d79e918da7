// What a Connection needs from the byte stream under it, and nothing more: bytes in, bytes out,
// end, destroy, the peer's address, and the figures the byte budget and the slow-consumer rule
// read. TCP and TLS (server/tcp-transport.ts) and WebSocket (server/websocket-transport.ts)
// implement it; Connection and the rooms know none of them. Runs in the worker threads.

import type { CloseReason } from '../room/close-reason.ts';

/** Which listener a client came through: the label of the per-transport metrics. */
export type TransportKind = 'tcp' | 'tls' | 'ws' | 'wss';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['tcp', 'tls', 'ws', 'wss'];

/** What a transport reports, in order; set once with `start`. */
export interface TransportHandler {
  /** Bytes from the client, in stream order. The chunk is the handler's to keep or view. */
  onData(chunk: Buffer): void;
  /** The client will send nothing more (it half-closed); writing may go on. */
  onEnd(): void;
  /**
   * The stream failed, or the transport refused the client, and why: ClientClosed when the client
   * reset or abandoned it (for TCP ECONNRESET or EPIPE), which is not a fault of the server;
   * SocketError for any other failure; a WebSocket's ProtocolViolation or KeepaliveTimeout.
   * `onClose` follows.
   */
  onError(reason: CloseReason): void;
  /** The stream is gone, whatever ended it. */
  onClose(): void;
}

/**
 * The contract every transport keeps, which Connection relies on:
 * 1. `onData` MUST deliver the client's bytes in order, and nothing after `onClose`.
 * 2. `write` MUST send its bytes after those of every earlier write, whole; it is never called
 *    once `isWritable` is false.
 * 3. `end` MUST send what was written, then close the sending side; `destroy` MUST close at
 *    once and drop what was not sent. Either one leads to `onClose`.
 * 4. `onClose` MUST be called exactly once, after `onError` if there was one.
 * 5. `pendingWriteBytes` MUST only grow through `write`: between two writes the peer only
 *    takes bytes, so the figure read at a write is an upper bound until the next one (the
 *    slow-consumer rule's fast path depends on it, server/output-queue.ts).
 * 6. `pause` stops `onData` until `resume`; the peer is then slowed by the stream's own flow
 *    control (TCP's window), and nothing is lost.
 * 7. `write` is given whole CRLF-terminated lines, and the same Buffer object when several
 *    clients get the same bytes (a full flush, server/fan-out-batch.ts): a transport that frames
 *    them may frame those once for all.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** The peer's IP address and port, as the client's `[ADDR]` shows them. */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes written and not yet taken by the peer's side (for TCP: not yet in the kernel). */
  readonly pendingWriteBytes: number;
  /** Neither ended nor destroyed: `write` may be called. */
  readonly isWritable: boolean;
  /** Starts reporting to `handler`; called once, right after the transport is made. */
  start(handler: TransportHandler): void;
  write(bytes: Uint8Array): void;
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
}
