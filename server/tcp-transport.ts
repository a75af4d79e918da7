// The TCP transport, and the TLS one: a net.Socket, or a tls.TLSSocket once its handshake is
// done, behind the Transport a Connection talks to (server/transport.ts). The line protocol runs
// on either unchanged. Runs in the worker thread that accepted the socket.

import type { Socket } from 'node:net';
import { CloseReason } from '../room/close-reason.ts';
import type { Transport, TransportHandler } from './transport.ts';

export class TcpTransport implements Transport {
  readonly kind: 'tcp' | 'tls';
  readonly #socket: Socket;
  readonly remoteAddress: string;
  readonly remotePort: number;
  #isWritable = true;

  /**
   * The socket as accepted (for TLS: as 'secureConnection' hands it over); null if it was gone
   * before we saw it (Node then has no peer address).
   */
  static of(socket: Socket, kind: 'tcp' | 'tls' = 'tcp'): TcpTransport | null {
    const { remoteAddress, remotePort } = socket;
    if (remoteAddress === undefined || remotePort === undefined) return null;
    return new TcpTransport(socket, kind, remoteAddress, remotePort);
  }

  private constructor(socket: Socket, kind: 'tcp' | 'tls', remoteAddress: string, remotePort: number) {
    this.kind = kind;
    this.#socket = socket;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    // chatd coalesces its own writes, once per flush (server/flush-policy.ts); Nagle would only add delay.
    socket.setNoDelay(true);
  }

  get pendingWriteBytes(): number {
    return this.#socket.writableLength;
  }

  /**
   * Kept as a flag rather than read from the socket's `destroyed` and `writableEnded` getters:
   * the fan-out asks it of every recipient of every flush (#14: those getters were 7 % of a
   * worker's time in W1). Cleared by end, destroy, an error and the close.
   */
  get isWritable(): boolean {
    return this.#isWritable;
  }

  start(handler: TransportHandler): void {
    const socket = this.#socket;
    socket.on('data', (chunk: Buffer) => handler.onData(chunk));
    socket.on('end', () => handler.onEnd());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#isWritable = false;
      handler.onError(error.code === 'ECONNRESET' || error.code === 'EPIPE' ? CloseReason.ClientClosed : CloseReason.SocketError);
    });
    socket.on('close', () => {
      this.#isWritable = false;
      handler.onClose();
    });
  }

  write(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  end(): void {
    this.#isWritable = false;
    this.#socket.end();
  }

  destroy(): void {
    this.#isWritable = false;
    this.#socket.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }
}
