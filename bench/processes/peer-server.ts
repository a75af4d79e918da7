// The servers the bench measures chatd beside: the seed's Go server (a binary built from
// ../shared/peers/seed-go), Debian's nats-server and a plain socket.io server (socketio-server.ts,
// on this Node), each on a free loopback port. Runs in the bench's main thread.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, isListening, LOOPBACK } from './free-port.ts';
import { findCommand, ServerProcess, waitUntilReady } from './server-process.ts';

const START_TIMEOUT_MS = 15_000;
/** Enough of a Go panic to name it ("fatal error: concurrent map writes"); its goroutine dump is not kept. */
export const STDERR_HEAD_CHARS = 300;

export class PeerProcess extends ServerProcess {
  readonly port: number;
  #stderrHead = '';

  constructor(binary: string, args: readonly string[], port: number) {
    super(spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] }), binary);
    this.port = port;
    // Drained for the whole run (a full pipe would block the server); only the head is kept.
    this.child.stderr!.on('data', (chunk: Buffer) => {
      if (this.#stderrHead.length < STDERR_HEAD_CHARS) this.#stderrHead += chunk.toString('utf8', 0, STDERR_HEAD_CHARS);
    });
  }

  /** The first two lines it wrote on stderr, joined: what a crash says of itself. */
  get firstWords(): string {
    return this.#stderrHead.split('\n').filter((line) => line.trim() !== '').slice(0, 2).join(' | ');
  }
}

export async function startSeed(binary: string): Promise<PeerProcess> {
  if (!existsSync(binary)) {
    throw new Error(
      `no seed server at ${binary}; build it with: apt-get install -y golang-go && ` +
        `(cd ../shared/peers/seed-go && go build -o ${binary} .)`,
    );
  }
  const port = await freePort();
  return startPeer(binary, [`${LOOPBACK}:${port}`], port);
}

export async function startNats(): Promise<PeerProcess> {
  const binary = findCommand('nats-server');
  if (binary === undefined) throw new Error('nats-server is not installed; install it with: apt-get install -y nats-server');
  const port = await freePort();
  return startPeer(binary, ['-a', LOOPBACK, '-p', String(port)], port);
}

const SOCKET_IO_SERVER = fileURLToPath(new URL('./socketio-server.ts', import.meta.url));

/** The Node that runs the bench runs it too (Node 24 strips its types). */
export async function startSocketIo(): Promise<PeerProcess> {
  const port = await freePort();
  return startPeer(process.execPath, [SOCKET_IO_SERVER, String(port), LOOPBACK], port);
}

async function startPeer(binary: string, args: readonly string[], port: number): Promise<PeerProcess> {
  const peer = new PeerProcess(binary, args, port);
  await waitUntilReady(peer, `${binary} on port ${port}`, () => isListening(port), START_TIMEOUT_MS);
  return peer;
}
