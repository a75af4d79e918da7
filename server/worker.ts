// Worker thread entry (server/primary.ts starts it as new URL('./worker.ts', import.meta.url)):
// wires one ChatWorker (server/chat-worker.ts) to the primary's port, to workerData and to its
// listeners on the shared ports (reusePort): TCP always, the line protocol over TLS with
// --tls-port, the web client and its WebSocket endpoint with --web-port. Nothing is decided here.
// Runs in worker threads only; never touches presence (docs/ARCHITECTURE.md §2).

import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import { ChatWorker } from './chat-worker.ts';
import type { PortFlag } from './listen-error.ts';
import { createLogger } from './log.ts';
import type { DeliveryOp, PrimaryMessage, WorkerMessage, WorkerSettings } from './messages.ts';
import { TcpTransport } from './tcp-transport.ts';
import { tlsServerOptions } from './tls-options.ts';
import { WebFiles } from './web-files.ts';
import { createWebListener } from './web-listener.ts';

if (parentPort === null) throw new Error('server/worker.ts runs as a worker thread; start chatd instead');
const port = parentPort;
const settings = workerData as WorkerSettings;
const log = createLogger(settings.logLevel, { thread: `worker-${settings.index}` });
const post = (message: WorkerMessage): void => port.postMessage(message);
const chatWorker = new ChatWorker(settings, post, log);

interface Listener {
  readonly flag: PortFlag;
  readonly port: number;
  readonly server: Server;
  /** Whether it serves TLS: a 'tls-reload' replaces its certificate. */
  readonly isTls: boolean;
}

const listeners: Listener[] = [];
const acceptSocket = (kind: 'tcp' | 'tls') => (socket: Parameters<typeof TcpTransport.of>[0]) => {
  const transport = TcpTransport.of(socket, kind);
  if (transport === null) socket.destroy(); // already gone before we saw it
  else chatWorker.accept(transport);
};
listeners.push({ flag: '--port', port: settings.port, isTls: false, server: createServer({ allowHalfOpen: true, noDelay: true }, acceptSocket('tcp')) });
if (settings.tlsPort !== null && settings.tls !== null) {
  const server = createTlsServer({ ...tlsServerOptions(settings.tls), allowHalfOpen: true }, acceptSocket('tls'));
  listeners.push({ flag: '--tls-port', port: settings.tlsPort, isTls: true, server });
}
if (settings.webPort !== null) {
  const server = createWebListener({
    files: new WebFiles(settings.webFiles),
    tls: settings.tls,
    origins: settings.webOrigins,
    maxLineBytes: settings.maxLineBytes,
    shared: chatWorker.webSockets,
    accept: (transport, resume) => chatWorker.accept(transport, resume),
    onOriginRefused: (origin) => chatWorker.refuseOrigin(origin),
  });
  listeners.push({ flag: '--web-port', port: settings.webPort, isTls: settings.tls !== null, server });
}

for (const listener of listeners) {
  listener.server.on('error', (error: NodeJS.ErrnoException) => {
    post({ type: 'listen-failed', flag: listener.flag, code: error.code ?? 'UNKNOWN', message: error.message });
  });
  // A failed handshake (a scan, a client that does not trust the certificate, TLS 1.1, one that
  // never speaks: handshakeTimeout) costs nobody else anything. The HTTPS server destroys the
  // socket itself; the TLS server only reports it, and a silent one would stay open for ever.
  if (listener.isTls) {
    listener.server.on('tlsClientError', (_error: Error, socket: { destroy(): void }) => {
      chatWorker.countTlsHandshakeFailure();
      socket.destroy();
    });
  }
}

// test/bench/regression.test.ts slows this function down in a copy of the tree: keep its first line.
function deliver(ops: readonly DeliveryOp[]): void {
  chatWorker.deliver(ops);
}

port.on('message', (message: PrimaryMessage) => {
  switch (message.type) {
    case 'deliver':
      return deliver(message.ops);
    case 'metrics-request':
      return chatWorker.answerMetrics(message.requestId);
    case 'shutdown':
      for (const listener of listeners) listener.server.close();
      return chatWorker.shutdown(message.notice);
    case 'tls-reload':
      for (const listener of listeners) if (listener.isTls) (listener.server as TlsServer).setSecureContext(tlsServerOptions(message.tls));
      return;
    case 'test-crash':
      return chatWorker.crashOnPurpose((garbage) => port.postMessage(garbage));
  }
});

// Every worker binds the same ports; the kernel spreads new connections across them.
let listening = 0;
for (const listener of listeners) {
  listener.server.listen({ host: settings.host, port: listener.port, reusePort: true, backlog: 4096 }, () => {
    if (++listening === listeners.length) post({ type: 'listening' });
  });
}
