// The cluster's Lua scripts against a real Redis, one call at a time: what each one appends parses
// back with every field the table (cluster/stream-fields.ts) gives its kind, trimming keeps what a
// live node still needs, a node whose heartbeat expired is given up with its clients, and a name
// claim never hands out a name someone holds.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEntry, parseKeptEntry, type Entry } from '../../cluster/entries.ts';
import { KEY_PREFIX, STREAM_MAX_LENGTH } from '../../cluster/redis-link.ts';
import { SCRIPTS, type ScriptName } from '../../cluster/scripts.ts';
import { ENTRY_KINDS, ENTRY_LAYOUTS, STREAM_FIELDS, flattenEntry, type EntryKind, type FieldName } from '../../cluster/stream-fields.ts';
import { nameKeys } from '../../protocol/index.ts';
import { hasRedisServer, startRedis, stopAllRedis } from '../helpers/redis-server.ts';

/** History entries the appending scripts keep, as a node with --history-size 3 asks. */
const KEEP = 3;
/** How long a dropped session is held, as a node with --resume-window 60 asks. */
const HOLD_MS = 60_000;

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

  /**
   * Every entry after `after`, checked against the table: it parses, and carries its fields under
   * their letters in the table's order, and no field the table does not give its kind.
   */
  const appendedAfter = async (after: string): Promise<{ entry: Entry; fields: FieldName[] }[]> => {
    const raw = (await redis.xrange(`${KEY_PREFIX}log`, `(${after}`, '+')) as [string, string[]][];
    return raw.map(([id, flat]) => {
      const entry = parseEntry(id, flat); // throws when the entry lacks a field its kind always carries
      const letters = flat.filter((_, index) => index % 2 === 0);
      const carried = ENTRY_LAYOUTS[entry.kind].filter(({ letter }) => letters.includes(letter));
      const values = carried.flatMap(({ letter }) => [letter, flat[letters.indexOf(letter) * 2 + 1]]);
      const laidOut = [STREAM_FIELDS.kind.letter, entry.kind, ...values];
      expect(laidOut, `entry ${id} as the table lays it out`).toEqual(flat);
      return { entry, fields: carried.map(({ name }) => name) };
    });
  };

  /** What an entry tells, in a few words, after the seq of the request that caused it. */
  const told = (entry: Entry): string => `#${entry.seq} ${summaryOf(entry)}`;
  const summaryOf = (entry: Entry): string => {
    switch (entry.kind) {
      case 'announce':
        return `announce ${entry.text}`;
      case 'chat':
        return `chat ${entry.client} ${entry.name}: ${entry.text}`;
      case 'rename':
        return `rename ${entry.client} ${entry.name} -> ${entry.newName}`;
      case 'private':
        return `private ${entry.client} ${entry.name} -> ${entry.to}: ${entry.text}`;
      case 'logout':
        return `logout ${entry.client} ${entry.name} (${entry.why})`;
      case 'login':
        return `login ${entry.client} ${entry.name}${entry.isResume ? ' (resume)' : ''}`;
      default:
        return `${entry.kind} ${entry.client} ${entry.name}`;
    }
  };

  /**
   * Every script that appends, called once after the same start: nodes n1 and n2, Ada (n1/1) and
   * Bo (n1/2) on n1, Cy (n2/1) on n2; with what it must append, each entry as `#SEQ what`, SEQ
   * being the seq of the request that caused it (0 when none did).
   */
  const APPENDING: readonly (readonly [ScriptName, string, () => Promise<unknown>, readonly string[]])[] = [
    ['join', 'a new client', () => run('join', 'n1', 10, 'n1/9', '10.0.0.9:9', ...named('10.0.0.9:9')), ['#10 login n1/9 10.0.0.9:9']],
    ['say', 'a line', () => run('say', 'n1', 11, KEEP, 'n1/1', 'hello'), ['#11 chat n1/1 Ada: hello']],
    ['rename', 'a new name', () => run('rename', 'n1', 12, KEEP, 'n1/1', ...named('Ida')), ['#12 rename n1/1 Ada -> Ida']],
    ['msg', 'a private line', () => run('msg', 'n1', 13, 'n1/1', ...nameKeysOf('Cy'), 'psst'), ['#13 private n1/1 Ada -> n2/1: psst']],
    ['leave', '/quit', () => run('leave', 'n1', 14, 'n1/1', 'quit', 0), ['#14 logout n1/1 Ada (quit)']],
    ['leave', 'a closed socket', () => run('leave', 'n1', 15, 'n1/1', 'left', HOLD_MS), ['#15 logout n1/1 Ada (left)']],
    ['leave', 'an idle timeout', () => run('leave', 'n1', 16, 'n1/1', 'timeout', 0), ['#16 timeout n1/1 Ada']],
    ['announce', 'POST /announce', () => run('announce', 'n2', 17, KEEP, 'news'), ['#17 announce news']],
    [
      'heartbeat',
      'a node given up',
      async () => {
        await redis.del(`${KEY_PREFIX}node:n2`); // as if its TTL ran out
        return run('heartbeat', 'n1', 60_000, '0-0', 60_000, HOLD_MS);
      },
      ['#0 logout n2/1 Cy (node-lost)'],
    ],
    [
      'resync',
      'a client gone and one brought back',
      () => run('resync', 'n1', 60_000, '0-0', 18, 0, 'n1/1', '10.0.0.1:1', ...named('Ada'), '', 'n1/8', '10.0.0.8:8', ...named('Di'), ''),
      ['#0 logout n1/2 Bo (left)', '#18 login n1/8 Di'],
    ],
    ['leaveNode', 'a node that stops', () => run('leaveNode', 'n2', HOLD_MS), ['#0 logout n2/1 Cy (node-stopped)']],
    [
      'resume',
      'a session taken over from a connection still online',
      async () => {
        await run('token', 'n1', 19, 'n1/2', 'sid-bo');
        await run('join', 'n2', 20, 'n2/9', '10.0.0.9:9', ...named('10.0.0.9:9'));
        return run('resume', 'n2', 21, 'n2/9', '10.0.0.9:9', ...nameKeysOf('10.0.0.9:9'), 'sid-bo', 'sid-new', 0, '0');
      },
      ['#20 login n2/9 10.0.0.9:9', '#21 logout n1/2 Bo (left)', '#21 login n2/9 Bo (resume)'],
    ],
  ];

  /** The start every case of APPENDING runs from; returns the newest entry id. */
  const start = async (): Promise<string> => {
    await redis.flushall();
    await run('resync', 'n1', 60_000, '0-0', 0, 0);
    await run('resync', 'n2', 60_000, '0-0', 0, 0);
    await run('join', 'n1', 1, 'n1/1', '10.0.0.1:1', ...named('10.0.0.1:1'));
    await run('rename', 'n1', 2, KEEP, 'n1/1', ...named('Ada'));
    await run('join', 'n1', 3, 'n1/2', '10.0.0.2:2', ...named('10.0.0.2:2'));
    await run('rename', 'n1', 4, KEEP, 'n1/2', ...named('Bo'));
    await run('join', 'n2', 1, 'n2/1', '10.0.0.3:3', ...named('10.0.0.3:3'));
    await run('rename', 'n2', 2, KEEP, 'n2/1', ...named('Cy'));
    return (await redis.get(`${KEY_PREFIX}last`)) ?? '0-0';
  };

  it.each(APPENDING)(
    '%s (%s) appends entries that parse back with every field the table gives their kind',
    async (_script, _case, call, expected) => {
      const after = await start();
      await call();
      expect((await appendedAfter(after)).map(({ entry }) => told(entry))).toEqual(expected);
    },
  );

  it('between them, the scripts write every field the table gives each kind, those it carries only sometimes too', async () => {
    const written = new Set<string>();
    for (const [, , call] of APPENDING) {
      const after = await start();
      await call();
      for (const { entry, fields } of await appendedAfter(after)) for (const field of fields) written.add(`${entry.kind} ${field}`);
    }
    const kinds = Object.keys(ENTRY_KINDS) as EntryKind[];
    const inTable = kinds.flatMap((kind) => ENTRY_LAYOUTS[kind].map(({ name }) => `${kind} ${name}`));
    expect([...written].sort()).toEqual(inTable.sort());
  });

  /** An entry in a few words, with its position when it has one. */
  const positioned = (entry: Entry): string => ('position' in entry && entry.position !== null ? `@${entry.position} ` : '') + summaryOf(entry);

  it('gives every chat line, rename and announcement the next position, and keeps the last ones with their ids beside the stream', async () => {
    await start(); // Ada, Bo and Cy's renames: @1 to @3
    await run('say', 'n1', 20, KEEP, 'n1/1', 'one');
    await run('msg', 'n1', 21, 'n1/1', ...nameKeysOf('Cy'), 'psst'); // no history entry, no position
    await run('announce', 'n2', 22, KEEP, 'two');
    const stream = ((await redis.xrange(`${KEY_PREFIX}log`, '-', '+')) as [string, string[]][]).map(([id, flat]) => parseEntry(id, flat));
    expect(stream.filter((entry) => entry.kind !== 'login').map(positioned)).toEqual([
      '@1 rename n1/1 10.0.0.1:1 -> Ada',
      '@2 rename n1/2 10.0.0.2:2 -> Bo',
      '@3 rename n2/1 10.0.0.3:3 -> Cy',
      '@4 chat n1/1 Ada: one',
      'private n1/1 Ada -> n2/1: psst',
      '@5 announce two',
    ]);
    const kept = (await redis.lrange(`${KEY_PREFIX}history`, 0, -1)).map(parseKeptEntry);
    // The last KEEP (3), exactly as the stream has them, ids included.
    expect(kept).toEqual(stream.filter((entry) => 'position' in entry && entry.position! >= 3));
    expect(await redis.get(`${KEY_PREFIX}position`)).toBe('5');
  });

  it('answers a snapshot with who is online, in order of arrival, and the last kept history entries', async () => {
    await start();
    await run('say', 'n2', 20, KEEP, 'n2/1', 'hi');
    const [last, who, kept] = (await run('snapshot', 2)) as [string, string[], string[]];
    expect(last).toBe(await redis.get(`${KEY_PREFIX}last`));
    expect(who).toEqual(['n1/1', '10.0.0.1:1', 'Ada', 'n1/2', '10.0.0.2:2', 'Bo', 'n2/1', '10.0.0.3:3', 'Cy']);
    expect(kept.map(parseKeptEntry).map(positioned)).toEqual(['@3 rename n2/1 10.0.0.3:3 -> Cy', '@4 chat n2/1 Cy: hi']);
  });

  it('keeps the newest history entry for a node that keeps none, so that it still learns the newest position', async () => {
    await start();
    await run('say', 'n1', 20, 0, 'n1/1', 'one');
    await run('say', 'n1', 21, 0, 'n1/1', 'two');
    expect(await redis.llen(`${KEY_PREFIX}history`)).toBe(1);
    const [, , kept] = (await run('snapshot', 0)) as [string, string[], string[]];
    expect(kept.map(parseKeptEntry).map(positioned)).toEqual(['@5 chat n1/1 Ada: two']);
  });

  it('goes on from the newest position a node knows when Redis lost its data, rather than from 1', async () => {
    await redis.flushall();
    await run('resync', 'n1', 60_000, '0-0', 0, 41, 'n1/1', '10.0.0.1:1', ...named('Ada'), '');
    await run('resync', 'n2', 60_000, '0-0', 0, 12);
    await run('say', 'n1', 1, KEEP, 'n1/1', 'still here');
    const [, , kept] = (await run('snapshot', 1)) as [string, string[], string[]];
    expect(kept.map(parseKeptEntry).map(positioned)).toEqual(['@42 chat n1/1 Ada: still here']);
  });

  it('trims only entries that every live node has read and that are older than the retention', async () => {
    await redis.flushall();
    await run('resync', 'n1', 60_000, '0-0', 0, 0);
    await run('resync', 'n2', 60_000, '0-0', 0, 0);
    // Three old entries (ids from 1970), then one of now.
    for (const ms of [1, 2, 3]) {
      await redis.xadd(`${KEY_PREFIX}log`, `${ms}-0`, ...flattenEntry('announce', { node: 'x', seq: '0', text: `old ${ms}` }));
    }
    await run('announce', 'n1', 1, KEEP, 'new');
    // n1 has read everything, n2 only up to 2: entry 2 and later stay.
    await run('heartbeat', 'n1', 60_000, '9999999999999-0', 1000, HOLD_MS);
    await run('heartbeat', 'n2', 60_000, '2-0', 1000, HOLD_MS);
    expect(await entries()).toEqual(['announce old 2', 'announce old 3', 'announce new']);
    // Once n2 has read on, the old ones go; the new one is within the retention.
    await run('heartbeat', 'n2', 60_000, '9999999999999-0', 1000, HOLD_MS);
    expect(await entries()).toEqual(['announce new']);
  });

  it('gives up a node whose heartbeat expired: a logout for each of its clients, names freed', async () => {
    await redis.flushall();
    await run('resync', 'live', 60_000, '0-0', 0, 0);
    await run('resync', 'dead', 60_000, '0-0', 0, 0);
    await run('join', 'dead', 1, 'dead/1', '10.0.0.1:1', ...named('10.0.0.1:1'));
    await run('rename', 'dead', 2, KEEP, 'dead/1', ...named('Dora'));
    await redis.del(`${KEY_PREFIX}node:dead`); // as if its TTL ran out
    expect(await run('heartbeat', 'live', 60_000, '0-0', 60_000, HOLD_MS)).toEqual(['ok']);
    expect(await entries()).toEqual(['login 10.0.0.1:1', 'rename 10.0.0.1:1', 'logout Dora']);
    expect(await redis.hgetall(`${KEY_PREFIX}names`)).toEqual({});
    expect(await redis.hgetall(`${KEY_PREFIX}looks`)).toEqual({});
    expect(await redis.smembers(`${KEY_PREFIX}nodes`)).toEqual(['live']);
    // And the dead node, should it beat again, learns that it must register anew.
    expect(await run('heartbeat', 'dead', 60_000, '0-0', 60_000, HOLD_MS)).toEqual(['lost']);
  });

  it('never gives out a name that is held, ignoring case, or one that looks the same', async () => {
    await redis.flushall();
    await run('resync', 'n1', 60_000, '0-0', 0, 0);
    await run('join', 'n1', 1, 'n1/1', '10.0.0.1:1', ...named('10.0.0.1:1'));
    await run('join', 'n1', 2, 'n1/2', '10.0.0.2:2', ...named('10.0.0.2:2'));
    expect((await run('rename', 'n1', 3, KEEP, 'n1/1', ...named('Iris'))) as string[]).toContain('ok');
    // The folded key: case.
    expect(((await run('rename', 'n1', 4, KEEP, 'n1/2', ...named('IRIS'))) as string[])[0]).toBe('taken');
    // The skeleton key: a capital I looks like an l.
    expect(((await run('rename', 'n1', 5, KEEP, 'n1/2', ...named('lris'))) as string[])[0]).toBe('taken');
    expect(((await run('rename', 'n1', 6, KEEP, 'n1/1', ...named('Iris'))) as string[])[0]).toBe('same');
    // Both keys are let go on a rename: the old name is free again.
    expect((await run('rename', 'n1', 7, KEEP, 'n1/1', ...named('Ada'))) as string[]).toContain('ok');
    expect((await run('rename', 'n1', 8, KEEP, 'n1/2', ...named('lris'))) as string[]).toContain('ok');
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
