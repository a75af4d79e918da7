// Starts real chatd processes for the end-to-end tests: each on a port of its own, its pino log
// lines parsed as they arrive, and stopped by its own PID. Runs in the vitest worker; every
// process started here is tracked, so an afterAll can stop all of them (stopAllChatd).

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: chatd runs from there, as `npm start` runs it. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHATD_ENTRY = 'cli/chatd.ts';

/** A cold Node start with type stripping, yargs and pino takes well under a second; ten is a hang. */
const START_TIMEOUT_MS = 10_000;
/** SIGTERM drains for at most 4 s (server/primary.ts); past this the process is killed outright. */
const STOP_GRACE_MS = 8_000;

/** One pino line from chatd's stderr; a line that is not JSON is kept as `{ raw }`. */
export type LogRecord = Readonly<Record<string, unknown>>;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChatdProcess {
  readonly port: number;
  readonly pid: number;
  /** Every log line so far, in order. */
  readonly logs: readonly LogRecord[];
  /** Everything written to stderr so far, as text. */
  readonly stderr: string;
  readonly hasExited: boolean;
  /** Resolves with the first log line, past or future, that matches. */
  waitForLog(predicate: (record: LogRecord, index: number) => boolean, timeoutMs?: number): Promise<LogRecord>;
  /** Sends `signal` once (by PID) unless the process has exited; resolves when it has. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Sends a signal that is not meant to stop it (SIGUSR2 for the test hooks). */
  signal(signal: NodeJS.Signals): void;
}

/** What a chatd run that is expected to end by itself printed, and how it ended. */
export interface FinishedRun extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

interface LogWaiter {
  readonly predicate: (record: LogRecord, index: number) => boolean;
  readonly resolve: (record: LogRecord) => void;
}

const running = new Set<Chatd>();

class Chatd implements ChatdProcess {
  port = 0;
  readonly pid: number;
  readonly logs: LogRecord[] = [];
  stderr = '';
  stdout = '';
  readonly exited: Promise<ExitStatus>;
  #exitStatus: ExitStatus | undefined;
  readonly #child: ChildProcess;
  #unfinishedLine = '';
  #isSignalled = false;
  readonly #waiters = new Set<LogWaiter>();

  constructor(child: ChildProcess) {
    if (child.pid === undefined) throw new Error('chatd did not start (no PID)');
    this.#child = child;
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': by then stdout and stderr are read to their end.
      child.once('close', (code, signal) => {
        this.#exitStatus = { code, signal };
        running.delete(this);
        resolve(this.#exitStatus);
      });
    });
    // Drained for the whole life of the process: chatd logs synchronously, so a full pipe would
    // block its threads mid-line and look like a server bug.
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => this.#takeStderr(text));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      this.stdout += text;
    });
    running.add(this);
  }

  get hasExited(): boolean {
    return this.#exitStatus !== undefined;
  }

  waitForLog(predicate: (record: LogRecord, index: number) => boolean, timeoutMs = 5000): Promise<LogRecord> {
    const index = this.logs.findIndex(predicate);
    if (index !== -1) return Promise.resolve(this.logs[index]!);
    return new Promise((resolve, reject) => {
      const waiter: LogWaiter = {
        predicate,
        resolve: (record) => {
          clearTimeout(timer);
          resolve(record);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`chatd ${this.pid}: no matching log line within ${timeoutMs} ms; stderr:\n${this.stderr}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> {
    if (!this.hasExited && !this.#isSignalled) {
      this.#isSignalled = true;
      this.#child.kill(signal);
    }
    return this.exited;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.hasExited) this.#child.kill(signal);
  }

  /** The last resort of stopAllChatd, for a process that ignored its SIGTERM. */
  kill(): void {
    if (!this.hasExited) this.#child.kill('SIGKILL');
  }

  #takeStderr(text: string): void {
    this.stderr += text;
    const lines = (this.#unfinishedLine + text).split('\n');
    this.#unfinishedLine = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') continue;
      const record = parseLogLine(line);
      this.logs.push(record);
      const index = this.logs.length - 1;
      for (const waiter of this.#waiters) {
        if (waiter.predicate(record, index)) {
          this.#waiters.delete(waiter);
          waiter.resolve(record);
        }
      }
    }
  }
}

function parseLogLine(line: string): LogRecord {
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as LogRecord;
  } catch {
    // not JSON: a crash or a CLI message, kept as it is below
  }
  return { raw: line };
}

function spawnChatd(args: readonly string[], extraEnv: Readonly<Record<string, string>> = {}): Chatd {
  // Without vitest's NODE_OPTIONS: chatd must run as a user would run it.
  const { NODE_OPTIONS: _omitted, ...inherited } = process.env;
  const env = { ...inherited, ...extraEnv };
  const child = spawn(process.execPath, [CHATD_ENTRY, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Chatd(child);
}

/**
 * Starts `chatd --port 0 --motd '' ...args` and resolves once it logs `listening`, with the port it got.
 * Rejects with its stderr if it exits first or does not listen within 10 s.
 */
export async function startChatd(
  args: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
  options: { readonly hasDefaultMotd?: boolean } = {},
): Promise<ChatdProcess> {
  // Without the message of the day, unless a test asks for one: most tests read a client's lines
  // in order, and the line after every greeting is tested where it is the point (test/e2e/newcomer.test.ts).
  const motd = args.includes('--motd') || options.hasDefaultMotd === true ? [] : ['--motd', ''];
  const chatd = spawnChatd(['--port', '0', ...motd, ...args], env);
  const failed = (why: string): Error => new Error(`chatd ${args.join(' ')} ${why}; stderr:\n${chatd.stderr}`);
  const listening = chatd
    .waitForLog((record) => record['event'] === 'listening', START_TIMEOUT_MS)
    .catch(() => {
      throw failed(`did not listen within ${START_TIMEOUT_MS} ms`);
    });
  const exitedFirst = chatd.exited.then((status) => {
    throw failed(`exited before listening (code ${status.code}, signal ${status.signal})`);
  });
  try {
    const record = await Promise.race([listening, exitedFirst]);
    const port = record['port'];
    if (typeof port !== 'number') throw failed(`logged listening without a port: ${JSON.stringify(record)}`);
    chatd.port = port;
    return chatd;
  } catch (error) {
    chatd.kill();
    throw error;
  } finally {
    // The race is decided; the loser's later rejection means nothing.
    listening.catch(() => {});
    exitedFirst.catch(() => {});
  }
}

/**
 * Runs chatd with exactly these arguments (no `--port 0` added) until it exits by itself, as a
 * bad flag or a port in use make it do. Killed, and rejected, if it is still running after `timeoutMs`.
 */
export async function runChatdToExit(args: readonly string[], timeoutMs = 10_000): Promise<FinishedRun> {
  const chatd = spawnChatd(args);
  const timer = setTimeout(() => chatd.kill(), timeoutMs);
  try {
    const status = await chatd.exited;
    if (status.signal === 'SIGKILL') throw new Error(`chatd ${args.join(' ')} did not exit within ${timeoutMs} ms`);
    return { ...status, stdout: chatd.stdout, stderr: chatd.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Stops every chatd these helpers started and that is still running: SIGTERM, then SIGKILL. */
export async function stopAllChatd(): Promise<void> {
  await Promise.all(
    [...running].map(async (chatd) => {
      const timer = setTimeout(() => chatd.kill(), STOP_GRACE_MS);
      try {
        await chatd.stop();
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
