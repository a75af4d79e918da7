// The cluster's Lua scripts against a real Redis, one call at a time: trimming keeps what a live
// node still needs, a node whose heartbeat expired is given up with its clients, and a name
// claim never hands out a name someone holds.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEntry } from '../../cluster/entries.ts';
import { KEY_PREFIX, STREAM_MAX_LENGTH } from '../../cluster/redis-link.ts';
import { SCRIPTS, type ScriptName } from '../../cluster/scripts.ts';
import { nameKeys } from '../../protocol/index.ts';
import { hasRedisServer, startRedis, stopAllRedis } from '../helpers/redis-server.ts';

describe.skipIf(!hasRedisServer())('cluster scripts', () => {
  let redis: Redis;
  const run = (script: ScriptName, ...args: (string | number)[]): Promise<unknown> =>
    redis.eval(SCRIPTS[script].source, 0, KEY_PREFIX, STREAM_MAX_LENGTH, ...args);
  const entries = async (): Promise<string[]> =>
    ((await redis.xrange(`${KEY_PREFIX}log`, '-', '+')) as [string, string[]][]).map(([id, fields]) => {
      const entry = parseEntry(id, fields);
      return entry.kind === 'announce' ? `announce ${entry.text}` : `${entry.kind} ${entry.name}`;
    });

  /** A name and its two keys, as chatd passes them (cluster/cluster-room.ts). */
  const named = (name: string): [string, string, string] => [name, nameKeys(name).folded, nameKeys(name).skeleton];

  beforeAll(async () => {
    const server = await startRedis();
    redis = new Redis(server.url, { protocol: 2 });
  });
  afterAll(async () => {
    redis.disconnect();
    await stopAllRedis();
  });

  it('trims only entries that every live node has read and that are older than the retention', async () => {
    await redis.flushall();
    await run('resync', 'n1', 60_000, '0-0', 0);
    await run('resync', 'n2', 60_000, '0-0', 0);
    // Three old entries (ids from 1970), then one of now.
    for (const ms of [1, 2, 3]) await redis.xadd(`${KEY_PREFIX}log`, `${ms}-0`, 'e', 'announce', 'n', 'x', 't', `old ${ms}`);
    await run('announce', 'n1', 1, 'new');
    // n1 has read everything, n2 only up to 2: entry 2 and later stay.
    await run('heartbeat', 'n1', 60_000, '9999999999999-0', 1000);
    await run('heartbeat', 'n2', 60_000, '2-0', 1000);
    expect(await entries()).toEqual(['announce old 2', 'announce old 3', 'announce new']);
    // Once n2 has read on, the old ones go; the new one is within the retention.
    await run('heartbeat', 'n2', 60_000, '9999999999999-0', 1000);
    expect(await entries()).toEqual(['announce new']);
  });

  it('gives up a node whose heartbeat expired: a logout for each of its clients, names freed', async () => {
    await redis.flushall();
    await run('resync', 'live', 60_000, '0-0', 0);
    await run('resync', 'dead', 60_000, '0-0', 0);
    await run('join', 'dead', 1, 'dead/1', '10.0.0.1:1', ...named('10.0.0.1:1'));
    await run('rename', 'dead', 2, 'dead/1', ...named('Dora'));
    await redis.del(`${KEY_PREFIX}node:dead`); // as if its TTL ran out
    expect(await run('heartbeat', 'live', 60_000, '0-0', 60_000)).toEqual(['ok']);
    expect(await entries()).toEqual(['login 10.0.0.1:1', 'rename 10.0.0.1:1', 'logout Dora']);
    expect(await redis.hgetall(`${KEY_PREFIX}names`)).toEqual({});
    expect(await redis.hgetall(`${KEY_PREFIX}looks`)).toEqual({});
    expect(await redis.smembers(`${KEY_PREFIX}nodes`)).toEqual(['live']);
    // And the dead node, should it beat again, learns that it must register anew.
    expect(await run('heartbeat', 'dead', 60_000, '0-0', 60_000)).toEqual(['lost']);
  });

  it('never gives out a name that is held, ignoring case, or one that looks the same', async () => {
    await redis.flushall();
    await run('resync', 'n1', 60_000, '0-0', 0);
    await run('join', 'n1', 1, 'n1/1', '10.0.0.1:1', ...named('10.0.0.1:1'));
    await run('join', 'n1', 2, 'n1/2', '10.0.0.2:2', ...named('10.0.0.2:2'));
    expect((await run('rename', 'n1', 3, 'n1/1', ...named('Iris'))) as string[]).toContain('ok');
    // The folded key: case.
    expect(((await run('rename', 'n1', 4, 'n1/2', ...named('IRIS'))) as string[])[0]).toBe('taken');
    // The skeleton key: a capital I looks like an l.
    expect(((await run('rename', 'n1', 5, 'n1/2', ...named('lris'))) as string[])[0]).toBe('taken');
    expect(((await run('rename', 'n1', 6, 'n1/1', ...named('Iris'))) as string[])[0]).toBe('same');
    // Both keys are let go on a rename: the old name is free again.
    expect((await run('rename', 'n1', 7, 'n1/1', ...named('Ada'))) as string[]).toContain('ok');
    expect((await run('rename', 'n1', 8, 'n1/2', ...named('lris'))) as string[]).toContain('ok');
    // A /msg finds a holder by either key.
    expect(((await run('msg', 'n1', 9, 'n1/1', ...nameKeysOf('Iris'), 'hi')) as string[])[0]).toBe('ok');
    expect(((await run('msg', 'n1', 10, 'n1/1', ...nameKeysOf('nobody'), 'hi')) as string[])[0]).toBe('nouser');
    // A second client seen at the same address (two nodes, one client port) gets a suffix.
    await run('join', 'n1', 11, 'n1/3', '10.0.0.3:3', ...named('10.0.0.3:3'));
    const [, , name] = (await run('join', 'n1', 12, 'n1/4', '10.0.0.3:3', ...named('10.0.0.3:3'))) as string[];
    expect(name).toBe('10.0.0.3:3~2');
  });

  /** Just the two keys, for a /msg target. */
  const nameKeysOf = (name: string): [string, string] => [nameKeys(name).folded, nameKeys(name).skeleton];
});
