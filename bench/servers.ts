// The servers the bench measures: a chatd of this checkout, the seed's Go server, or nats-server,
// started on a free loopback port and stopped by their PID; and what /proc says of a server's
// CPU time and memory, for a server the bench started or one given by --server-pid.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const SERVER_KINDS = ['chatd', 'seed', 'nats'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

export interface SpawnOptions {
  readonly kind: ServerKind;
  /** chatd: --workers. */
  readonly workers: number;
  /** chatd: the checkout to run (its cli/chatd.ts); default this one. */
  readonly chatdRoot?: string;
  /** seed: the built binary (see docs/BENCHMARKS.md). */
  readonly seedBinary: string;
  /** chatd: more flags. */
  readonly extraArgs?: readonly string[];
}

export interface RunningServer {
  readonly kind: ServerKind;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /**
   * null while the server runs (or once the bench stopped it); else how it ended on its own,
   * with the first words it wrote on stderr: "exited with code 2: fatal error: concurrent map writes".
   */
  exit(): string | null;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;
const THIS_ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function spawnServer(options: SpawnOptions): Promise<RunningServer> {
  switch (options.kind) {
    case 'chatd':
      return spawnChatd(options);
    case 'seed': {
      if (!existsSync(options.seedBinary)) {
        throw new Error(
          `no seed server at ${options.seedBinary}; build it with: apt-get install -y golang-go && ` +
            `(cd ../shared/peers/seed-go && go build -o ${options.seedBinary} .)`,
        );
      }
      const port = await freePort();
      return startPeer('seed', options.seedBinary, [`${HOST}:${port}`], port);
    }
    case 'nats': {
      const binary = findOnPath('nats-server');
      if (binary === undefined) throw new Error('nats-server is not installed; install it with: apt-get install -y nats-server');
      const port = await freePort();
      return startPeer('nats', binary, ['-a', HOST, '-p', String(port)], port);
    }
  }
}

/**
 * The limits meant for people would measure themselves, not chatd: 5000 bench clients come
 * from one address and send faster than anyone types. Older checkouts (a regression check's
 * reference) may not have these flags, so only the ones its --help lists are passed.
 */
const LIMITS_OFF: ReadonlyArray<readonly [string, string]> = [
  ['--rate-limit', '0'],
  ['--max-per-ip', '0'],
  // The clients that only listen say nothing for the whole run, and a W4 ramp or a W5 run
  // lasts more than the default minute: they would be timed out mid-run.
  ['--idle-timeout', '3600'],
];

/**
 * chatd reads CHATD_* settings and refuses unknown ones: the bench's own (CHATD_BENCH_*) and
 * whatever the caller's shell has set must not reach the server it measures.
 */
function serverEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CHATD_')));
}

function limitsOff(root: string): string[] {
  const help = execFileSync(process.execPath, ['cli/chatd.ts', '--help'], { cwd: root, env: serverEnv(), encoding: 'utf8' });
  return LIMITS_OFF.filter(([flag]) => help.includes(flag)).flat();
}

async function spawnChatd(options: SpawnOptions): Promise<RunningServer> {
  const root = options.chatdRoot ?? THIS_ROOT;
  const args = [
    'cli/chatd.ts',
    '--host',
    HOST,
    '--port',
    '0',
    '--workers',
    String(options.workers),
    '--log-level',
    'info',
    ...limitsOff(root),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: root, env: serverEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  const lastLines: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chatd in ${root} did not start listening within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    let output = '';
    // Keep reading stderr for the whole run: chatd logs synchronously, and a full pipe would stall it.
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (output.length < 4000) output += `${line}\n`;
      lastLines.push(line);
      if (lastLines.length > 3) lastLines.shift();
      if (line.includes('"event":"listening"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chatd exited with code ${code} before listening:\n${output}`));
    });
  });
  return running('chatd', child, port, () => lastLines.join(' | '));
}

/** A redis-server of the bench's own, for a chatd cluster (`npm run bench:cluster`). */
export interface RunningRedis {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts Debian's redis-server on a free loopback port, without persistence: the bench keeps nothing. */
export async function spawnRedis(): Promise<RunningRedis> {
  const binary = findOnPath('redis-server');
  if (binary === undefined) throw new Error('redis-server is not installed; install it with: apt-get install -y redis-server');
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitUntilListening(child, binary, port);
  return {
    url: `redis://${HOST}:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Enough of a Go panic to name it ("fatal error: concurrent map writes"); its goroutine dump is not kept. */
const STDERR_HEAD_CHARS = 300;

async function startPeer(kind: ServerKind, binary: string, args: string[], port: number): Promise<RunningServer> {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrHead = '';
  // Drained for the whole run (a full pipe would block the server); only the head is kept.
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderrHead.length < STDERR_HEAD_CHARS) stderrHead += chunk.toString('utf8', 0, STDERR_HEAD_CHARS);
  });
  await waitUntilListening(child, binary, port);
  return running(kind, child, port, () => stderrHead.split('\n').filter((line) => line.trim() !== '').slice(0, 2).join(' | '));
}

function running(kind: ServerKind, child: ChildProcess, port: number, stderrTail: () => string): RunningServer {
  let isStopping = false;
  return {
    kind,
    host: HOST,
    port,
    pid: child.pid!,
    exit() {
      if (isStopping || (child.exitCode === null && child.signalCode === null)) return null;
      const how = child.exitCode !== null ? `exited with code ${child.exitCode}` : `killed by ${child.signalCode}`;
      const said = stderrTail().slice(0, STDERR_HEAD_CHARS);
      return said === '' ? how : `${how}: ${said}`;
    },
    async stop() {
      isStopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 6000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Polls until the child listens on `port`; throws if it exits first or takes too long. */
async function waitUntilListening(child: ChildProcess, binary: string, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await isListening(port))) {
    if (child.exitCode !== null) throw new Error(`${binary} exited with code ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`${binary} did not listen on ${port} within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  }
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin']) if (existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  return undefined;
}

/** A server's CPU seconds (user + system, all threads) and memory, from /proc. */
export interface ProcessSample {
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
}

/** Linux reports CPU time in clock ticks; 100 per second on every mainstream kernel config. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The sum over several processes (the nodes of a cluster and their Redis); undefined if any is missing. */
export function sampleProcesses(pids: readonly number[]): ProcessSample | undefined {
  let sum: ProcessSample = { cpuSeconds: 0, rssBytes: 0, peakRssBytes: 0 };
  for (const pid of pids) {
    const one = sampleProcess(pid);
    if (one === undefined) return undefined;
    sum = { cpuSeconds: sum.cpuSeconds + one.cpuSeconds, rssBytes: sum.rssBytes + one.rssBytes, peakRssBytes: sum.peakRssBytes + one.peakRssBytes };
  }
  return pids.length === 0 ? undefined : sum;
}

export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string): number => Number(/^(\w+):\s+(\d+)/m.exec(status.slice(status.indexOf(`${key}:`)))?.[2] ?? 0) * 1024;
    return { cpuSeconds, rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
  } catch {
    return undefined; // not Linux, or the process is gone: the report says "not measured"
  }
}
