// The SQLite side of the history writer: one connection to DIR/history.sqlite and the prepared
// statements that append a batch of entries and trim the file, one transaction per batch.
// Synchronous; runs in the writer thread (store/history-writer.ts), never in the primary, where
// a slow disk would stall every client. The tests use it directly to time a batch.

import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import type { HistoryEntry } from '../room/history.ts';
import { DELETE_OLDER, INSERT_ENTRY } from './history-schema.ts';
import type { WriterSettings } from './messages.ts';

/**
 * How long the writer waits for a lock held by another connection (an operator's sqlite3 writing
 * to the file) before the batch fails as SQLITE_BUSY. The writer thread may wait; nobody waits
 * for it. A backup (`.backup`, VACUUM INTO) only reads, and readers never block a WAL writer.
 */
export const WRITER_BUSY_TIMEOUT_MS = 5000;

/**
 * After a checkpoint, SQLite truncates the -wal file to this size. Without a limit the file stays
 * as large as the largest run of batches between two checkpoints ever was.
 */
export const WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;

export class BatchWriter {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #trim: StatementSync;
  readonly #keep: number;

  /** Opens the file the primary checked; throws node:sqlite's error if it cannot. */
  constructor(settings: WriterSettings) {
    // mode=rw: never create the file. One deleted under a running chatd would come back empty,
    // without the table; SQLITE_CANTOPEN says what happened instead.
    const url = pathToFileURL(settings.path);
    url.searchParams.set('mode', 'rw');
    this.#db = new DatabaseSync(url, { timeout: WRITER_BUSY_TIMEOUT_MS });
    try {
      // The primary set WAL at open and it is stored in the file; asking again is free and makes
      // this connection's mode certain. NORMAL: a committed batch survives a crash of the process
      // (its pages are in the -wal file, which the OS keeps); only a power cut can lose the last
      // ones, and syncing at every commit (FULL) would cost a disk flush per batch.
      this.#db.exec('PRAGMA journal_mode = WAL');
      this.#db.exec('PRAGMA synchronous = NORMAL');
      this.#db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      if (settings.maxPages !== null) this.#db.exec(`PRAGMA max_page_count = ${Math.floor(settings.maxPages)}`);
      this.#insert = this.#db.prepare(INSERT_ENTRY);
      this.#trim = this.#db.prepare(DELETE_OLDER);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#keep = settings.keep;
  }

  /**
   * Appends `entries` and deletes all but the newest `keep`, in one transaction: after a crash
   * the file has the whole batch or none of it. Throws node:sqlite's error (SQLITE_FULL,
   * SQLITE_IOERR…) after rolling the batch back; the connection stays usable for the next.
   */
  write(entries: readonly HistoryEntry[]): void {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const entry of entries) {
        this.#insert.run(entry.position, entry.time, entry.kind, entry.addr, entry.name, entry.text);
      }
      this.#trim.run(this.#keep);
      this.#db.exec('COMMIT');
    } catch (error) {
      // SQLite may have rolled back already (it does for SQLITE_FULL in some statements).
      if (this.#db.isTransaction) {
        try {
          this.#db.exec('ROLLBACK');
        } catch {
          // The batch's own error says more than the rollback's; SQLite rolls back at close anyway.
        }
      }
      throw error;
    }
  }

  /** Closes the connection; the last one to close checkpoints the WAL into the file and removes it. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
