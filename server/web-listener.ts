// The web port of one worker (--web-port): HTTP, or HTTPS with a certificate, serving the web
// client's files (server/web-files.ts) and upgrading /ws to a WebSocket (the ws package) whose
// client becomes a Connection like any other, through WebSocketTransport. Each worker listens on
// the same port (reusePort), as for TCP. Refusals happen here, before any chat state exists: a
// foreign Origin (403) and any path but /ws (404). Runs in the worker threads.

import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { TlsIdentity } from './tls-options.ts';
import { tlsServerOptions } from './tls-options.ts';
import type { ResumeRequest } from '../room/client-event.ts';
import { isOriginAllowed } from './origin-policy.ts';
import { SECURITY_HEADERS, type WebFiles } from './web-files.ts';
import { WebSocketTransport, type WebSocketShared } from './websocket-transport.ts';

/**
 * A connection that sends no complete request headers within this is a slow loris, not a
 * browser: also one that sends nothing at all (the socket's idle timeout), which the headers
 * timeout alone does not cover, since it starts with the first byte. A WebSocket is exempt
 * once upgraded (ws clears the socket's timeout; the keepalive watches it from then on).
 */
export const WEB_REQUEST_TIMEOUT_MS = 10_000;
/** How often Node checks the headers and request timeouts (its default, 30 s, would triple them). */
const TIMEOUT_CHECK_MS = 1000;

export interface WebListenerOptions {
  readonly files: WebFiles;
  /** With it, the port is HTTPS and the endpoint WSS. */
  readonly tls: TlsIdentity | null;
  /** Origins besides the page's own that may connect (--web-origin). */
  readonly origins: readonly string[];
  /** --max-line: a longer message is refused with 1009 (a CRLF on top is allowed). */
  readonly maxLineBytes: number;
  readonly shared: WebSocketShared;
  /** `resume`: the session the handshake asked to take back, `?resume=TOKEN&position=N` (PROTOCOL.md §10.5). */
  accept(transport: WebSocketTransport, resume: ResumeRequest | undefined): void;
  /** A handshake refused for its Origin, counted by the worker. */
  onOriginRefused(origin: string): void;
}

/**
 * The resume a handshake's query asks for: undefined when it asks for none, null when it is
 * malformed (refused with 400, since a client that meant to resume must not come in as a
 * newcomer without being told).
 */
export function readResumeRequest(query: URLSearchParams): ResumeRequest | undefined | null {
  const token = query.get('resume');
  const position = query.get('position');
  if (token === null && position === null) return undefined;
  if (token === null || token === '' || position === null || !/^[0-9]{1,15}$/.test(position)) return null;
  return { token, position: Number(position) };
}

/** The web port's server, not yet listening; `setSecureContext` reloads its certificate when it is HTTPS. */
export function createWebListener(options: WebListenerOptions): Server {
  const isSecure = options.tls !== null;
  const serve = options.files.serve.bind(options.files);
  const timeouts = { headersTimeout: WEB_REQUEST_TIMEOUT_MS, requestTimeout: WEB_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS };
  const server: Server =
    options.tls === null ? createHttpServer(timeouts, serve) : createHttpsServer({ ...tlsServerOptions(options.tls), ...timeouts }, serve);
  server.setTimeout(WEB_REQUEST_TIMEOUT_MS); // no 'timeout' listener: Node destroys the idle socket
  const sockets = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxLineBytes + 2,
    // Compression would make every recipient's frame its own (and costs a zlib context per client).
    perMessageDeflate: false,
    clientTracking: false,
    // Pongs are answered by WebSocketTransport, within a ping budget (a ping flood is refused).
    autoPong: false,
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://chatd');
    if (url.pathname !== '/ws') return refuse(socket, 404, 'Not Found', 'the WebSocket endpoint is /ws');
    const origin = request.headers.origin;
    if (!isOriginAllowed(origin, request.headers.host, isSecure, options.origins)) {
      options.onOriginRefused(origin ?? '');
      return refuse(socket, 403, 'Forbidden', "this page's origin may not connect; the operator can allow it with --web-origin");
    }
    const resume = readResumeRequest(url.searchParams);
    if (resume === null) return refuse(socket, 400, 'Bad Request', 'to resume, connect to /ws?resume=TOKEN&position=N');
    const { remoteAddress, remotePort } = request.socket;
    if (remoteAddress === undefined || remotePort === undefined) return socket.destroy(); // already gone
    sockets.handleUpgrade(request, socket, head, (ws) => {
      options.accept(new WebSocketTransport(ws, socket, isSecure ? 'wss' : 'ws', remoteAddress, remotePort, options.shared), resume);
    });
  });
  return server;
}

/** An HTTP answer to a handshake that does not become a WebSocket, then the socket's end. */
function refuse(socket: Duplex, status: number, statusText: string, text: string): void {
  const body = `${text}\n`;
  const headers = Object.entries({ ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${statusText}\r\n${headers}\r\n${body}`);
}
