// What every server process started here has, whatever it runs: its PID, how it ended, a stop
// by its own PID (a signal, then SIGKILL past a grace period), its binary found on the PATH, and
// a start awaited until it is ready. Runs in the bench's main thread or in a vitest worker;
// chatd.ts, redis-server.ts and peer-server.ts build on it.

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export class ServerProcess {
  readonly pid: number;
  /** Resolves once the process has exited and its stdout and stderr are read to their end. */
  readonly exited: Promise<ExitStatus>;
  protected readonly child: ChildProcess;
  #exitStatus: ExitStatus | undefined;
  #isSignalled = false;

  constructor(child: ChildProcess, name: string) {
    if (child.pid === undefined) throw new Error(`${name} did not start (no PID)`);
    this.child = child;
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': by then what it wrote is all read (a test reads its last log line).
      child.once('close', (code, signal) => {
        this.#exitStatus = { code, signal };
        resolve(this.#exitStatus);
      });
    });
  }

  get hasExited(): boolean {
    return this.#exitStatus !== undefined;
  }

  /** undefined while it runs. */
  get exitStatus(): ExitStatus | undefined {
    return this.#exitStatus;
  }

  /**
   * Sends `signal` once (by PID) unless the process has exited; resolves when it has. With
   * `graceMs`, a process still running that long after is killed outright.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs?: number): Promise<ExitStatus> {
    if (!this.hasExited && !this.#isSignalled) {
      this.#isSignalled = true;
      this.child.kill(signal);
    }
    const timer = graceMs === undefined ? undefined : setTimeout(() => this.kill(), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal that is not meant to stop it (SIGUSR2 for chatd's test hooks, SIGSTOP). */
  signal(signal: NodeJS.Signals): void {
    if (!this.hasExited) this.child.kill(signal);
  }

  /** The last resort, for a process that ignored its SIGTERM or never became ready. */
  kill(): void {
    if (!this.hasExited) this.child.kill('SIGKILL');
  }
}

/** "exited with code 2", "killed by SIGSEGV". */
export function describeExit(status: ExitStatus): string {
  return status.code !== null ? `exited with code ${status.code}` : `killed by ${status.signal}`;
}

/** The binary's path: on the PATH, else in the system directories a non-root PATH may lack (Debian's redis-server). */
export function findCommand(command: string): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin']) {
    if (dir !== '' && existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  }
  return undefined;
}

const POLL_MS = 50;

/**
 * Polls `isReady` until it holds. Throws, and kills the process, if it exits first or is not
 * ready within `timeoutMs`; `output()` is added to either message.
 */
export async function waitUntilReady(
  server: ServerProcess,
  name: string,
  isReady: () => Promise<boolean>,
  timeoutMs: number,
  output: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const withOutput = (message: string): Error => new Error(output() === '' ? message : `${message}:\n${output()}`);
  while (!(await isReady())) {
    if (server.exitStatus !== undefined) throw withOutput(`${name} ${describeExit(server.exitStatus)} at start`);
    if (Date.now() > deadline) {
      server.kill();
      throw withOutput(`${name} was not ready within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
