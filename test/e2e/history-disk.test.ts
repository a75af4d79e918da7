// The history on disk (--data-dir, OPERATIONS.md §11) on a real chatd: kept across a restart and
// across a kill -9 (all but the last HISTORY_FLUSH_MS), positions that go on where they were, a
// directory or file chatd cannot use refused in one line with exit 1, and a disk that fills up
// later logged and counted while the chat goes on.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { HISTORY_FLUSH_MS } from '../../store/history-store.ts';
import { connectAndGreet, connectAs, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { runChatdToExit, startChatd, stopAllChatd, type ChatdProcess } from '../helpers/start-server.ts';

const scratch = mkdtempSync(join(tmpdir(), 'chatd-history-disk-'));
afterAll(async () => {
  await stopAllChatd();
  rmSync(scratch, { recursive: true, force: true });
});

let serial = 0;
const freshDir = (): string => join(scratch, `data-${++serial}`);

/** Says each line and waits for its echo: it has been decided, and handed to the store. */
async function say(client: ChatClient, lines: readonly string[]): Promise<void> {
  for (const text of lines) {
    await client.send(text);
    await client.waitForLine((line) => line === lineFrom(client, text));
  }
}

/** The `/history N` reply's entries, without the header; the reader is gone when it returns. */
async function historyOf(server: ChatdProcess, count: number): Promise<string[]> {
  const reader = await connectAndGreet(server.port);
  await reader.send(`/history ${count}`);
  const header = await reader.nextLine();
  const entries = Number(/^history: (\d+) entr/.exec(header)?.[1]);
  const lines: string[] = [];
  for (let index = 0; index < entries; index++) lines.push(await reader.nextLine());
  reader.destroy();
  // Others must not see its `login out` where a test expects its own next line.
  await server.waitForLog((record) => record['event'] === 'leave' && record['addr'] === reader.addr);
  return lines;
}

/** `@N` and the live line of a history line: what must survive a restart. */
const withoutTime = (line: string): string => line.replace(/^history (@\d+) \S+ /, '$1 ');

describe('--data-dir', () => {
  it('keeps the history across a restart, positions and times included, and goes on from the newest', async () => {
    const dir = freshDir();
    const first = await startChatd(['--data-dir', dir, '--rate-limit', '0']);
    const alice = await connectAs(first.port, 'alice');
    await say(alice, ['one', 'two', 'three']);
    const before = await historyOf(first, 10);
    expect(before).toHaveLength(4); // the rename and three lines
    await first.stop('SIGTERM');

    const second = await startChatd(['--data-dir', dir]);
    await second.waitForLog((record) => record['event'] === 'history-opened' && record['entries'] === 4);
    expect(await historyOf(second, 10)).toEqual(before);
    const bob = await connectAs(second.port, 'bob');
    await say(bob, ['after the restart']);
    const after = await historyOf(second, 1);
    expect(withoutTime(after[0]!)).toBe(`@6 ${lineFrom(bob, 'after the restart')}`); // @5 is bob's rename
    await second.stop('SIGTERM');
  });

  it(`keeps all but the last ${HISTORY_FLUSH_MS} ms of the history across a kill -9`, async () => {
    const dir = freshDir();
    const first = await startChatd(['--data-dir', dir, '--rate-limit', '0']);
    const alice = await connectAs(first.port, 'alice');
    const lines = Array.from({ length: 100 }, (_, index) => `line ${index}`);
    await say(alice, lines);
    // Past the flush interval, with room for the writer's transaction.
    await sleep(HISTORY_FLUSH_MS * 4);
    const before = await historyOf(first, 1000);
    first.kill();
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = await startChatd(['--data-dir', dir]);
    expect((await historyOf(second, 1000)).map(withoutTime)).toEqual(before.map(withoutTime));
    await second.stop('SIGTERM');
  });

  it('refuses a history.sqlite that is not a database, in one line, with exit 1', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, 'history.sqlite'), 'this is not a database, but it is long enough to look like a file header'.repeat(100));
    const run = await runChatdToExit(['--port', '0', '--data-dir', dir]);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^chatd: --data-dir ${dir}: history\\.sqlite `));
  });

  it('refuses a second chatd on a directory another one uses, in one line, with exit 1', async () => {
    const dir = freshDir();
    const first = await startChatd(['--data-dir', dir]);
    const run = await runChatdToExit(['--port', '0', '--data-dir', dir]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      `chatd: --data-dir ${dir}: another chatd (pid ${first.pid}) keeps its history here; stop it, or give this one another --data-dir (if pid ${first.pid} is no chatd, delete ${join(dir, 'chatd.lock')})`,
    ]);
    await first.stop('SIGTERM');
  });

  it('refuses a directory it cannot create, in one line, with exit 1', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    const run = await runChatdToExit(['--port', '0', '--data-dir', join(file, 'history')]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^chatd: --data-dir .*a-file\/history: cannot create or write the directory/)]);
  });

  it('goes on when the disk fills up: the chat is unharmed, the failure logged and counted', async () => {
    const dir = freshDir();
    const server: ChatdProcess = await startChatd(['--data-dir', dir, '--rate-limit', '0', '--http-port', '0'], {
      CHATD_TEST_HOOKS: '1',
      // A database of 12 pages of 4 KiB: the schema and a few entries fit, then SQLITE_FULL.
      CHATD_TEST_HISTORY_MAX_PAGES: '12',
    });
    const httpPort = (await server.waitForLog((record) => record['event'] === 'http-listening'))['port'] as number;
    const alice = await connectAs(server.port, 'alice');
    const bob = await connectAndGreet(server.port, [alice]);
    const long = 'x'.repeat(2000);
    for (let index = 0; index < 60; index++) {
      await alice.send(`${index} ${long}`);
      await bob.waitForLine((line) => line === lineFrom(alice, `${index} ${long}`));
    }
    const failure = await server.waitForLog((record) => record['event'] === 'history-write-failed', 10_000);
    expect(failure['code']).toBe('SQLITE_FULL');
    expect(String(failure['msg'])).toMatch(/full/i);
    // The chat goes on, and /history still answers from memory.
    await alice.send('still here');
    await bob.waitForLine((line) => line === lineFrom(alice, 'still here'));
    expect((await historyOf(server, 1)).map(withoutTime)).toEqual([`@62 ${lineFrom(alice, 'still here')}`]);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(Number(/^chatd_history_disk_failures_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^chatd_history_disk_lost_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    await server.stop('SIGTERM');
  });
});
