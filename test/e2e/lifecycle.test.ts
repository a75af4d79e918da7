// chatd as a process: the shutdown on SIGTERM, a port already taken, bad flags, --help, and a
// client that half-closes its side.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, type ExpectStatic } from 'vitest';
import { connectAs, disconnectAll, lineFrom } from '../helpers/chat-client.ts';
import { runChatdToExit, startChatd, stopAllChatd } from '../helpers/start-server.ts';
import { useChatd } from '../helpers/use-chatd.ts';

afterAll(stopAllChatd);

/** A usage or startup failure is one line, `chatd: ...`, and no stack trace. */
function expectOneLineFailure(stderr: string, expect: ExpectStatic): void {
  expect(stderr).toMatch(/^chatd: [^\n]+\n$/);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('chatd process', () => {
  afterEach(async () => {
    await disconnectAll();
    await stopAllChatd();
  });

  it('tells every client "server shutting down", closes them and exits 0 within 5 s of SIGTERM', async () => {
    const server = await startChatd();
    const alice = await connectAs(server.port, 'alice');
    const bob = await connectAs(server.port, 'bob', [alice]);
    const carol = await connectAs(server.port, 'carol', [alice, bob]);
    const signalledAt = performance.now();
    const exited = server.stop('SIGTERM');
    for (const client of [alice, bob, carol]) {
      await client.expectLine('error: server shutting down; goodbye');
      await client.expectClosed();
    }
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - signalledAt).toBeLessThan(5000);
  });

  it('exits 0 within 5 s of SIGTERM even when a client neither reads nor closes', async () => {
    const server = await startChatd();
    const alice = await connectAs(server.port, 'alice');
    const mallory = await connectAs(server.port, 'mallory', [alice]);
    mallory.pause(); // never sees the notice or the FIN, so never closes its side
    const signalledAt = performance.now();
    const exited = server.stop('SIGTERM');
    await alice.expectLine('error: server shutting down; goodbye');
    await alice.expectClosed();
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - signalledAt).toBeLessThan(5000);
  });

  it('shuts down the same way on SIGINT', async () => {
    const server = await startChatd();
    const alice = await connectAs(server.port, 'alice');
    const exited = server.stop('SIGINT');
    await alice.expectLine('error: server shutting down; goodbye');
    await alice.expectClosed();
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  it('exits 0 at once on SIGTERM with nobody online', async () => {
    const server = await startChatd();
    const signalledAt = performance.now();
    expect(await server.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(performance.now() - signalledAt).toBeLessThan(2000);
  });

  it('says where it listens as a person reads it: an IPv6 host in brackets, one worker thread in the singular', async () => {
    const server = await startChatd(['--host', '::1', '--workers', '1']);
    const listening = server.logs.find((record) => record['event'] === 'listening')!;
    expect(listening['msg']).toBe(`chatd listening on [::1]:${server.port} with 1 worker thread`);
    expect(listening['pid']).toBe(server.pid);
  });

  it('refuses a port another chatd holds, with one line that says so', async () => {
    const first = await startChatd();
    const second = await runChatdToExit(['--port', String(first.port)]);
    expect(second.code).not.toBe(0);
    expectOneLineFailure(second.stderr, expect);
    expect(second.stderr).toContain('already in use');
    expect(second.stderr).toContain(String(first.port));
    // The first one is unharmed.
    const alice = await connectAs(first.port, 'alice');
    await alice.send('still serving');
    await alice.expectLine(lineFrom(alice, 'still serving'));
  });
});

describe('npm start', () => {
  const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

  /** Whether a process of ours is still there (signal 0 only asks). */
  const isRunning = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  // #10 §6: npm ran `sh -c "node cli/chatd.ts"`, passed the signal to the shell only, and left chatd running.
  it.concurrent.for(['SIGTERM', 'SIGINT'] as const)('stops chatd when the npm process it started gets %s', { timeout: 20_000 }, async (signal, { expect }) => {
    const { NODE_OPTIONS: _omitted, ...env } = process.env;
    const npm = spawn('npm', ['start', '--silent', '--', '--port', '0', '--workers', '1'], { cwd: repoRoot, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = once(npm, 'exit');
    let chatdPid: number | undefined;
    try {
      for await (const line of createInterface({ input: npm.stderr! })) {
        const record = JSON.parse(line) as { event?: string; pid?: number };
        if (record.event === 'listening') {
          chatdPid = record.pid;
          break;
        }
      }
      expect(chatdPid).toBeTypeOf('number');
      expect(chatdPid).not.toBe(npm.pid);
      npm.kill(signal);
      // Bounded: the old npm start waited for a chatd that never got the signal.
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      const deadline = performance.now() + 5000;
      while (isRunning(chatdPid!) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(isRunning(chatdPid!), 'chatd still runs after npm was stopped').toBe(false);
    } finally {
      if (chatdPid !== undefined && isRunning(chatdPid)) process.kill(chatdPid, 'SIGKILL');
      npm.kill('SIGKILL');
    }
  });
});

describe('chatd command line', () => {
  // Each is a process of its own that exits by itself: they run side by side.
  it.concurrent.for([
    [['--port', '70000'], '--port'],
    [['--port', 'eighty'], '--port'],
    [['--port', '0x4650'], '--port must be a whole number from 0 to 65535; got 0x4650'],
    [['--workers', '0'], '--workers'],
    [['--idle-timeout', '-1'], '--idle-timeout'],
    [['--max-line', '1.5'], '--max-line'],
    [['--bogus'], 'bogus'],
  ] as const)('refuses %j with exit code 2 and one line on stderr naming %s', async ([args, named], { expect }) => {
    const run = await runChatdToExit(args);
    expect(run.code).toBe(2);
    expectOneLineFailure(run.stderr, expect);
    expect(run.stderr).toContain(named);
    expect(run.stdout).toBe('');
  });

  it.concurrent('prints every flag for --help and exits 0, exactly as the README shows it', async ({ expect }) => {
    const run = await runChatdToExit(['--help']);
    expect(run.code).toBe(0);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const copy = /`npx chatd --help` prints:\n\n```text\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(copy, 'README.md has the --help copy').toBe(run.stdout);
    for (const flag of [
      '--host',
      '--port',
      '--workers',
      '--idle-timeout',
      '--max-line',
      '--max-clients',
      '--max-pending',
      '--log-level',
      '--help',
      '--version',
    ]) {
      expect(run.stdout, `--help lists ${flag}`).toContain(flag);
    }
    expect(run.stderr).toBe('');
  });
});

describe('chatd with a client that half-closes', () => {
  const server = useChatd();

  it('answers a client that sends who and then half-closes, then closes it', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    void bob.send('who');
    bob.end(); // the FIN follows the line at once, most likely in the same read on the server
    await bob.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:bob`);
    await bob.expectClosed();
    await alice.expectLine(lineFrom(bob, 'login out'));
  });

  it('carries out every line a client sent before it half-closed, in order', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    void bob.write('one\nrename|robert\ntwo\n');
    bob.end();
    await bob.expectLines(lineFrom(bob, 'one'), 'rename ok', `[${bob.addr}]robert:two`);
    await bob.expectClosed();
    await alice.expectLines(
      lineFrom(bob, 'one'),
      `[${bob.addr}]bob:renamed to robert`,
      `[${bob.addr}]robert:two`,
      `[${bob.addr}]robert:login out`,
    );
  });
});
