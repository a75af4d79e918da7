// The WebSocket transport (PROTOCOL.md §9): a ws connection behind the Transport a Connection
// talks to (server/transport.ts). The line protocol runs inside it unchanged: each text message
// from the client is a line, each server message carries whole CRLF-terminated lines. The ws
// package does the handshake, reads and checks every frame, and sends pings, pongs and closes;
// chat output is framed by ws's own Sender.frame once per payload and written to the socket
// under the ws connection, so every WebSocket recipient of a full flush shares one frame. Runs in
// the worker thread whose web listener accepted it (server/web-listener.ts).

import type { Duplex } from 'node:stream';
import WebSocket, * as wsModule from 'ws';
import { CloseReason } from '../room/close-reason.ts';
import type { Keepalive, KeepalivePeer } from './keepalive.ts';
import { TokenBucket } from './token-bucket.ts';
import type { Transport, TransportHandler } from './transport.ts';
import type { WorkerClock } from './worker-clock.ts';

/** The close codes chatd sends (RFC 6455 §7.4.1), as PROTOCOL.md §9.3 lists them. */
export const CloseCode = {
  /** The server ended the connection after its last line, which says why. */
  Normal: 1000,
  /** A binary message: the binding is text only. */
  UnsupportedData: 1003,
  /** A ping flood (more than PING_BURST at once, or PINGS_PER_SECOND on average). */
  PolicyViolation: 1008,
  /** A message over --max-line (ws closes with it itself, from maxPayload). */
  MessageTooBig: 1009,
} as const;

/**
 * Pings a client may send (each costs the server a pong): a browser sends none, a library
 * keepalive one every few seconds. Past this it is a ping flood.
 */
export const PINGS_PER_SECOND = 1;
export const PING_BURST = 5;

const CRLF = Buffer.from('\r\n');

/** ws exports its Sender (ws/wrapper.mjs); @types/ws does not declare it. */
interface FrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly readOnly: boolean;
  readonly rsv1: boolean;
}
const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };
const TEXT_FRAME: FrameOptions = { fin: true, opcode: 0x1, mask: false, readOnly: true, rsv1: false };

/**
 * One worker's framing of chat output: the frame of the last payload framed. A full flush hands
 * the same sealed Buffer to every client that got every broadcast of it (server/fan-out-batch.ts),
 * and server frames are unmasked, so all of them write the same header and the same payload:
 * one frame, framed once, whatever the number of WebSocket recipients.
 */
export class TextFrames {
  #payload: Uint8Array | null = null;
  #frame: Buffer = Buffer.alloc(0);
  /** Payloads framed, for the tests: fewer than writes when recipients share one. */
  framed = 0;

  /**
   * A final text frame carrying `payload`, header and payload in one Buffer: one copy of the
   * payload per flush, so that each recipient's socket gets one plain write, as a TCP one does
   * (a corked header-and-payload pair per socket cost more than that copy).
   */
  frameOf(payload: Buffer): Buffer {
    if (payload !== this.#payload) {
      const [header, body] = Sender.frame(payload, TEXT_FRAME);
      this.#frame = body === undefined ? header! : Buffer.concat([header!, body], header!.length + body.length);
      this.#payload = payload;
      this.framed++;
    }
    return this.#frame;
  }
}

/** What the web listener gives every WebSocket transport of its worker. */
export interface WebSocketShared {
  readonly frames: TextFrames;
  readonly keepalive: Keepalive;
  readonly clock: WorkerClock;
}

export class WebSocketTransport implements Transport, KeepalivePeer {
  readonly kind: 'ws' | 'wss';
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly #ws: WebSocket;
  /** The socket under the ws connection: chat output is written to it directly, framed by #shared.frames. */
  readonly #socket: Duplex & { readonly writableLength: number };
  readonly #shared: WebSocketShared;
  readonly #pings: TokenBucket;
  #handler: TransportHandler | null = null;
  /** Messages that arrived while paused (ws may still emit a few after pause), handed on at resume. */
  #held: Buffer[] | null = null;
  #isPaused = false;
  /** end() or destroy() was called, or ws is closing: nothing more is written. */
  #isDone = false;

  constructor(ws: WebSocket, socket: Duplex, kind: 'ws' | 'wss', remoteAddress: string, remotePort: number, shared: WebSocketShared) {
    this.kind = kind;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.#ws = ws;
    this.#socket = socket as Duplex & { readonly writableLength: number };
    this.#shared = shared;
    this.#pings = new TokenBucket(PINGS_PER_SECOND, PING_BURST, shared.clock.now());
  }

  get pendingWriteBytes(): number {
    return this.#socket.writableLength;
  }

  get isWritable(): boolean {
    return !this.#isDone && this.#ws.readyState === WebSocket.OPEN;
  }

  start(handler: TransportHandler): void {
    this.#handler = handler;
    const ws = this.#ws;
    this.#shared.keepalive.track(this);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return this.#refuse(CloseCode.UnsupportedData, 'text messages only');
      if (this.#isPaused) (this.#held ??= []).push(data);
      else this.#deliver(data);
    });
    ws.on('ping', (data: Buffer) => {
      if (this.#pings.take(this.#shared.clock.now())) ws.pong(data);
      else this.#refuse(CloseCode.PolicyViolation, 'ping flood');
    });
    ws.on('pong', () => this.#shared.keepalive.answered(this));
    // ws emits 'error' only for what the client sent (a bad frame, bad UTF-8, a message over
    // maxPayload) and has closed with the code RFC 6455 gives for it; a failing socket only closes.
    ws.on('error', () => {
      this.#isDone = true;
      handler.onError(CloseReason.ProtocolViolation);
    });
    ws.on('close', () => {
      this.#isDone = true;
      this.#shared.keepalive.untrack(this);
      handler.onClose();
    });
  }

  /** One message is one line: its terminator is optional, and one is added when it has none. */
  #deliver(data: Buffer): void {
    const handler = this.#handler!;
    handler.onData(data);
    if (data.length === 0 || data[data.length - 1] !== 0x0a) handler.onData(CRLF);
  }

  write(bytes: Uint8Array): void {
    const payload = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#socket.write(this.#shared.frames.frameOf(payload));
  }

  end(): void {
    this.#isDone = true;
    // ws sends the close frame behind what was written, waits for the client's, then ends the socket.
    this.#ws.close(CloseCode.Normal);
  }

  destroy(): void {
    this.#isDone = true;
    this.#ws.terminate();
  }

  pause(): void {
    this.#isPaused = true;
    this.#ws.pause();
  }

  resume(): void {
    this.#isPaused = false;
    const held = this.#held;
    this.#held = null;
    if (held !== null) {
      for (let i = 0; i < held.length; i++) {
        if (this.#isPaused) {
          // The held lines used up the budget again: the rest wait for the next resume.
          this.#held = held.slice(i);
          return;
        }
        this.#deliver(held[i]!);
      }
    }
    if (!this.#isPaused) this.#ws.resume();
  }

  ping(): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.ping();
  }

  timedOut(): void {
    if (this.#isDone) return;
    this.#isDone = true;
    this.#handler?.onError(CloseReason.KeepaliveTimeout);
    // No close frame: a peer that answers no ping would not answer that either.
    this.#ws.terminate();
  }

  #refuse(code: number, reason: string): void {
    if (this.#isDone) return;
    this.#isDone = true;
    this.#handler?.onError(CloseReason.ProtocolViolation);
    this.#ws.close(code, reason);
  }
}
