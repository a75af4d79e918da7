// The servers the bench measures: a chatd of this checkout (or another), the seed's Go server, or
// nats-server, started on a free loopback port (bench/processes/) and stopped by their PID; and
// what /proc says of a server's CPU time and memory, for a server the bench started or one given
// by --server-pid.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startChatd, THIS_CHECKOUT, type ChatdProcess } from './processes/chatd.ts';
import { LOOPBACK } from './processes/free-port.ts';
import { startNats, startSeed, STDERR_HEAD_CHARS, type PeerProcess } from './processes/peer-server.ts';
import { describeExit } from './processes/server-process.ts';

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

/** A chatd cold start in a regression check's fresh worktree can be slow; fifteen seconds is a hang. */
const CHATD_START_TIMEOUT_MS = 15_000;
/** SIGTERM drains for at most 4 s (server/primary.ts); past this the server is killed outright. */
const STOP_GRACE_MS = 6000;

export async function spawnServer(options: SpawnOptions): Promise<RunningServer> {
  switch (options.kind) {
    case 'chatd': {
      const chatd = await spawnChatd(options);
      return running('chatd', chatd, () => lastLines(chatd.stderr, 3).join(' | '));
    }
    case 'seed': {
      const seed = await startSeed(options.seedBinary);
      return running('seed', seed, () => seed.firstWords);
    }
    case 'nats': {
      const nats = await startNats();
      return running('nats', nats, () => nats.firstWords);
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

function spawnChatd(options: SpawnOptions): Promise<ChatdProcess> {
  const root = options.chatdRoot ?? THIS_CHECKOUT;
  const args = ['--host', LOOPBACK, '--port', '0', '--workers', String(options.workers), '--log-level', 'info', ...limitsOff(root), ...(options.extraArgs ?? [])];
  return startChatd({ root, args, env: serverEnv() }, CHATD_START_TIMEOUT_MS);
}

function running(kind: ServerKind, server: ChatdProcess | PeerProcess, firstWords: () => string): RunningServer {
  let isStopping = false;
  return {
    kind,
    host: LOOPBACK,
    port: server.port,
    pid: server.pid,
    exit() {
      if (isStopping || server.exitStatus === undefined) return null;
      const said = firstWords().slice(0, STDERR_HEAD_CHARS);
      return said === '' ? describeExit(server.exitStatus) : `${describeExit(server.exitStatus)}: ${said}`;
    },
    async stop() {
      isStopping = true;
      await server.stop('SIGTERM', STOP_GRACE_MS);
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
