// A real redis-server of the test's own, on a free loopback port, in a fresh directory: the
// cluster tests never share a Redis, never touch one on 6379, and can stop and restart theirs.
// It can also hang (SIGSTOP, then SIGCONT): the socket stays open and nothing answers, as with a
// stalled VM or a partition without RST. Without Debian's redis-server the tests skip with a message that says what to install; under
// CI=true they fail instead, so a CI machine that lacks it cannot pass by skipping.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = 'redis-server';
const START_TIMEOUT_MS = 5000;
export const INSTALL_HINT = 'install Debian\'s redis-server (apt-get install redis-server) to run the cluster tests';

/** Whether redis-server can be started here; under CI=true its absence is an error, not a skip. */
export function hasRedisServer(): boolean {
  const found = spawnSync(BINARY, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!found && process.env['CI'] === 'true') throw new Error(`redis-server is not installed but CI=true: ${INSTALL_HINT}`);
  if (!found) console.warn(`skipping the cluster tests: ${INSTALL_HINT}`);
  return found;
}

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Stops it (SIGTERM: it saves its append-only file first). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory: what it saved is back. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, the kernel still accepts new ones, nothing answers. */
  pause(): void;
  /** Lets a frozen Redis run on (SIGCONT): it answers everything it was sent meanwhile. */
  resume(): void;
}

/** Starts redis-server with an append-only file, as a cluster's Redis should run (CLUSTER.md §8). */
export async function startRedis(extraArgs: readonly string[] = []): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'chatd-redis-'));
  let child: ChildProcess | null = await launch(port, dir, extraArgs);
  const signal = (name: NodeJS.Signals): void => {
    if (child === null) throw new Error('redis-server is not running');
    child.kill(name);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child === null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGCONT'); // a frozen Redis would never act on the SIGTERM
      child.kill('SIGTERM');
      await exited;
      child = null;
    },
    async restart() {
      if (child !== null) throw new Error('redis-server is still running; stop it first');
      child = await launch(port, dir, extraArgs);
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
  };
}

/** Every Redis started by this file's tests: stopped and its directory removed. */
const started = new Set<{ child: ChildProcess; dir: string }>();

export async function stopAllRedis(): Promise<void> {
  const all = [...started];
  started.clear();
  await Promise.all(
    all.map(async ({ child, dir }) => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGCONT'); // a test that failed while its Redis was frozen
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }),
  );
}

async function launch(port: number, dir: string, extraArgs: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    BINARY,
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'],
      ...['--loglevel', 'warning', ...extraArgs],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.add({ child, dir });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Ready once it answers on its port.
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited at start (code ${child.exitCode}):\n${output}`);
    if (await answersPing(port)) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`);
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
