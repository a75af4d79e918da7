// A real redis-server of the test's own (bench/processes/redis-server.ts), in a fresh directory
// with an append-only file: the cluster tests never share a Redis, never touch one on 6379, and
// can stop, restart and hang theirs. Without Debian's redis-server the tests skip with a message
// that says what to install; under CI=true they fail instead, so a CI machine that lacks it
// cannot pass by skipping.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis as startRedisProcess, type RedisServer } from '../../bench/processes/redis-server.ts';
import { findCommand } from '../../bench/processes/server-process.ts';

export const INSTALL_HINT = 'install Debian\'s redis-server (apt-get install redis-server) to run the cluster tests';

/** Whether redis-server can be started here; under CI=true its absence is an error, not a skip. */
export function hasRedisServer(): boolean {
  const found = findCommand('redis-server') !== undefined;
  if (!found && process.env['CI'] === 'true') throw new Error(`redis-server is not installed but CI=true: ${INSTALL_HINT}`);
  if (!found) console.warn(`skipping the cluster tests: ${INSTALL_HINT}`);
  return found;
}

export type TestRedis = RedisServer;

/** Every Redis started by this file's tests, with its directory. */
const started = new Set<{ readonly redis: RedisServer; readonly dir: string }>();

/** Starts redis-server with an append-only file, as a cluster's Redis should run (CLUSTER.md §8). */
export async function startRedis(extraArgs: readonly string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'chatd-redis-'));
  try {
    const redis = await startRedisProcess({ dir, extraArgs });
    started.add({ redis, dir });
    return redis;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Kills every Redis still running (a test that failed while its Redis was frozen too) and removes its directory. */
export async function stopAllRedis(): Promise<void> {
  const all = [...started];
  started.clear();
  await Promise.all(
    all.map(async ({ redis, dir }) => {
      await redis.kill();
      rmSync(dir, { recursive: true, force: true });
    }),
  );
}
