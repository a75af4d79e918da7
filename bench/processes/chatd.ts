// A chatd process of some checkout (this one, or a regression check's reference), for the bench
// and for the end-to-end tests: its pino log lines parsed as they arrive, its start awaited on
// its `listening` line, stopped by its own PID. Runs in the bench's main thread or a vitest
// worker; which flags and environment it gets is the caller's (bench/servers.ts, test/helpers/).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ServerProcess } from './server-process.ts';

/** The checkout this file is in: chatd runs from there, as `npm start` runs it. */
export const THIS_CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));
const CHATD_ENTRY = 'cli/chatd.ts';

/** One pino line from chatd's stderr; a line that is not JSON is kept as `{ raw }`. */
export type LogRecord = Readonly<Record<string, unknown>>;

export interface ChatdLaunch {
  /** Its arguments after cli/chatd.ts, exactly. */
  readonly args: readonly string[];
  /** Its whole environment. */
  readonly env: NodeJS.ProcessEnv;
  /** The checkout whose cli/chatd.ts runs; default this one. */
  readonly root?: string;
}

interface LogWaiter {
  readonly predicate: (record: LogRecord, index: number) => boolean;
  readonly resolve: (record: LogRecord) => void;
}

export class ChatdProcess extends ServerProcess {
  /** 0 until it logs `listening` (startChatd). */
  port = 0;
  /** The --web-port (HTTP or HTTPS, WebSocket at /ws) and --tls-port it got; null when off. */
  webPort: number | null = null;
  tlsPort: number | null = null;
  /** Every log line so far, in order. */
  readonly logs: LogRecord[] = [];
  /** Everything written to stderr so far, as text. */
  stderr = '';
  stdout = '';
  readonly #waiters = new Set<LogWaiter>();
  #unfinishedLine = '';

  constructor(launch: ChatdLaunch) {
    super(spawn(process.execPath, [CHATD_ENTRY, ...launch.args], { cwd: launch.root ?? THIS_CHECKOUT, env: launch.env, stdio: ['ignore', 'pipe', 'pipe'] }), 'chatd');
    // Drained for the whole life of the process: chatd logs synchronously, so a full pipe would
    // block its threads mid-line and look like a server bug.
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => this.#takeStderr(text));
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (text: string) => {
      this.stdout += text;
    });
  }

  /** Resolves with the first log line, past or future, that matches. */
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

/**
 * Starts chatd and resolves once it logs `listening`, with the port it got. Rejects with its
 * stderr, and kills it, if it exits first or does not listen within `startTimeoutMs`.
 */
export async function startChatd(launch: ChatdLaunch, startTimeoutMs: number): Promise<ChatdProcess> {
  const chatd = new ChatdProcess(launch);
  const where = launch.root === undefined ? '' : ` in ${launch.root}`;
  const failed = (why: string): Error => new Error(`chatd ${launch.args.join(' ')}${where} ${why}; stderr:\n${chatd.stderr}`);
  const listening = chatd
    .waitForLog((record) => record['event'] === 'listening', startTimeoutMs)
    .catch(() => {
      throw failed(`did not listen within ${startTimeoutMs} ms`);
    });
  const exitedFirst = chatd.exited.then((status) => {
    throw failed(`exited before listening (code ${status.code}, signal ${status.signal})`);
  });
  try {
    const record = await Promise.race([listening, exitedFirst]);
    const port = record['port'];
    if (typeof port !== 'number') throw failed(`logged listening without a port: ${JSON.stringify(record)}`);
    chatd.port = port;
    chatd.webPort = typeof record['webPort'] === 'number' ? record['webPort'] : null;
    chatd.tlsPort = typeof record['tlsPort'] === 'number' ? record['tlsPort'] : null;
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
