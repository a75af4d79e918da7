// Starts real chatd processes for the end-to-end tests: each on a port of its own, without the
// message of the day unless asked, stopped by its own PID (bench/processes/chatd.ts does the
// spawning, the log parsing and the waiting). Runs in the vitest worker; every process started
// here is tracked, so an afterAll can stop all of them (stopAllChatd).

import { ChatdProcess, startChatd as startChatdProcess, THIS_CHECKOUT } from '../../bench/processes/chatd.ts';
import type { ExitStatus } from '../../bench/processes/server-process.ts';

export type { ChatdProcess, LogRecord } from '../../bench/processes/chatd.ts';
export type { ExitStatus };

/** The repository root: chatd runs from there, as `npm start` runs it. */
export const REPO_ROOT = THIS_CHECKOUT;

/** A cold Node start with type stripping, yargs and pino takes well under a second; ten is a hang. */
const START_TIMEOUT_MS = 10_000;
/** SIGTERM drains for at most 4 s (server/primary.ts); past this the process is killed outright. */
const STOP_GRACE_MS = 8_000;

/** What a chatd run that is expected to end by itself printed, and how it ended. */
export interface FinishedRun extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

const running = new Set<ChatdProcess>();

function track(chatd: ChatdProcess): ChatdProcess {
  running.add(chatd);
  void chatd.exited.then(() => running.delete(chatd));
  return chatd;
}

/** Without vitest's NODE_OPTIONS: chatd must run as a user would run it. */
function testEnv(extraEnv: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _omitted, ...inherited } = process.env;
  return { ...inherited, ...extraEnv };
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
  return track(await startChatdProcess({ args: ['--port', '0', ...motd, ...args], env: testEnv(env) }, START_TIMEOUT_MS));
}

/**
 * Runs chatd with exactly these arguments (no `--port 0` added) until it exits by itself, as a
 * bad flag or a port in use make it do. Killed, and rejected, if it is still running after `timeoutMs`:
 * 25 s by default, inside vitest's 30 s, since a full suite (chromium included) on two cores once
 * took over 10 s to start and stop a chatd that refused its --http-port.
 */
export async function runChatdToExit(args: readonly string[], timeoutMs = 25_000): Promise<FinishedRun> {
  const chatd = track(new ChatdProcess({ args, env: testEnv({}) }));
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
  await Promise.all([...running].map((chatd) => chatd.stop('SIGTERM', STOP_GRACE_MS)));
}
