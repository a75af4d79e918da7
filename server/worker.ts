// Worker thread entry (server/primary.ts starts it as new URL('./worker.ts', import.meta.url)):
// wires one ChatWorker (server/chat-worker.ts) to the primary's port, to workerData and to a TCP
// listener on the shared port (reusePort). Nothing is decided here. Runs in worker threads only;
// never touches presence (docs/ARCHITECTURE.md §2).

import { createServer } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { ChatWorker } from './chat-worker.ts';
import { createLogger } from './log.ts';
import type { DeliveryOp, PrimaryMessage, WorkerMessage, WorkerSettings } from './messages.ts';
import { TcpTransport } from './tcp-transport.ts';

if (parentPort === null) throw new Error('server/worker.ts runs as a worker thread; start chatd instead');
const port = parentPort;
const settings = workerData as WorkerSettings;
const log = createLogger(settings.logLevel, { thread: `worker-${settings.index}` });
const post = (message: WorkerMessage): void => port.postMessage(message);
const chatWorker = new ChatWorker(settings, post, log);

const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  const transport = TcpTransport.of(socket);
  if (transport === null) socket.destroy(); // already gone before we saw it
  else chatWorker.accept(transport);
});
server.on('error', (error: NodeJS.ErrnoException) => {
  post({ type: 'listen-failed', code: error.code ?? 'UNKNOWN', message: error.message });
});

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
      server.close();
      return chatWorker.shutdown(message.notice);
    case 'test-crash':
      return chatWorker.crashOnPurpose((garbage) => port.postMessage(garbage));
  }
});

// Every worker binds the same port; the kernel spreads new connections across them.
server.listen({ host: settings.host, port: settings.port, reusePort: true, backlog: 4096 }, () => {
  post({ type: 'listening' });
});
