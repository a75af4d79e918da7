// The peer a Node user would pick for browser chat: a plain socket.io server, one process, the
// default in-memory adapter, every line broadcast to everyone with io.emit. It says what the
// seed's server says (bench/wire.ts reads it): `[ADDR]ADDR:login` to all when a client joins,
// `[ADDR]ADDR:I am here` to the newcomer, `[ADDR]ADDR:TEXT` to all for each line, and
// `[ADDR]ADDR:login out` when it leaves; a line is the text of one `line` event.
// Runs as its own process, started by peer-server.ts:  node bench/processes/socketio-server.ts PORT [HOST]

import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`usage: node bench/processes/socketio-server.ts PORT [HOST]; PORT must be 1-65535, got ${String(process.argv[2])}`);
  process.exit(2);
}

// socket.io's defaults, as a user who follows its guide gets them: polling and WebSocket allowed
// (the bench's clients ask for WebSocket only), no compression, the in-memory adapter.
const http = createServer();
const io = new Server(http, { serveClient: false });

io.on('connection', (socket) => {
  const address = `${socket.handshake.address}:${socket.request.socket.remotePort ?? 0}`;
  const prefix = `[${address}]${address}:`;
  io.emit('line', `${prefix}login`);
  socket.emit('line', `${prefix}I am here`);
  socket.on('line', (text: unknown) => {
    if (typeof text === 'string') io.emit('line', prefix + text);
  });
  socket.on('disconnect', () => {
    io.emit('line', `${prefix}login out`);
  });
});

// On `host` only (loopback by default): io.listen(port) would listen on every interface.
http.listen(port, host);

process.on('SIGTERM', () => {
  void io.close(() => process.exit(0));
  // Closing waits for every client to go; the bench's stop allows a few seconds, then kills.
  setTimeout(() => process.exit(0), 2000).unref();
});
