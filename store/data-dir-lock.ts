// One chatd per --data-dir (OPERATIONS.md §11.2): DIR/chatd.lock holds the pid of the chatd that
// uses the directory. Two chatd on one history would interleave their positions, so a second one
// is refused at start; a lock left by a chatd that died (kill -9) names a pid that is gone, and is
// taken over. Not a kernel lock (Node has no flock): a pid reused by another process since then
// would read as alive, and the operator is told which pid to check. Runs in the primary thread.

import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE_NAME = 'chatd.lock';

/** Why the lock cannot be had: one line, for HistoryStoreError. */
export class DataDirLockError extends Error {
  override readonly name = 'DataDirLockError';
}

/** Takes DIR/chatd.lock for this process, or throws DataDirLockError; returns how to let it go. */
export function lockDataDir(dir: string, pid: number = process.pid, isAlive: (pid: number) => boolean = isProcessAlive): () => void {
  const path = join(dir, LOCK_FILE_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      return () => releaseIfOurs(path, pid);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(path);
    if (holder !== null && holder !== pid && isAlive(holder)) {
      throw new DataDirLockError(
        `another chatd (pid ${holder}) keeps its history here; stop it, or give this one another --data-dir (if pid ${holder} is no chatd, delete ${path})`,
      );
    }
    // Left by a chatd that is gone (or unreadable): taken over.
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new DataDirLockError(`cannot take ${path}: another chatd is starting on this directory at the same moment`);
}

function readHolder(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function releaseIfOurs(path: string, pid: number): void {
  if (readHolder(path) !== pid) return;
  try {
    unlinkSync(path);
  } catch {
    // Gone already: nothing to release.
  }
}

/** Signal 0 checks that a process exists without touching it; EPERM means it exists as another user's. */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
