// The chat's history on disk (--data-dir DIR; PROTOCOL.md §10.1, OPERATIONS.md §11). At start,
// openHistoryStore checks and reads DIR/history.sqlite synchronously, before any client comes in,
// and closes its connection; from then on the store only queues entries and hands them in
// batches to the writer thread (store/history-writer.ts), which does every SQLite write.
// Runs in the primary thread; never does SQLite work after the open, so a slow disk stalls nobody.

import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { HistoryEntry, HistorySink } from '../room/history.ts';
import {
  createSchema,
  HISTORY_FILE_NAME,
  identifyFile,
  keptEntries,
  quickCheck,
  rowToEntry,
  SCHEMA_VERSION,
  SELECT_NEWEST,
  sqliteCodeName,
  sqliteReason,
} from './history-schema.ts';
import { DataDirLockError, LOCK_FILE_NAME, lockDataDir } from './data-dir-lock.ts';
import type { FromWriter, ToWriter, WriterSettings } from './messages.ts';

/**
 * How long an entry waits in the queue before its batch is posted to the writer. A `kill -9`
 * loses at most the entries of the last HISTORY_FLUSH_MS and of the one batch being written
 * (more only while the disk is slower than the chat, or after a failed batch: HISTORY_RETRY_MS).
 * 50 ms keeps that loss to a moment of chat, and still gathers a busy chat's lines into one
 * transaction per tick, where one transaction per line would cost a disk write per line.
 */
export const HISTORY_FLUSH_MS = 50;

/** A queue this long is posted at once, without waiting for HISTORY_FLUSH_MS: a burst is written in parts. */
export const HISTORY_BATCH_ENTRIES = 500;

/**
 * After a failed batch the next waits this long: a full disk is not emptied in 50 ms, and
 * trying at every flush would report (and log) 20 failures a second. The entries that come
 * meanwhile wait and are tried together.
 */
export const HISTORY_RETRY_MS = 1000;

/** A writer thread that died is started again, at most once per this long. */
export const WRITER_RESTART_MS = 1000;

/** How long close() waits for the writer to write the queue and end before it terminates it. */
export const HISTORY_CLOSE_TIMEOUT_MS = 2000;

/**
 * How long the open waits for a lock another program holds on the file (an operator's sqlite3
 * writing to it) before it gives up: the server is not serving yet, so waiting costs nobody.
 */
export const OPEN_BUSY_TIMEOUT_MS = 2000;

/** --data-dir cannot be used: the message is one line saying what is wrong and what to do. */
export class HistoryStoreError extends Error {
  override readonly name = 'HistoryStoreError';
  readonly dir: string;
  constructor(dir: string, problem: string) {
    super(`--data-dir ${dir}: ${problem}`);
    this.dir = dir;
  }
}

/** A batch (or a writer thread) that failed; `lost` entries are not on disk and will not be. */
export interface HistoryWriteFailure {
  /** SQLite's name for the cause (SQLITE_FULL, SQLITE_IOERR…), or WRITER_EXITED / WRITER_FAILED. */
  readonly code: string;
  /** One line for the log: what failed, what it costs, what to do. */
  readonly message: string;
  readonly lost: number;
}

/** Totals since the open, for /metrics. */
export interface HistoryStoreCounters {
  readonly writtenEntries: number;
  readonly writtenBatches: number;
  /** The writer's time inside its transactions, summed (ms). */
  readonly writeMs: number;
  readonly failedBatches: number;
  /** Entries that will never be on disk: failed batches, a dead writer's, a close that timed out. */
  readonly lostEntries: number;
  readonly writerRestarts: number;
}

export interface HistoryStoreOptions {
  readonly dir: string;
  /** --history-size: the file keeps this many entries (at least the newest one). */
  readonly capacity: number;
  /** PRAGMA max_page_count in the writer: a "disk" that fills up, for the tests. */
  readonly maxPages?: number;
  /** Called for every failed batch and every writer thread that dies; the store goes on. */
  readonly onWriteFailure?: (failure: HistoryWriteFailure) => void;
}

export interface OpenedHistory {
  readonly store: HistoryStore;
  /**
   * What the file kept, oldest first: its last `capacity` entries, and at least the newest one,
   * so that `new ChatHistory(capacity, entries)` goes on from its position even when capacity is 0.
   */
  readonly entries: HistoryEntry[];
}

/**
 * Opens DIR/history.sqlite (creating DIR and the file if missing), checks it is sound and
 * chatd's, reads back its entries and starts the writer thread. Synchronous, for the start of
 * the server. Throws HistoryStoreError when the directory or the file cannot be used.
 */
export function openHistoryStore(options: HistoryStoreOptions): OpenedHistory {
  const path = prepareDirectory(options.dir);
  let unlock: () => void;
  try {
    unlock = lockDataDir(options.dir);
  } catch (error) {
    if (error instanceof DataDirLockError) throw new HistoryStoreError(options.dir, error.message);
    throw new HistoryStoreError(options.dir, `cannot take ${LOCK_FILE_NAME} (${fsReason(error)}); give chatd a directory it can write`);
  }
  try {
    const entries = readFile(options.dir, path, keptEntries(options.capacity));
    const settings: WriterSettings = { path, keep: keptEntries(options.capacity), maxPages: options.maxPages ?? null };
    return { store: new HistoryStore(settings, options.onWriteFailure ?? (() => {}), unlock), entries };
  } catch (error) {
    unlock();
    throw error;
  }
}

/** mkdir -p DIR, then proves chatd can create files in it (SQLite needs its -wal and -shm there). */
function prepareDirectory(dir: string): string {
  const cannotWrite = (error: unknown): HistoryStoreError =>
    new HistoryStoreError(dir, `cannot create or write the directory (${fsReason(error)}); give chatd a directory it can write`);
  let isDirectory: boolean;
  try {
    makeDirectory(dir);
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    throw cannotWrite(error);
  }
  if (!isDirectory) {
    throw new HistoryStoreError(dir, 'that is a file, not a directory; name a directory (chatd creates it if missing)');
  }
  // A real write, not access(W_OK): root passes every permission check, yet cannot write a
  // read-only mount or /sys, and SQLite's "unable to open database file" would not say why.
  const probe = join(dir, `.chatd-write-test-${process.pid}`);
  try {
    closeSync(openSync(probe, 'w'));
    unlinkSync(probe);
  } catch (error) {
    throw cannotWrite(error);
  }
  const path = join(dir, HISTORY_FILE_NAME);
  let isFile = true;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // No file yet: SQLite creates it.
  }
  if (!isFile) throw new HistoryStoreError(dir, `${HISTORY_FILE_NAME} is not a file; move it away or pick another directory`);
  return path;
}

/**
 * mkdir -p, one level at a time. Node's own `recursive: true` loops for ever where mkdir answers
 * ENOENT although the parent exists (/proc/x in Node 24); this gives that ENOENT back instead.
 */
function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return; // a directory, or a file that the caller then refuses
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw error;
    makeDirectory(parent);
    try {
      mkdirSync(dir);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
    }
  }
}

/** Checks, creates or reads the file, then closes it: the writer thread is its only writer afterwards. */
function readFile(dir: string, path: string, count: number): HistoryEntry[] {
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(path, { timeout: OPEN_BUSY_TIMEOUT_MS });
    // SQLite reads the file at the first statement: a file that is no database fails here.
    const problem = quickCheck(db);
    if (problem !== null) throw new HistoryStoreError(dir, `${HISTORY_FILE_NAME} is damaged (quick_check: ${problem}); restore it from a backup or move it away`);
    const identity = identifyFile(db);
    if (identity.kind === 'foreign') {
      throw new HistoryStoreError(dir, `${HISTORY_FILE_NAME} is not a chatd history database (${identity.why}); move it away or pick another directory`);
    }
    if (identity.kind === 'newer') {
      throw new HistoryStoreError(
        dir,
        `${HISTORY_FILE_NAME} was written by a newer chatd (schema version ${identity.version}; this one reads version ${SCHEMA_VERSION}); ` +
          'run that chatd, or move the file away',
      );
    }
    // WAL: the writer appends without blocking readers (a backup while chatd runs), and a
    // committed batch survives a crash. Stored in the file: the writer's connection gets it too.
    const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.['journal_mode'];
    if (mode !== 'wal') {
      throw new HistoryStoreError(dir, `SQLite cannot keep ${HISTORY_FILE_NAME} in WAL mode (journal_mode stays ${String(mode)}); put --data-dir on a local file system`);
    }
    if (identity.kind === 'empty') createSchema(db);
    const entries: HistoryEntry[] = [];
    const select = db.prepare(SELECT_NEWEST);
    // fast path: rows as arrays read about twice as fast as objects (100 000 rows: ~130 ms, not
    // ~300-600); @types/node still types all() as objects.
    select.setReturnArrays(true);
    for (const row of select.all(count) as unknown as (readonly unknown[])[]) {
      const entry = rowToEntry(row);
      if (entry === null) throw new HistoryStoreError(dir, `${HISTORY_FILE_NAME} is damaged (a row is no history entry); restore it from a backup or move it away`);
      entries.push(entry);
    }
    return entries.reverse();
  } catch (error) {
    if (error instanceof HistoryStoreError) throw error;
    throw new HistoryStoreError(dir, describeOpenError(error));
  } finally {
    db?.close();
  }
}

/** A node:sqlite error at open, as what is wrong and what to do. */
function describeOpenError(error: unknown): string {
  const reason = sqliteReason(error);
  switch (sqliteCodeName(error)) {
    case 'SQLITE_NOTADB':
      return `${HISTORY_FILE_NAME} is not a chatd history database (${reason}); move it away or pick another directory`;
    case 'SQLITE_CORRUPT':
      return `${HISTORY_FILE_NAME} is damaged (${reason}); restore it from a backup or move it away`;
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return `${HISTORY_FILE_NAME} is locked by another program (${reason}); end it, or pick another directory`;
    case 'SQLITE_READONLY':
    case 'SQLITE_CANTOPEN':
      return `cannot open ${HISTORY_FILE_NAME} for writing (${reason}); give chatd a file and a directory it can write`;
    case 'SQLITE_FULL':
      return `the disk is full (${reason}); free some space`;
    case 'SQLITE_IOERR':
      return `cannot read or write ${HISTORY_FILE_NAME} (${reason}); check the disk`;
    default:
      return `cannot use ${HISTORY_FILE_NAME} (${reason}); move it away or pick another directory`;
  }
}

/** "EACCES: permission denied" from Node's "EACCES: permission denied, open '/x/y'". */
function fsReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const comma = message.indexOf(', ');
  return comma === -1 ? message : message.slice(0, comma);
}

/** What to do about a failed write, by its SQLite code. */
function writeAdvice(code: string): string {
  switch (code) {
    case 'SQLITE_FULL':
      return 'free some disk space';
    case 'SQLITE_IOERR':
      return 'check the disk';
    case 'SQLITE_READONLY':
      return 'give chatd back the right to write the file and --data-dir';
    case 'SQLITE_CANTOPEN':
      return 'the file or --data-dir is gone or cannot be written: put it back, or restart chatd';
    case 'SQLITE_BUSY':
    case 'SQLITE_LOCKED':
      return 'another program holds a write lock on the file: end it';
    case 'SQLITE_CORRUPT':
      return 'the file is damaged: stop chatd, then restore it from a backup or move it away';
    default:
      return 'see OPERATIONS.md §11';
  }
}

const WRITER_URL = new URL('./history-writer.ts', import.meta.url);

/**
 * Queues entries and hands them to the writer thread. The queue MUST stay bounded and append MUST
 * never block: so at most one batch is in the writer's hands at a time (the entries that come
 * meanwhile form the next), and a queue past the file's size drops its oldest entries, which the
 * writer's trim would delete anyway.
 */
export class HistoryStore implements HistorySink {
  readonly path: string;
  readonly #settings: WriterSettings;
  readonly #onWriteFailure: (failure: HistoryWriteFailure) => void;
  readonly #queue: HistoryEntry[] = [];
  #flushTimer: NodeJS.Timeout | null = null;
  /** Batches posted to the writer and not answered: batch number -> entries. */
  readonly #inFlight = new Map<number, number>();
  #nextBatch = 1;
  /** After a failed batch, no batch is posted before this (performance.now()). */
  #pausedUntil = 0;
  #writer: Worker | null = null;
  #writerStartedAt = -Infinity;
  /** Why the current writer is ending, once it said so ('open-failed') or threw ('error'). */
  #writerProblem: { readonly code: string; readonly reason: string; readonly atOpen: boolean } | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  readonly #counters: { -readonly [key in keyof HistoryStoreCounters]: number } = {
    writtenEntries: 0,
    writtenBatches: 0,
    writeMs: 0,
    failedBatches: 0,
    lostEntries: 0,
    writerRestarts: 0,
  };

  /** Lets go of DIR/chatd.lock once the writer is done (store/data-dir-lock.ts). */
  readonly #unlock: () => void;

  /** Use openHistoryStore, which checks the file first and takes the directory's lock. */
  constructor(settings: WriterSettings, onWriteFailure: (failure: HistoryWriteFailure) => void, unlock: () => void = () => {}) {
    this.#unlock = unlock;
    this.path = settings.path;
    this.#settings = settings;
    this.#onWriteFailure = onWriteFailure;
    this.#startWriter();
  }

  get counters(): HistoryStoreCounters {
    return { ...this.#counters };
  }

  /** Entries queued and not yet posted to the writer. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues the entry; it is posted within HISTORY_FLUSH_MS, or at once in a full batch. */
  append(entry: HistoryEntry): void {
    if (this.#closing !== null) {
      // After close(): nobody would write it. Counted, not reported: the server is stopping.
      this.#counters.lostEntries++;
      return;
    }
    this.#queue.push(entry);
    // Amortized: cut back to `keep` only once the queue is twice that (a writer gone for a while).
    if (this.#queue.length >= 2 * this.#settings.keep) this.#queue.splice(0, this.#queue.length - this.#settings.keep);
    if (this.#queue.length >= HISTORY_BATCH_ENTRIES) this.#flush();
    else this.#scheduleFlush(HISTORY_FLUSH_MS);
  }

  /**
   * Posts what is queued, then ends the writer thread once it has written it and closed the file.
   * Waits at most HISTORY_CLOSE_TIMEOUT_MS (2 s), then terminates the thread (which ends after the
   * SQLite call it is in); entries it had not written then count as lost and are reported.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close().finally(() => this.#unlock());
    return this.#closing;
  }

  /** As a crash of the writer thread would: the store reports it and starts another. For tests. */
  async terminateWriter(): Promise<void> {
    await this.#writer?.terminate();
  }

  async #close(): Promise<void> {
    this.#clearFlushTimer();
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    // A writer that died just before: one more start, not bound by WRITER_RESTART_MS, for the queue.
    if (this.#writer === null && this.#queue.length > 0) this.#startWriter();
    const writer = this.#writer;
    if (writer === null) return;
    writer.ref(); // the server may have nothing else keeping it alive while it waits for this
    if (this.#queue.length > 0) this.#post(writer, this.#queue.splice(0));
    writer.postMessage({ type: 'close' } satisfies ToWriter);
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), HISTORY_CLOSE_TIMEOUT_MS);
    });
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#writerProblem = { code: 'WRITER_EXITED', reason: `not done after ${HISTORY_CLOSE_TIMEOUT_MS} ms, terminated`, atOpen: false };
      await writer.terminate();
    }
  }

  #scheduleFlush(ms: number): void {
    if (this.#flushTimer !== null) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = null;
      this.#flush();
    }, ms);
  }

  #clearFlushTimer(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
  }

  /** Posts the queue as one batch, unless a batch is in the writer's hands or there is no writer. */
  #flush(): void {
    if (this.#queue.length === 0 || this.#writer === null || this.#inFlight.size > 0) return;
    const wait = this.#pausedUntil - performance.now();
    if (wait > 0) {
      this.#scheduleFlush(wait);
      return;
    }
    this.#clearFlushTimer();
    this.#post(this.#writer, this.#queue.splice(0));
  }

  #post(writer: Worker, entries: HistoryEntry[]): void {
    const batch = this.#nextBatch++;
    this.#inFlight.set(batch, entries.length);
    writer.postMessage({ type: 'write', batch, entries } satisfies ToWriter);
  }

  #startWriter(): void {
    const writer = new Worker(WRITER_URL, { workerData: this.#settings });
    if (this.#writerStartedAt !== -Infinity) this.#counters.writerRestarts++;
    this.#writer = writer;
    this.#writerStartedAt = performance.now();
    this.#writerProblem = null;
    // A store that is never closed must not keep the process alive; close() refs it again.
    writer.unref();
    writer.on('message', (message: FromWriter) => {
      if (writer === this.#writer) this.#handleMessage(message);
    });
    writer.on('error', (error: Error) => {
      this.#writerProblem = { code: 'WRITER_FAILED', reason: error.message, atOpen: false };
    });
    writer.on('exit', (exitCode: number) => {
      if (writer === this.#writer) this.#writerExited(exitCode);
    });
    this.#flush();
  }

  #handleMessage(message: FromWriter): void {
    switch (message.type) {
      case 'written':
        this.#inFlight.delete(message.batch);
        this.#counters.writtenEntries += message.count;
        this.#counters.writtenBatches++;
        this.#counters.writeMs += message.durationMs;
        // The timer has fired while the batch was out (no timer left), or the queue is full: post now.
        if (this.#flushTimer === null || this.#queue.length >= HISTORY_BATCH_ENTRIES) this.#flush();
        return;
      case 'write-failed': {
        this.#inFlight.delete(message.batch);
        this.#counters.failedBatches++;
        this.#counters.lostEntries += message.count;
        this.#pausedUntil = performance.now() + HISTORY_RETRY_MS;
        const noun = message.count === 1 ? 'entry' : 'entries';
        this.#onWriteFailure({
          code: message.code,
          lost: message.count,
          message:
            `history: ${message.count} ${noun} not written to ${this.path} (${message.code}: ${message.reason}); a restart will not have them; ` +
            `${writeAdvice(message.code)} (chatd tries again with the next entries)`,
        });
        this.#clearFlushTimer();
        this.#flush();
        return;
      }
      case 'open-failed':
        this.#writerProblem = { code: message.code, reason: message.reason, atOpen: true };
        return;
      case 'closed':
        return; // its 'exit' follows
    }
  }

  /** The writer thread ended: the batches in its hands are lost; a new one starts unless closing. */
  #writerExited(exitCode: number): void {
    this.#writer = null;
    let lost = 0;
    for (const count of this.#inFlight.values()) lost += count;
    const batches = this.#inFlight.size;
    this.#inFlight.clear();
    const problem = this.#writerProblem;
    this.#counters.failedBatches += batches;
    this.#counters.lostEntries += lost;
    if (this.#closing !== null) {
      if (lost > 0 || problem !== null) {
        const why = problem === null ? `exit code ${exitCode}` : `${problem.code}: ${problem.reason}`;
        const message = `history: ${lost} entries not written to ${this.path} before the store closed (${why})`;
        this.#onWriteFailure({ code: problem?.code ?? 'WRITER_EXITED', lost, message });
      }
      return;
    }
    const delay = Math.max(0, this.#writerStartedAt + WRITER_RESTART_MS - performance.now());
    const again = `a new writer starts in ${(delay / 1000).toFixed(1)} s`;
    if (problem?.atOpen === true) {
      this.#onWriteFailure({
        code: problem.code,
        lost,
        message: `history: the writer thread cannot open ${this.path} (${problem.code}: ${problem.reason}); ${writeAdvice(problem.code)}; ${again}`,
      });
    } else {
      const why = problem === null ? `exit code ${exitCode}` : problem.reason;
      this.#onWriteFailure({
        code: problem?.code ?? 'WRITER_EXITED',
        lost,
        message: `history: the writer thread stopped (${why}) with ${lost} ${lost === 1 ? 'entry' : 'entries'} not written; ${again}`,
      });
    }
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#startWriter();
    }, delay);
    this.#restartTimer.unref();
  }
}
