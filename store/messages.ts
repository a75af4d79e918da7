// Every message between the history store (primary thread) and its writer thread, typed end to
// end. One MessagePort each way, so messages arrive in the order they were posted: a 'close'
// posted after a 'write' is read after that write is done, and each answer follows its batch.

import type { HistoryEntry } from '../room/history.ts';

/** What the writer thread is started with (workerData). */
export interface WriterSettings {
  /** DIR/history.sqlite, already checked by the primary (openHistoryStore). */
  readonly path: string;
  /** How many entries the file keeps after each batch (keptEntries of --history-size). */
  readonly keep: number;
  /** PRAGMA max_page_count, or null for SQLite's own limit: how tests fill the "disk". */
  readonly maxPages: number | null;
}

export type ToWriter =
  /** One transaction: every entry, then the trim to the newest `keep`. */
  | { readonly type: 'write'; readonly batch: number; readonly entries: readonly HistoryEntry[] }
  /** After the writes before it: close the database (which checkpoints the WAL) and end. */
  | { readonly type: 'close' };

export type FromWriter =
  | { readonly type: 'written'; readonly batch: number; readonly count: number; readonly durationMs: number }
  /** The batch's transaction was rolled back; `code` is SQLite's name for why (SQLITE_FULL…). */
  | { readonly type: 'write-failed'; readonly batch: number; readonly count: number; readonly code: string; readonly reason: string }
  /** The writer could not open the file; it ends after this message. */
  | { readonly type: 'open-failed'; readonly code: string; readonly reason: string }
  /** After 'close': the database is closed; the thread ends. */
  | { readonly type: 'closed' };
