// The file format of --data-dir: one SQLite database, DIR/history.sqlite, with one table of
// history entries (PROTOCOL.md §10.1), marked as chatd's by its application id and versioned by
// its user_version. The SQL and the checks live here so that the primary (which opens, checks and
// reads the file at start) and the writer thread (which appends) cannot disagree on them.
// Pure apart from the database handle it is given; used by both threads.

import type { DatabaseSync } from 'node:sqlite';
import type { HistoryEntry, HistoryKind } from '../room/history.ts';

export const HISTORY_FILE_NAME = 'history.sqlite';

/**
 * Written in the file's header (PRAGMA application_id): 'chat' in ASCII. It tells chatd's file
 * from any other SQLite database, and `file history.sqlite` names it as chatd's.
 */
export const APPLICATION_ID = 0x63686174;

/** PRAGMA user_version of the format below; a later format gets a higher one and a migration. */
export const SCHEMA_VERSION = 1;

/**
 * STRICT: SQLite refuses a value of the wrong type instead of storing it, so every row read back
 * is an entry (SQLite 3.37 or newer reads the file; Node 24 bundles 3.5x). `position` is the rowid:
 * the entries are stored in the order of their positions, and "the newest N" is an index walk.
 */
export const CREATE_HISTORY_TABLE = `CREATE TABLE history (
  position INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('chat', 'rename', 'announce')),
  addr TEXT NOT NULL,
  name TEXT NOT NULL,
  text TEXT NOT NULL
) STRICT`;

/** The columns CREATE_HISTORY_TABLE makes, as `PRAGMA table_info` lists them. */
const COLUMNS: readonly string[] = ['position INTEGER', 'time INTEGER', 'kind TEXT', 'addr TEXT', 'name TEXT', 'text TEXT'];

/** The newest `count` entries, newest first (the caller reverses them). */
export const SELECT_NEWEST = 'SELECT position, time, kind, addr, name, text FROM history ORDER BY position DESC LIMIT ?';

/** OR REPLACE: an entry written twice (a batch sent again to a new writer) is stored once. */
export const INSERT_ENTRY = 'INSERT OR REPLACE INTO history (position, time, kind, addr, name, text) VALUES (?, ?, ?, ?, ?, ?)';

/**
 * Deletes all but the newest `?` entries. The subquery finds the newest entry that is too old;
 * with fewer rows it is NULL and nothing is deleted.
 */
export const DELETE_OLDER = 'DELETE FROM history WHERE position <= (SELECT position FROM history ORDER BY position DESC LIMIT 1 OFFSET ?)';

/**
 * How many entries the file keeps for a history of `capacity`: at least the newest one, so that
 * positions go on after a restart (PROTOCOL.md §10.1) even with --history-size 0, where
 * ChatHistory keeps only the newest position.
 */
export const keptEntries = (capacity: number): number => Math.max(capacity, 1);

/** What the file is, as its header and schema say. */
export type FileIdentity =
  | { readonly kind: 'empty' }
  | { readonly kind: 'ours' }
  | { readonly kind: 'newer'; readonly version: number }
  | { readonly kind: 'foreign'; readonly why: string };

/** Reads the header and the schema; changes nothing. */
export function identifyFile(db: DatabaseSync): FileIdentity {
  const applicationId = readPragmaNumber(db, 'application_id');
  const version = readPragmaNumber(db, 'user_version');
  const objects = db.prepare("SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all();
  if (applicationId === 0 && version === 0 && objects.length === 0) return { kind: 'empty' };
  if (applicationId !== APPLICATION_ID) {
    const tables = objects.filter((row) => row['type'] === 'table').map((row) => String(row['name']));
    if (tables.length === 0) return { kind: 'foreign', why: `its application id is ${applicationId}, not chatd's ${APPLICATION_ID}` };
    const shown = tables.slice(0, 3).join(', ') + (tables.length > 3 ? `, and ${tables.length - 3} more` : '');
    return { kind: 'foreign', why: `it holds other tables: ${shown}` };
  }
  if (version > SCHEMA_VERSION) return { kind: 'newer', version };
  if (version !== SCHEMA_VERSION) return { kind: 'foreign', why: `schema version ${version}; this chatd knows version ${SCHEMA_VERSION}` };
  const columns = db.prepare('SELECT name, type FROM pragma_table_info(?) ORDER BY cid').all('history');
  if (columns.length === 0) return { kind: 'foreign', why: 'it has no history table' };
  const found = columns.map((row) => `${String(row['name'])} ${String(row['type'])}`);
  if (found.join(', ') !== COLUMNS.join(', ')) {
    return { kind: 'foreign', why: `table history has columns (${found.join(', ')}), not (${COLUMNS.join(', ')})` };
  }
  return { kind: 'ours' };
}

/** Makes an empty file chatd's, in one transaction: a crash leaves it empty or complete. */
export function createSchema(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(CREATE_HISTORY_TABLE);
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/**
 * PRAGMA quick_check, limited to its first problem: null when the file is sound. SQLite puts
 * several lines in one row ("*** in database main ***" and then the problem); one is kept.
 */
export function quickCheck(db: DatabaseSync): string | null {
  const row = db.prepare('PRAGMA quick_check(1)').get();
  const result = String(row?.['quick_check'] ?? 'no answer');
  if (result === 'ok') return null;
  const lines = result.split('\n').filter((line) => line !== '' && !line.startsWith('***'));
  return lines[0] ?? result;
}

const KINDS: ReadonlySet<string> = new Set<HistoryKind>(['chat', 'rename', 'announce']);

/** A row of SELECT_NEWEST, read as an array, as an entry; null if it is not one (STRICT makes that a forged file). */
export function rowToEntry(row: readonly unknown[]): HistoryEntry | null {
  const [position, time, kind, addr, name, text] = row;
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 1) return null;
  if (typeof time !== 'number' || typeof kind !== 'string' || !KINDS.has(kind)) return null;
  if (typeof addr !== 'string' || typeof name !== 'string' || typeof text !== 'string') return null;
  return { position, time, kind: kind as HistoryKind, addr, name, text };
}

/** The primary result code of a node:sqlite error (`errcode` holds the extended one), or undefined. */
export function sqliteResultCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('errcode' in error)) return undefined;
  const code = error.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
}

/** The SQLite result codes chatd tells apart, by their C names (sqlite3.h). */
export const SQLITE_CODE_NAMES: Readonly<Record<number, string>> = {
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  26: 'SQLITE_NOTADB',
};

/** `SQLITE_FULL`, `SQLITE_IOERR`…, or `SQLITE_ERROR_<n>` for the others; `ERROR` for a non-SQLite error. */
export function sqliteCodeName(error: unknown): string {
  const code = sqliteResultCode(error);
  if (code === undefined) return 'ERROR';
  return SQLITE_CODE_NAMES[code] ?? `SQLITE_ERROR_${code}`;
}

/** SQLite's own words for an error ("database or disk is full"), without Node's prefix. */
export function sqliteReason(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'errstr' in error && typeof error.errstr === 'string') {
    // errstr is the text of the code; message can be more precise ("no such table: x").
    const message = 'message' in error && typeof error.message === 'string' ? error.message : '';
    return message !== '' ? message : error.errstr;
  }
  return error instanceof Error ? error.message : String(error);
}

function readPragmaNumber(db: DatabaseSync, pragma: 'application_id' | 'user_version'): number {
  const value = db.prepare(`PRAGMA ${pragma}`).get()?.[pragma];
  return typeof value === 'number' ? value : 0;
}
