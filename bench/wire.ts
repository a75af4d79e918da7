// The two wire protocols the bench speaks: chatd's (which the seed's Go server shares) and NATS,
// and the transports that carry them. Each protocol turns a payload into bytes to send and finds,
// in what a client receives, its greeting and the bench's payloads. Runs in the bench's worker
// threads, on every received chunk.

export const PROTOCOLS = ['chatd', 'nats'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

/**
 * How a client's lines travel: a TCP stream, the same over TLS, one WebSocket text message per
 * line sent (a message received may carry several CRLF-terminated lines), or socket.io `line`
 * events over its WebSocket transport (one line each, no terminator). Only chatd's protocol is
 * carried by anything but TCP: nats-server is started without TLS or WebSocket.
 */
export const TRANSPORTS = ['tcp', 'tls', 'ws', 'wss', 'socketio'] as const;
export type TransportName = (typeof TRANSPORTS)[number];

/** Whether `protocol` can be spoken over `transport`; null if so, else why not (for a CLI error). */
export function transportMismatch(protocol: ProtocolName, transport: TransportName): string | null {
  if (protocol === 'nats' && transport !== 'tcp') return `the nats protocol is measured over tcp only; got --transport ${transport}`;
  return null;
}

export interface Wire {
  /** Bytes to send once connected (NATS: CONNECT, SUB, PING). */
  readonly hello: Buffer | null;
  /** The bytes that publish one payload. */
  publish(payload: string): Buffer;
  /** The bytes that say this client is in: chatd's own greeting, NATS's PONG to our PING. */
  readonly greeting: Buffer;
  /** A line that says the server refused the client. */
  readonly refusal: Buffer;
}

const CHATD: Wire = {
  hello: null,
  publish: (payload) => Buffer.from(`${payload}\n`, 'latin1'),
  greeting: Buffer.from(':I am here', 'latin1'),
  refusal: Buffer.from('error: ', 'latin1'),
};

/** Every client subscribes to one subject; a publish goes to all of them, the sender included. */
const SUBJECT = 'chat';
const NATS: Wire = {
  hello: Buffer.from(`CONNECT {"verbose":false,"pedantic":false,"echo":true}\r\nSUB ${SUBJECT} 1\r\nPING\r\n`, 'latin1'),
  publish: (payload) => Buffer.from(`PUB ${SUBJECT} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`, 'latin1'),
  greeting: Buffer.from('PONG\r\n', 'latin1'),
  refusal: Buffer.from('-ERR', 'latin1'),
};

export function wireFor(protocol: ProtocolName): Wire {
  return protocol === 'nats' ? NATS : CHATD;
}

/**
 * Splits a client's stream at line ends so that no payload head is ever cut in two: the bytes
 * after the last LF are kept and put in front of the next chunk.
 */
export class ChunkJoiner {
  #tail: Buffer | null = null;

  /** The part of the stream that ends at a LF; may be empty. */
  take(chunk: Buffer): Buffer {
    const joined = this.#tail === null ? chunk : Buffer.concat([this.#tail, chunk]);
    const lastLf = joined.lastIndexOf(0x0a);
    if (lastLf === joined.length - 1) {
      this.#tail = null;
      return joined;
    }
    // The tail is copied: keeping a view would keep the whole chunk alive.
    this.#tail = Buffer.from(joined.subarray(lastLf + 1));
    return joined.subarray(0, lastLf + 1);
  }
}

