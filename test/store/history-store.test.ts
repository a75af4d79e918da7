import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backup, DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatHistory, type HistoryEntry } from '../../room/history.ts';
import { BatchWriter } from '../../store/batch-writer.ts';
import { APPLICATION_ID } from '../../store/history-schema.ts';
import {
  HISTORY_BATCH_ENTRIES,
  HISTORY_FLUSH_MS,
  HISTORY_RETRY_MS,
  HistoryStoreError,
  openHistoryStore,
  WRITER_RESTART_MS,
  type HistoryStore,
  type HistoryStoreOptions,
  type HistoryWriteFailure,
  type OpenedHistory,
} from '../../store/history-store.ts';

const HOLDER = new URL('./store-holder.ts', import.meta.url);
const directories: string[] = [];
const stores: HistoryStore[] = [];

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  for (const dir of directories.splice(0)) {
    chmodSync(dir, 0o700); // one test takes the right to write away
    rmSync(dir, { recursive: true, force: true });
  }
});

function temporaryDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chatd-store-'));
  directories.push(dir);
  return dir;
}

function open(options: HistoryStoreOptions): OpenedHistory {
  const opened = openHistoryStore(options);
  stores.push(opened.store);
  return opened;
}

/** Opens, takes what the file has, closes: what a restarted chatd would find. */
async function reopen(dir: string, capacity = 100_000): Promise<HistoryEntry[]> {
  const { store, entries } = openHistoryStore({ dir, capacity });
  await store.close();
  return entries;
}

function openError(dir: string): string {
  try {
    open({ dir, capacity: 10 });
  } catch (error) {
    expect(error).toBeInstanceOf(HistoryStoreError);
    return (error as HistoryStoreError).message;
  }
  throw new Error(`openHistoryStore(${dir}) did not fail`);
}

const entry = (position: number, text = `line ${position}`): HistoryEntry => ({
  position,
  time: 1_764_638_400_000 + position,
  kind: 'chat',
  addr: '127.0.0.1:40512',
  name: 'alice',
  text,
});

const positions = (entries: readonly HistoryEntry[]): number[] => entries.map((each) => each.position);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, index) => from + index);

// Generous deadlines: a writer thread takes ~200 ms to start on an idle machine, seconds on a loaded one.
async function waitFor(what: string, isDone: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!isDone()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A real chatd file of `count` entries with 200-byte lines (127 pages of 4 KiB for 2000). */
async function writeRealFile(dir: string, count: number): Promise<string> {
  const { store } = openHistoryStore({ dir, capacity: 100_000 });
  for (let position = 1; position <= count; position++) store.append(entry(position, `line ${position} `.padEnd(200, 'x')));
  await store.close();
  return join(dir, 'history.sqlite');
}

describe('openHistoryStore', () => {
  it('creates a missing directory and an empty history', () => {
    const dir = join(temporaryDirectory(), 'var', 'chatd');
    const { entries, store } = open({ dir, capacity: 10 });
    expect(entries).toEqual([]);
    expect(store.path).toBe(join(dir, 'history.sqlite'));
    expect(statSync(store.path).isFile()).toBe(true);
  });

  it('gives back every entry written before a close, oldest first, with all its fields', async () => {
    const dir = temporaryDirectory();
    const { store } = open({ dir, capacity: 10 });
    const written: HistoryEntry[] = [
      entry(1, 'hello'),
      { position: 2, time: 1_764_638_405_000, kind: 'rename', addr: '127.0.0.1:40512', name: 'alice', text: 'al' },
      { position: 3, time: 1_764_638_460_250, kind: 'announce', addr: '', name: '', text: 'maintenance at 17:00 — ünïcödé' },
    ];
    for (const each of written) store.append(each);
    await store.close();
    expect(await reopen(dir, 10)).toEqual(written);
  });

  it('keeps only the newest `capacity` entries in the file, in order of position', async () => {
    const dir = temporaryDirectory();
    const { store } = open({ dir, capacity: 3 });
    for (let position = 1; position <= 5; position++) store.append(entry(position));
    await waitFor('the first batch', () => store.counters.writtenEntries === 5);
    for (let position = 6; position <= 10; position++) store.append(entry(position));
    await store.close();
    const db = new DatabaseSync(store.path);
    expect(db.prepare('SELECT count(*) AS rows FROM history').get()).toEqual({ rows: 3 });
    db.close();
    expect(positions(await reopen(dir, 3))).toEqual([8, 9, 10]);
  });

  it('gives back only the newest entries after --history-size shrank', async () => {
    const dir = temporaryDirectory();
    const { store } = open({ dir, capacity: 10 });
    for (let position = 1; position <= 10; position++) store.append(entry(position));
    await store.close();
    expect(positions(await reopen(dir, 4))).toEqual([7, 8, 9, 10]);
  });

  it('keeps the newest entry with --history-size 0, so that positions go on after a restart', async () => {
    const dir = temporaryDirectory();
    const { store } = open({ dir, capacity: 0 });
    for (let position = 1; position <= 7; position++) store.append(entry(position));
    await store.close();
    const entries = await reopen(dir, 0);
    expect(positions(entries)).toEqual([7]);
    const history = new ChatHistory(0, entries);
    expect(history.size).toBe(0);
    expect(history.nextStamp(0).position).toBe(8);
  });

  it('lets another connection back the file up while the store writes to it', async () => {
    const dir = temporaryDirectory();
    const { store } = open({ dir, capacity: 1000 });
    for (let position = 1; position <= 50; position++) store.append(entry(position));
    await waitFor('the entries on disk', () => store.counters.writtenEntries === 50);
    // The online backup API, as `sqlite3 history.sqlite ".backup FILE"` uses it.
    const copyDir = join(temporaryDirectory(), 'copy');
    mkdirSync(copyDir);
    const source = new DatabaseSync(store.path);
    await backup(source, join(copyDir, 'history.sqlite'));
    source.close();
    store.append(entry(51));
    await store.close();
    expect(positions(await reopen(copyDir))).toEqual(range(1, 50));
    expect(positions(await reopen(dir))).toEqual(range(1, 51));
  });
});

describe('openHistoryStore refusals', () => {
  it('refuses a path that is a file', () => {
    const file = join(temporaryDirectory(), 'history');
    writeFileSync(file, 'notes\n');
    expect(openError(file)).toBe(`--data-dir ${file}: that is a file, not a directory; name a directory (chatd creates it if missing)`);
  });

  it('refuses a path under a file', () => {
    const file = join(temporaryDirectory(), 'notes');
    writeFileSync(file, 'notes\n');
    const dir = join(file, 'history');
    expect(openError(dir)).toBe(`--data-dir ${dir}: cannot create or write the directory (ENOTDIR: not a directory); give chatd a directory it can write`);
  });

  // Root ignores permission bits, so this case runs only for another user; the next one makes a
  // directory unwritable in a way that holds for root as well.
  it.skipIf(process.getuid?.() === 0)('refuses a directory without the right to write in it', () => {
    const dir = temporaryDirectory();
    chmodSync(dir, 0o555);
    expect(openError(dir)).toBe(`--data-dir ${dir}: cannot create or write the directory (EACCES: permission denied); give chatd a directory it can write`);
  });

  it.skipIf(!existsSync('/sys/kernel'))('refuses a directory that even root cannot write (sysfs)', () => {
    expect(openError('/sys/kernel')).toMatch(
      /^--data-dir \/sys\/kernel: cannot create or write the directory \((EACCES: permission denied|EROFS: read-only file system)\); give chatd a directory it can write$/,
    );
  });

  // Node's mkdirSync(…, { recursive: true }) loops for ever here; the store must answer instead.
  it.skipIf(!existsSync('/proc/self'))('refuses a directory that cannot be created under /proc, at once', () => {
    const dir = '/proc/chatd-history/data';
    expect(openError(dir)).toBe(`--data-dir ${dir}: cannot create or write the directory (ENOENT: no such file or directory); give chatd a directory it can write`);
  });

  it('refuses a history.sqlite that is a directory', () => {
    const dir = temporaryDirectory();
    mkdirSync(join(dir, 'history.sqlite'));
    expect(openError(dir)).toBe(`--data-dir ${dir}: history.sqlite is not a file; move it away or pick another directory`);
  });

  it('refuses a history.sqlite that is no database', () => {
    const dir = temporaryDirectory();
    writeFileSync(join(dir, 'history.sqlite'), 'these are my notes, not a database\n'.repeat(20));
    expect(openError(dir)).toBe(`--data-dir ${dir}: history.sqlite is not a chatd history database (file is not a database); move it away or pick another directory`);
  });

  it('refuses a truncated history.sqlite as damaged', async () => {
    const dir = temporaryDirectory();
    const path = await writeRealFile(dir, 2000);
    truncateSync(path, Math.floor(statSync(path).size / 2));
    expect(openError(dir)).toBe(`--data-dir ${dir}: history.sqlite is damaged (database disk image is malformed); restore it from a backup or move it away`);
  });

  it('refuses a history.sqlite with an overwritten page as damaged, with the first problem quick_check found', async () => {
    const dir = temporaryDirectory();
    const path = await writeRealFile(dir, 2000);
    const bytes = readFileSync(path);
    bytes.fill(0, 40 * 4096 + 8, 40 * 4096 + 64); // cell pointers of page 41, a leaf of the history table
    writeFileSync(path, bytes);
    // The detail is SQLite's own words (Node 24.21 bundles SQLite 3.53); the rest is chatd's.
    expect(openError(dir)).toMatch(
      /^--data-dir .+: history\.sqlite is damaged \(quick_check: Tree \d+ page \d+ cell \d+: [^\n;]+\); restore it from a backup or move it away$/,
    );
  });

  it('refuses a database of another program', () => {
    const dir = temporaryDirectory();
    const db = new DatabaseSync(join(dir, 'history.sqlite'));
    db.exec('CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT); CREATE TABLE users (name TEXT)');
    db.close();
    expect(openError(dir)).toBe(
      `--data-dir ${dir}: history.sqlite is not a chatd history database (it holds other tables: messages, users); move it away or pick another directory`,
    );
  });

  it("refuses a file with chatd's mark and other columns", () => {
    const dir = temporaryDirectory();
    const db = new DatabaseSync(join(dir, 'history.sqlite'));
    db.exec(`CREATE TABLE history (position INTEGER PRIMARY KEY, body TEXT); PRAGMA application_id = ${APPLICATION_ID}; PRAGMA user_version = 1`);
    db.close();
    expect(openError(dir)).toBe(
      `--data-dir ${dir}: history.sqlite is not a chatd history database (table history has columns (position INTEGER, body TEXT), ` +
        'not (position INTEGER, time INTEGER, kind TEXT, addr TEXT, name TEXT, text TEXT)); move it away or pick another directory',
    );
  });

  it('refuses a file a newer chatd wrote, and says so', async () => {
    const dir = temporaryDirectory();
    const path = await writeRealFile(dir, 1);
    const db = new DatabaseSync(path);
    db.exec('PRAGMA user_version = 2');
    db.close();
    expect(openError(dir)).toBe(
      `--data-dir ${dir}: history.sqlite was written by a newer chatd (schema version 2; this one reads version 1); run that chatd, or move the file away`,
    );
  });
});

describe('HistoryStore batches', () => {
  it('only queues on append, and writes one batch within HISTORY_FLUSH_MS', async () => {
    const { store } = open({ dir: temporaryDirectory(), capacity: 100 });
    const started = performance.now();
    for (let position = 1; position <= 10; position++) store.append(entry(position));
    expect(store.queued).toBe(10);
    await waitFor('the batch', () => store.counters.writtenEntries === 10);
    expect(performance.now() - started).toBeGreaterThanOrEqual(HISTORY_FLUSH_MS - 1); // a timer may fire up to 1 ms early
    expect(store.counters).toMatchObject({ writtenBatches: 1, failedBatches: 0, lostEntries: 0 });
  });

  it('posts a batch at once when the queue reaches HISTORY_BATCH_ENTRIES', async () => {
    const { store } = open({ dir: temporaryDirectory(), capacity: 10_000 });
    for (let position = 1; position <= HISTORY_BATCH_ENTRIES + 1; position++) store.append(entry(position));
    expect(store.queued).toBe(1); // the first HISTORY_BATCH_ENTRIES are in the writer's hands
    await waitFor('both batches', () => store.counters.writtenEntries === HISTORY_BATCH_ENTRIES + 1);
    expect(store.counters.writtenBatches).toBe(2);
  });

  it('writes what is still queued when closed', async () => {
    const dir = temporaryDirectory();
    const { store } = open({ dir, capacity: 100 });
    for (let position = 1; position <= 3; position++) store.append(entry(position));
    await store.close();
    expect(store.counters.writtenEntries).toBe(3);
    expect(positions(await reopen(dir))).toEqual([1, 2, 3]);
  });

  it('counts an entry appended after close as lost, and writes nothing', async () => {
    const dir = temporaryDirectory();
    const { store } = open({ dir, capacity: 100 });
    store.append(entry(1));
    await store.close();
    store.append(entry(2));
    expect(store.counters).toMatchObject({ writtenEntries: 1, lostEntries: 1 });
    expect(positions(await reopen(dir))).toEqual([1]);
  });
});

describe('HistoryStore failures', () => {
  it('reports a batch that does not fit on a full disk with the number lost, and writes the batches after it', async () => {
    const dir = temporaryDirectory();
    const failures: HistoryWriteFailure[] = [];
    // 12 pages of 4 KiB: room for a few dozen short lines, not for 60 lines of 2000 bytes.
    const { store } = open({ dir, capacity: 100_000, maxPages: 12, onWriteFailure: (failure) => failures.push(failure) });
    store.append(entry(1));
    await waitFor('the first batch', () => store.counters.writtenEntries === 1);
    for (let position = 2; position <= 61; position++) store.append(entry(position, 'x'.repeat(2000)));
    await waitFor('the failure', () => failures.length === 1);
    const failedAt = performance.now();
    expect(failures[0]).toEqual({
      code: 'SQLITE_FULL',
      lost: 60,
      message:
        `history: 60 entries not written to ${store.path} (SQLITE_FULL: database or disk is full); a restart will not have them; ` +
        'free some disk space (chatd tries again with the next entries)',
    });
    store.append(entry(62));
    store.append(entry(63));
    await waitFor('the batch after the failure', () => store.counters.writtenEntries === 3, HISTORY_RETRY_MS + 10_000);
    expect(performance.now() - failedAt).toBeGreaterThanOrEqual(HISTORY_RETRY_MS - HISTORY_FLUSH_MS);
    expect(store.counters).toMatchObject({ writtenBatches: 2, failedBatches: 1, lostEntries: 60 });
    await store.close();
    // The failed batch was one transaction: none of it is in the file.
    expect(positions(await reopen(dir))).toEqual([1, 62, 63]);
  });

  it('reports a writer thread that dies, starts another within WRITER_RESTART_MS, and writes on', async () => {
    const dir = temporaryDirectory();
    const failures: HistoryWriteFailure[] = [];
    const { store } = open({ dir, capacity: 100, onWriteFailure: (failure) => failures.push(failure) });
    for (let position = 1; position <= 3; position++) store.append(entry(position));
    await waitFor('the first batch', () => store.counters.writtenEntries === 3);
    await store.terminateWriter();
    await waitFor('the report', () => failures.length === 1);
    expect(failures[0]?.code).toBe('WRITER_EXITED');
    expect(failures[0]?.lost).toBe(0);
    expect(failures[0]?.message).toMatch(/^history: the writer thread stopped \(exit code 1\) with 0 entries not written; a new writer starts in [01]\.\d s$/);
    // Queued while there is no writer: the next one writes them.
    store.append(entry(4));
    store.append(entry(5));
    await waitFor('the new writer', () => store.counters.writtenEntries === 5, WRITER_RESTART_MS + 10_000);
    expect(store.counters.writerRestarts).toBe(1);
    await store.close();
    expect(positions(await reopen(dir))).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('BatchWriter', () => {
  it('rolls back a whole batch that does not fit, and writes the next one on the same connection', async () => {
    const dir = temporaryDirectory();
    await writeRealFile(dir, 1);
    const writer = new BatchWriter({ path: join(dir, 'history.sqlite'), keep: 100, maxPages: 12 });
    try {
      const big = range(2, 61).map((position) => entry(position, 'x'.repeat(2000)));
      expect(() => writer.write(big)).toThrow(expect.objectContaining({ errcode: 13, message: 'database or disk is full' }));
      writer.write([entry(62)]);
    } finally {
      writer.close();
    }
    expect(positions(await reopen(dir))).toEqual([1, 62]);
  });

  it('never creates the file it is to write to', () => {
    const path = join(temporaryDirectory(), 'history.sqlite');
    expect(() => new BatchWriter({ path, keep: 100, maxPages: null })).toThrow(expect.objectContaining({ errcode: 14 }));
    expect(existsSync(path)).toBe(false);
  });
});

describe('HistoryStore without its file', () => {
  it('reports a writer that cannot open the file, never creates an empty one, and writes once it is back', async () => {
    const dir = temporaryDirectory();
    const failures: HistoryWriteFailure[] = [];
    const { store } = open({ dir, capacity: 100, onWriteFailure: (failure) => failures.push(failure) });
    // Moved away before the writer thread has even loaded (a thread takes tens of ms to start).
    renameSync(store.path, `${store.path}.away`);
    await waitFor('the report', () => failures.length === 1);
    expect(failures[0]?.code).toBe('SQLITE_CANTOPEN');
    expect(failures[0]?.message).toMatch(
      new RegExp(
        `^history: the writer thread cannot open ${escapeRegExp(store.path)} \\(SQLITE_CANTOPEN: unable to open database file\\); ` +
          'the file or --data-dir is gone or cannot be written: put it back, or restart chatd; a new writer starts in [01]\\.\\d s$',
      ),
    );
    expect(existsSync(store.path)).toBe(false);
    store.append(entry(1));
    renameSync(`${store.path}.away`, store.path);
    await waitFor('the next writer', () => store.counters.writtenEntries === 1, WRITER_RESTART_MS + 10_000);
    await store.close();
    expect(failures).toHaveLength(1);
    expect(positions(await reopen(dir))).toEqual([1]);
  });
});

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Holder {
  /** Resolves with the first line that matches. */
  readonly line: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  readonly lines: string[];
  readonly kill: () => Promise<void>;
}

/** Starts test/store/store-holder.ts; every line it prints is kept. */
function startHolder(args: readonly string[]): Holder {
  const child = spawn(process.execPath, [fileURLToPath(HOLDER), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const waiter of waiters.splice(0)) {
        if (waiter.pattern.test(line)) waiter.resolve(line);
        else waiters.push(waiter);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    lines,
    line: (pattern, timeoutMs = 15_000) =>
      new Promise<string>((resolve, reject) => {
        const found = lines.find((line) => pattern.test(line));
        if (found !== undefined) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`store-holder printed no line like ${pattern} in ${timeoutMs} ms: ${lines.join(' | ')}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`store-holder ended before a line like ${pattern}: ${lines.join(' | ')}`));
        });
      }),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('HistoryStore after kill -9', () => {
  it('keeps every written batch and loses only the queue when its process is killed', async () => {
    const dir = temporaryDirectory();
    const holder = startHolder(['queued', dir, '40', '7']);
    try {
      await holder.line(/^ready$/);
    } finally {
      await holder.kill();
    }
    // The batch is in the -wal file, not yet checkpointed: reopening recovers it from there.
    expect(existsSync(join(dir, 'history.sqlite-wal'))).toBe(true);
    expect(positions(await reopen(dir))).toEqual(range(1, 40));
  });

  it('finds whole batches only, at least every one reported written, when killed in the middle of writing', async () => {
    const dir = temporaryDirectory();
    const holder = startHolder(['stream', dir]);
    let reported: number;
    try {
      await holder.line(/^written ([5-9]\d\d|\d{4,})$/); // a few batches in, while it keeps appending
      reported = Math.max(...holder.lines.filter((line) => line.startsWith('written ')).map((line) => Number(line.slice(8))));
    } finally {
      await holder.kill();
    }
    expect(holder.lines.filter((line) => line.startsWith('failure'))).toEqual([]);
    const survived = positions(await reopen(dir));
    expect(survived.length).toBeGreaterThanOrEqual(reported);
    expect(survived).toEqual(range(1, survived.length)); // no gap, no part of a batch
  });
});
