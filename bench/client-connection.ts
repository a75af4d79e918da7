// One simulated client's connection over each transport the bench measures: a TCP or TLS stream,
// a WebSocket (ws or wss, the `ws` package's client), or socket.io (socket.io-client, WebSocket
// transport only). Each hands the client worker whole lines, so the greeting and payload scan
// in client-worker.ts is one path for all of them. Runs in the bench's worker threads.

import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, createSecureContext, type SecureContext } from 'node:tls';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { ChunkJoiner, type TransportName, type Wire } from './wire.ts';

/** Where chatd serves its WebSocket endpoint on --web-port (PROTOCOL.md, the web transport). */
export const CHATD_WEB_SOCKET_PATH = '/ws';

export interface ConnectionTarget {
  readonly transport: TransportName;
  readonly host: string;
  readonly port: number;
  /** The local address to connect from; undefined: the kernel picks. */
  readonly localAddress: string | undefined;
  /**
   * tls, wss: the PEM the server's certificate must chain to (a certificate the bench made for
   * the chatd it started). null: the certificate is not checked, which is fine for a throughput
   * figure on loopback and lets the bench measure a server it did not start.
   */
  readonly caPem: string | null;
  /**
   * How long the bench waits for everyone to be greeted. socket.io-client gives up connecting
   * after 20 s of its own by default, which a connection storm exceeds; the other clients
   * have no deadline but the bench's.
   */
  readonly connectTimeoutMs: number;
}

export interface ConnectionEvents {
  /**
   * One or more whole lines. From a stream or a WebSocket they end in LF (a line split over two
   * chunks is joined first); from socket.io it is one line without its terminator.
   */
  lines(data: Buffer): void;
  error(error: Error): void;
  /** Once, however the connection ended (refused, closed by either side, or never opened). */
  close(): void;
}

export interface ClientConnection {
  /** Sends one payload: the protocol's publish on a stream, one text message or one `line` event otherwise. */
  publish(payload: string): void;
  /** Closes at once, without a goodbye (the run is over, or the server refused the client). */
  destroy(): void;
}

export function openConnection(target: ConnectionTarget, wire: Wire, events: ConnectionEvents): ClientConnection {
  switch (target.transport) {
    case 'tcp':
    case 'tls':
      return openStream(target, wire, events);
    case 'ws':
    case 'wss':
      return openWebSocket(target, events);
    case 'socketio':
      return openSocketIo(target, events);
  }
}

/** One per CA and thread: a context built per connection costs a fifth of the client's handshake. */
const secureContexts = new Map<string | null, SecureContext>();

function tlsVerification(target: ConnectionTarget): { readonly secureContext: SecureContext; readonly rejectUnauthorized: boolean } {
  let secureContext = secureContexts.get(target.caPem);
  if (secureContext === undefined) {
    secureContext = createSecureContext(target.caPem === null ? {} : { ca: target.caPem });
    secureContexts.set(target.caPem, secureContext);
  }
  // Without a CA the bench cannot tell a self-signed certificate from a forged one; on loopback
  // against a server it was told to measure there is nothing to tell apart (ConnectionTarget.caPem).
  return { secureContext, rejectUnauthorized: target.caPem !== null };
}

function openStream(target: ConnectionTarget, wire: Wire, events: ConnectionEvents): ClientConnection {
  const address = { host: target.host, port: target.port, ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }) };
  // No session is offered back: every client pays a full handshake, as a new visitor does.
  const socket: Socket = target.transport === 'tls' ? connectTls({ ...address, ...tlsVerification(target) }) : connectTcp({ ...address, noDelay: true });
  if (target.transport === 'tls') socket.setNoDelay(true);
  const joiner = new ChunkJoiner();
  if (wire.hello !== null) socket.write(wire.hello);
  socket.on('data', (chunk: Buffer) => events.lines(joiner.take(chunk)));
  socket.on('error', (error) => events.error(error));
  socket.on('close', () => events.close());
  return {
    publish: (payload) => void socket.write(wire.publish(payload)),
    destroy: () => socket.destroy(),
  };
}

function openWebSocket(target: ConnectionTarget, events: ConnectionEvents): ClientConnection {
  const scheme = target.transport === 'wss' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${target.host}:${target.port}${CHATD_WEB_SOCKET_PATH}`, {
    // A browser would offer permessage-deflate; chatd's batches of short lines are not worth
    // compressing, and the bench's own inflate would be measured as the server's latency.
    perMessageDeflate: false,
    // fast path: the server's UTF-8 is the server tests' business; the bench only reads ASCII.
    skipUTF8Validation: true,
    ...(target.transport === 'wss' ? tlsVerification(target) : {}),
    ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }),
  });
  // A message is one or more CRLF-terminated lines; the joiner costs one lastIndexOf then, and
  // keeps the count right should a line ever be split over two messages.
  const joiner = new ChunkJoiner();
  socket.on('message', (data: Buffer) => events.lines(joiner.take(data)));
  socket.on('error', (error) => events.error(error));
  socket.on('close', () => events.close());
  return {
    // PROTOCOL.md: one line per text message, no terminator needed.
    publish: (payload) => socket.send(payload),
    destroy: () => socket.terminate(),
  };
}

function openSocketIo(target: ConnectionTarget, events: ConnectionEvents): ClientConnection {
  const socket = io(`http://${target.host}:${target.port}`, {
    // WebSocket from the start: long-polling first and an upgrade later is socket.io's default
    // for browsers behind proxies, and would measure its HTTP requests instead of its broadcast.
    transports: ['websocket'],
    // One Manager (one engine.io connection) per client, never shared, never retried: a client
    // that drops is a dropped client, as on every other transport.
    forceNew: true,
    reconnection: false,
    timeout: target.connectTimeoutMs,
    // engine.io-client offers permessage-deflate; socket.io's server declines it by default, so
    // nothing is compressed, as with chatd.
    ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }),
  });
  let isClosed = false;
  const close = (): void => {
    if (isClosed) return;
    isClosed = true;
    events.close();
  };
  // latin1: one byte per character and no decoding; the scan looks for ASCII only.
  socket.on('line', (text: string) => events.lines(Buffer.from(text, 'latin1')));
  socket.on('connect_error', (error: Error) => {
    events.error(error);
    close();
  });
  socket.on('disconnect', close);
  return {
    publish: (payload) => void socket.emit('line', payload),
    destroy: () => {
      socket.disconnect();
      close();
    },
  };
}
