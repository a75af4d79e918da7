// Debian's redis-server on a free loopback port, for a chatd cluster of the bench's own
// (`npm run bench:cluster`) or of a test's: never one on 6379, never shared. It can be stopped and
// started again on the same port, and hung (SIGSTOP, then SIGCONT): the socket stays open and
// nothing answers, as with a stalled VM or a partition without RST.

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort, LOOPBACK } from './free-port.ts';
import { findCommand, ServerProcess, waitUntilReady } from './server-process.ts';

const START_TIMEOUT_MS = 5000;
/** What it printed is kept for the message of a failed start; the rest is drained and dropped. */
const KEPT_OUTPUT_CHARS = 4000;

export interface RedisOptions {
  /**
   * Its directory: there it keeps an append-only file, fsynced at every write, as a cluster's
   * Redis should run (CLUSTER.md §8), and a restart finds what it saved. Without one it keeps nothing.
   */
  readonly dir?: string;
  readonly extraArgs?: readonly string[];
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** The PID of the process it last started (a restart starts another). */
  readonly pid: number;
  /** Stops it (SIGTERM: it saves its append-only file first). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory: what it saved is back. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, the kernel still accepts new ones, nothing answers. */
  pause(): void;
  /** Lets a frozen Redis run on (SIGCONT): it answers everything it was sent meanwhile. */
  resume(): void;
  /** SIGKILL, frozen or not, for a cleanup after a failed test. */
  kill(): Promise<void>;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const binary = findCommand('redis-server');
  if (binary === undefined) throw new Error('redis-server is not installed; install it with: apt-get install -y redis-server');
  const port = await freePort();
  const persistence = options.dir === undefined ? ['--appendonly', 'no'] : ['--dir', options.dir, '--appendonly', 'yes', '--appendfsync', 'always'];
  const args = ['--port', String(port), '--bind', LOOPBACK, '--save', '', ...persistence, '--loglevel', 'warning', ...(options.extraArgs ?? [])];
  let server: ServerProcess | null = await launch(binary, args, port);
  let pid = server.pid;
  const running = (): ServerProcess => {
    if (server === null) throw new Error('redis-server is not running');
    return server;
  };
  return {
    port,
    url: `redis://${LOOPBACK}:${port}`,
    get pid() {
      return pid;
    },
    async stop() {
      if (server === null) return;
      server.signal('SIGCONT'); // a frozen Redis would never act on the SIGTERM
      await server.stop('SIGTERM');
      server = null;
    },
    async restart() {
      if (server !== null) throw new Error('redis-server is still running; stop it first');
      server = await launch(binary, args, port);
      pid = server.pid;
    },
    pause: () => running().signal('SIGSTOP'),
    resume: () => running().signal('SIGCONT'),
    async kill() {
      if (server === null) return;
      server.signal('SIGCONT');
      server.kill();
      await server.exited;
      server = null;
    },
  };
}

async function launch(binary: string, args: readonly string[], port: number): Promise<ServerProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new ServerProcess(child, 'redis-server');
  let output = '';
  const keep = (chunk: Buffer): void => {
    if (output.length < KEPT_OUTPUT_CHARS) output += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  await waitUntilReady(server, `redis-server on port ${port}`, () => answersPing(port), START_TIMEOUT_MS, () => output);
  return server;
}

/** Ready once it answers: a port that accepts could still be loading its append-only file. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      // -NOAUTH: up, but wants a password (a test's own choice).
      resolve(data.toString().startsWith('+PONG') || data.toString().startsWith('-NOAUTH'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
