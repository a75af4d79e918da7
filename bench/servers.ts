// The servers the bench measures: a chatd of this checkout (or another) over any transport, the
// seed's Go server, nats-server, or a plain socket.io server, started on a free loopback port
// (bench/processes/) and stopped by their PID; and what /proc says of a server's CPU time and
// memory, for a server the bench started or one given by --server-pid.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startChatd, THIS_CHECKOUT, type ChatdProcess } from './processes/chatd.ts';
import { LOOPBACK } from './processes/free-port.ts';
import { startNats, startSeed, startSocketIo, STDERR_HEAD_CHARS, type PeerProcess } from './processes/peer-server.ts';
import { hasOpenssl, makeSelfSignedCert, type SelfSignedCert } from './processes/self-signed-cert.ts';
import { describeExit } from './processes/server-process.ts';
import type { TransportName } from './wire.ts';

export const SERVER_KINDS = ['chatd', 'seed', 'nats', 'socketio'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** The transports each server can be measured over; the first is what it gets by default. */
export const SERVER_TRANSPORTS = {
  chatd: ['tcp', 'tls', 'ws', 'wss'],
  seed: ['tcp'],
  nats: ['tcp'],
  socketio: ['socketio'],
} as const satisfies Record<ServerKind, readonly TransportName[]>;

/** null if `kind` can be measured over `transport`, else a message that says what to change. */
export function spawnMismatch(kind: ServerKind, transport: TransportName): string | null {
  const allowed: readonly TransportName[] = SERVER_TRANSPORTS[kind];
  return allowed.includes(transport) ? null : `--spawn ${kind} is measured over ${allowed.join(', ')}; got --transport ${transport}`;
}

export interface SpawnOptions {
  readonly kind: ServerKind;
  /** chatd: which of its listeners the clients use (tls and wss get a certificate of the bench's own). */
  readonly transport: TransportName;
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
  /** The port of the transport the bench was asked for (chatd: --port, --tls-port or --web-port). */
  readonly port: number;
  readonly pid: number;
  /** tls, wss: the certificate the bench made for it, which its clients check; else null. */
  readonly caPem: string | null;
  /**
   * null while the server runs (or once the bench stopped it); else how it ended on its own,
   * with the first words it wrote on stderr: "exited with code 2: fatal error: concurrent map writes".
   */
  exit(): string | null;
  stop(): Promise<void>;
}

/** A chatd cold start in a regression check's fresh worktree can be slow; fifteen seconds is a hang. */
const CHATD_START_TIMEOUT_MS = 15_000;
/** SIGTERM drains for at most 4 s (server/primary.ts); past this the server is killed outright. */
const STOP_GRACE_MS = 6000;

export async function spawnServer(options: SpawnOptions): Promise<RunningServer> {
  switch (options.kind) {
    case 'chatd':
      return spawnChatd(options);
    case 'seed': {
      const seed = await startSeed(options.seedBinary);
      return running('seed', seed, seed.port, () => seed.firstWords);
    }
    case 'nats': {
      const nats = await startNats();
      return running('nats', nats, nats.port, () => nats.firstWords);
    }
    case 'socketio': {
      const socketIo = await startSocketIo();
      return running('socketio', socketIo, socketIo.port, () => socketIo.firstWords);
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

/** The flags that open the listener a transport needs, on any free port. */
function transportArgs(transport: TransportName, cert: SelfSignedCert | null): string[] {
  const tlsFiles = cert === null ? [] : ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile];
  switch (transport) {
    case 'tls':
      return ['--tls-port', '0', ...tlsFiles];
    case 'ws':
    case 'wss':
      return ['--web-port', '0', ...tlsFiles];
    case 'tcp':
    case 'socketio':
      return [];
  }
}

async function spawnChatd(options: SpawnOptions): Promise<RunningServer> {
  const mismatch = spawnMismatch('chatd', options.transport);
  if (mismatch !== null) throw new Error(mismatch);
  const root = options.chatdRoot ?? THIS_CHECKOUT;
  const isTls = options.transport === 'tls' || options.transport === 'wss';
  if (isTls && !hasOpenssl()) throw new Error(`--transport ${options.transport} needs a certificate, made with openssl; install it with: apt-get install -y openssl`);
  const cert = isTls ? makeSelfSignedCert() : null;
  try {
    const args = [
      '--host', LOOPBACK, '--port', '0', '--workers', String(options.workers), '--log-level', 'info',
      ...transportArgs(options.transport, cert), ...limitsOff(root), ...(options.extraArgs ?? []),
    ];
    const chatd = await startChatd({ root, args, env: serverEnv() }, CHATD_START_TIMEOUT_MS);
    const port = options.transport === 'tls' ? chatd.tlsPort : options.transport === 'ws' || options.transport === 'wss' ? chatd.webPort : chatd.port;
    if (port === null) {
      await chatd.stop('SIGTERM', STOP_GRACE_MS);
      throw new Error(`chatd in ${root} logged no ${options.transport === 'tls' ? 'tlsPort' : 'webPort'} in its listening line: does that checkout have ${transportArgs(options.transport, null)[0]}?`);
    }
    return running('chatd', chatd, port, () => lastLines(chatd.stderr, 3).join(' | '), cert);
  } catch (error) {
    cert?.remove();
    throw error;
  }
}

function running(kind: ServerKind, server: ChatdProcess | PeerProcess, port: number, firstWords: () => string, cert: SelfSignedCert | null = null): RunningServer {
  let isStopping = false;
  return {
    kind,
    host: LOOPBACK,
    port,
    pid: server.pid,
    caPem: cert?.certPem ?? null,
    exit() {
      if (isStopping || server.exitStatus === undefined) return null;
      const said = firstWords().slice(0, STDERR_HEAD_CHARS);
      return said === '' ? describeExit(server.exitStatus) : `${describeExit(server.exitStatus)}: ${said}`;
    },
    async stop() {
      isStopping = true;
      try {
        await server.stop('SIGTERM', STOP_GRACE_MS);
      } finally {
        cert?.remove();
      }
    },
  };
}

/** The last `count` lines of `text` that are not empty: what chatd logged just before it died (read only then). */
function lastLines(text: string, count: number): string[] {
  return text.split('\n').filter((line) => line.trim() !== '').slice(-count);
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
