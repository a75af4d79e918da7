// The --data-dir lock alone: one chatd per directory, a dead holder's lock taken over.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockError, LOCK_FILE_NAME, lockDataDir } from '../../store/data-dir-lock.ts';

const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'chatd-lock-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('lockDataDir', () => {
  it('writes its pid into DIR/chatd.lock and removes it when let go', () => {
    const dir = freshDir();
    const unlock = lockDataDir(dir, 4242, () => false);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).toBe('4242\n');
    unlock();
    expect(existsSync(join(dir, LOCK_FILE_NAME))).toBe(false);
  });

  it('refuses a directory whose lock names a live process, saying which and what to do', () => {
    const dir = freshDir();
    lockDataDir(dir, 4242, () => false);
    expect(() => lockDataDir(dir, 5353, (pid) => pid === 4242)).toThrow(
      new DataDirLockError(
        `another chatd (pid 4242) keeps its history here; stop it, or give this one another --data-dir (if pid 4242 is no chatd, delete ${join(dir, LOCK_FILE_NAME)})`,
      ),
    );
  });

  it('takes over the lock of a chatd that died (kill -9), and one that holds no pid', () => {
    const dir = freshDir();
    lockDataDir(dir, 4242, () => false);
    lockDataDir(dir, 5353, () => false);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).toBe('5353\n');
    writeFileSync(join(dir, LOCK_FILE_NAME), 'garbage');
    lockDataDir(dir, 6464, () => true);
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).toBe('6464\n');
  });

  it('does not remove a lock another process took since', () => {
    const dir = freshDir();
    const unlock = lockDataDir(dir, 4242, () => false);
    writeFileSync(join(dir, LOCK_FILE_NAME), '5353\n');
    unlock();
    expect(readFileSync(join(dir, LOCK_FILE_NAME), 'utf8')).toBe('5353\n');
  });
});
