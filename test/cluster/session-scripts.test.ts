// The resume sessions in Redis (docs/CLUSTER.md §9): the Lua of cluster/scripts.ts against a real
// Redis, and the in-memory copy the room's unit tests run on (test/cluster/memory-link.ts), both
// told the same stories step by step and held to the same replies and entries. A story is a
// transcript: each step a script call, then what it must answer and append.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEntry, type Entry } from '../../cluster/entries.ts';
import { KEY_PREFIX, STREAM_MAX_LENGTH } from '../../cluster/redis-link.ts';
import { SCRIPTS, type ScriptName } from '../../cluster/scripts.ts';
import { nameKeys } from '../../protocol/index.ts';
import { hasRedisServer, startRedis, stopAllRedis } from '../helpers/redis-server.ts';
import { ManualClock } from './manual-clock.ts';
import { MemoryRedis } from './memory-link.ts';

/** Long enough that no node's heartbeat runs out while a story moves the clock past a window. */
const TTL_MS = 3_600_000;
const HOLD_MS = 60_000;
const KEEP = 10;

/** What a story runs on: the real Lua, or MemoryRedis. */
interface Backend {
  run(script: ScriptName, args: readonly (string | number)[]): Promise<unknown>;
  /** The entries appended since the last call. */
  appended(): Promise<Entry[]>;
  /** Every hold's window ends now. */
  endWindows(): Promise<void>;
  /** The node's heartbeat runs out (as if its TTL had passed). */
  expire(node: string): Promise<void>;
}

/** A step: a script and its arguments after the prelude's, or something that happens to Redis. */
type Step =
  | { readonly run: ScriptName; readonly args: readonly (string | number)[]; readonly answers: readonly unknown[]; readonly appends?: readonly string[] }
  | { readonly happens: 'the windows end' | `node ${string} expires` };

const named = (name: string): [string, string, string] => [name, nameKeys(name).folded, nameKeys(name).skeleton];
const keysOf = (name: string): [string, string] => [nameKeys(name).folded, nameKeys(name).skeleton];
const ID = '<id>';

/** n1 with Ada (n1/1) and Bo (n1/2), n2 with Cy (n2/1); each has renamed from its address. */
const START: readonly Step[] = [
  { run: 'resync', args: ['n1', TTL_MS, '0-0', 0, 0], answers: ['ok', ID] },
  { run: 'resync', args: ['n2', TTL_MS, '0-0', 0, 0], answers: ['ok', ID] },
  ...(
    [
      ['n1', 'n1/1', '10.0.0.1:1', 'Ada'],
      ['n1', 'n1/2', '10.0.0.2:2', 'Bo'],
      ['n2', 'n2/1', '10.0.0.3:3', 'Cy'],
    ] as const
  ).flatMap(([node, client, addr, name]): Step[] => [
    { run: 'join', args: [node, 1, client, addr, ...named(addr)], answers: ['ok', ID, addr], appends: [`login ${client} ${addr}`] },
    { run: 'rename', args: [node, 2, KEEP, client, ...named(name)], answers: ['ok', ID], appends: [`rename ${client} ${addr} -> ${name}`] },
  ]),
];

/** What an entry tells, in a few words. */
function told(entry: Entry): string {
  switch (entry.kind) {
    case 'login':
      return `login ${entry.client} ${entry.name}${entry.isResume ? ' (resume)' : ''}`;
    case 'logout':
      return `logout ${entry.client} ${entry.name} (${entry.why})`;
    case 'rename':
      return `rename ${entry.client} ${entry.name} -> ${entry.newName}`;
    case 'chat':
      return `chat ${entry.client} ${entry.name}: ${entry.text}`;
    default:
      return entry.kind;
  }
}

/** A reply with its stream ids made `<id>`: the two backends' ids differ. */
function withoutIds(reply: unknown): unknown {
  return (reply as unknown[]).map((value) => (typeof value === 'string' && /^\d+-\d+$/.test(value) ? ID : value));
}

const STORIES: readonly (readonly [string, readonly Step[]])[] = [
  [
    'a dropped session is held with its name for the window, then taken back once on another node',
    [
      { run: 'token', args: ['n1', 3, 'n1/1', 'sid-ada'], answers: ['ok', ID] },
      { run: 'leave', args: ['n1', 4, 'n1/1', 'left', HOLD_MS], answers: ['ok', ID], appends: ['logout n1/1 Ada (left)'] },
      // Held: nobody takes it by either key, and nobody is there to write to.
      { run: 'rename', args: ['n2', 3, KEEP, 'n2/1', ...named('ADA')], answers: ['taken', ID] },
      { run: 'rename', args: ['n2', 4, KEEP, 'n2/1', ...named('Аda')], answers: ['taken', ID] }, // a Cyrillic А
      { run: 'msg', args: ['n2', 5, 'n2/1', ...keysOf('Ada'), 'psst'], answers: ['nouser', ID] },
      { run: 'join', args: ['n2', 6, 'n2/5', '10.0.0.5:5', ...named('10.0.0.5:5')], answers: ['ok', ID, '10.0.0.5:5'], appends: ['login n2/5 10.0.0.5:5'] },
      // Refusals use nothing up.
      { run: 'resume', args: ['n2', 7, 'n2/5', '10.0.0.5:5', ...keysOf('10.0.0.5:5'), 'sid-ada', 'sid-2', 9, '0'], answers: ['ahead', ID, 3] },
      { run: 'resume', args: ['n2', 8, 'n2/5', '10.0.0.5:5', ...keysOf('10.0.0.5:5'), 'sid-nope', 'sid-2', 0, '0'], answers: ['refused', ID] },
      {
        run: 'resume',
        args: ['n2', 9, 'n2/5', '10.0.0.5:5', ...keysOf('10.0.0.5:5'), 'sid-ada', 'sid-2', 3, '0'],
        answers: ['ok', ID, 'Ada'],
        appends: ['login n2/5 Ada (resume)'],
      },
      // Used up; a WebSocket handshake that brings it comes in as a newcomer all the same.
      {
        run: 'resume',
        args: ['n2', 10, 'n2/6', '10.0.0.6:6', ...keysOf('10.0.0.6:6'), 'sid-ada', 'sid-3', 3, '1'],
        answers: ['refused', ID],
        appends: ['login n2/6 10.0.0.6:6'],
      },
      // The new token is the resumed client's: it drops again, and a handshake takes it back.
      { run: 'leave', args: ['n2', 11, 'n2/5', 'left', HOLD_MS], answers: ['ok', ID], appends: ['logout n2/5 Ada (left)'] },
      {
        run: 'resume',
        args: ['n2', 12, 'n2/7', '10.0.0.7:7', ...keysOf('10.0.0.7:7'), 'sid-2', 'sid-4', 0, '1'],
        answers: ['ok', ID, 'Ada'],
        appends: ['login n2/7 Ada (resume)'],
      },
    ],
  ],
  [
    'a session whose connection is still online is taken over: that connection is logged out first',
    [
      { run: 'token', args: ['n1', 3, 'n1/2', 'sid-bo'], answers: ['ok', ID] },
      {
        run: 'resume',
        args: ['n2', 3, 'n2/5', '10.0.0.5:5', ...keysOf('10.0.0.5:5'), 'sid-bo', 'sid-2', 0, '1'],
        answers: ['ok', ID, 'Bo'],
        appends: ['logout n1/2 Bo (left)', 'login n2/5 Bo (resume)'],
      },
    ],
  ],
  [
    'a quit ends its session, and a hold whose window has ended holds nothing',
    [
      { run: 'token', args: ['n1', 3, 'n1/1', 'sid-ada'], answers: ['ok', ID] },
      { run: 'token', args: ['n1', 4, 'n1/2', 'sid-bo'], answers: ['ok', ID] },
      { run: 'leave', args: ['n1', 5, 'n1/1', 'quit', 0], answers: ['ok', ID], appends: ['logout n1/1 Ada (quit)'] },
      { run: 'leave', args: ['n1', 6, 'n1/2', 'left', HOLD_MS], answers: ['ok', ID], appends: ['logout n1/2 Bo (left)'] },
      { run: 'rename', args: ['n2', 3, KEEP, 'n2/1', ...named('Ada')], answers: ['ok', ID], appends: ['rename n2/1 Cy -> Ada'] },
      { run: 'rename', args: ['n2', 4, KEEP, 'n2/1', ...named('Bo')], answers: ['taken', ID] },
      { happens: 'the windows end' },
      { run: 'resume', args: ['n2', 5, 'n2/1', '10.0.0.3:3', ...keysOf('10.0.0.3:3'), 'sid-bo', 'sid-2', 0, '0'], answers: ['refused', ID] },
      { run: 'rename', args: ['n2', 6, KEEP, 'n2/1', ...named('Bo')], answers: ['ok', ID], appends: ['rename n2/1 Ada -> Bo'] },
      // The heartbeat clears what the ended hold kept; the name stays Cy's, now Bo.
      { run: 'heartbeat', args: ['n2', TTL_MS, '0-0', 60_000, HOLD_MS], answers: ['ok'] },
      { run: 'msg', args: ['n1', 7, 'n2/1', ...keysOf('Bo'), 'hi'], answers: ['ok', ID], appends: ['private'] },
    ],
  ],
  [
    'a node given up holds its clients\' sessions; back, it takes them back, unless one was taken back elsewhere',
    [
      { run: 'token', args: ['n2', 3, 'n2/1', 'sid-cy'], answers: ['ok', ID] },
      { happens: 'node n2 expires' },
      { run: 'heartbeat', args: ['n1', TTL_MS, '0-0', 60_000, HOLD_MS], answers: ['ok'], appends: ['logout n2/1 Cy (node-lost)'] },
      { run: 'rename', args: ['n1', 3, KEEP, 'n1/1', ...named('cy')], answers: ['taken', ID] },
      // n2 was alive: its next heartbeat is `lost`, and its resync brings Cy back with the session.
      { run: 'heartbeat', args: ['n2', TTL_MS, '0-0', 60_000, HOLD_MS], answers: ['lost'] },
      { run: 'resync', args: ['n2', TTL_MS, '0-0', 4, 3, 'n2/1', '10.0.0.3:3', ...named('Cy'), 'sid-cy'], answers: ['ok', ID], appends: ['login n2/1 Cy'] },
      { happens: 'node n2 expires' },
      { run: 'heartbeat', args: ['n1', TTL_MS, '0-0', 60_000, HOLD_MS], answers: ['ok'], appends: ['logout n2/1 Cy (node-lost)'] },
      // Meanwhile its client took the session back on n1 (it thought its connection dead).
      { run: 'join', args: ['n1', 4, 'n1/9', '10.0.0.9:9', ...named('10.0.0.9:9')], answers: ['ok', ID, '10.0.0.9:9'], appends: ['login n1/9 10.0.0.9:9'] },
      {
        run: 'resume',
        args: ['n1', 5, 'n1/9', '10.0.0.9:9', ...keysOf('10.0.0.9:9'), 'sid-cy', 'sid-2', 3, '0'],
        answers: ['ok', ID, 'Cy'],
        appends: ['login n1/9 Cy (resume)'],
      },
      // Back, n2 finds the session gone (listed after the id) and its name taken: it comes back under its address.
      {
        run: 'resync',
        args: ['n2', TTL_MS, '0-0', 5, 3, 'n2/1', '10.0.0.3:3', ...named('Cy'), 'sid-cy'],
        answers: ['ok', ID, 'n2/1'],
        appends: ['login n2/1 10.0.0.3:3'],
      },
    ],
  ],
  [
    'a node that stops holds its clients\' sessions too',
    [
      { run: 'token', args: ['n2', 3, 'n2/1', 'sid-cy'], answers: ['ok', ID] },
      { run: 'leaveNode', args: ['n2', HOLD_MS], answers: ['ok'], appends: ['logout n2/1 Cy (node-stopped)'] },
      { run: 'join', args: ['n1', 3, 'n1/9', '10.0.0.9:9', ...named('10.0.0.9:9')], answers: ['ok', ID, '10.0.0.9:9'], appends: ['login n1/9 10.0.0.9:9'] },
      { run: 'rename', args: ['n1', 4, KEEP, 'n1/9', ...named('Cy')], answers: ['taken', ID] },
      {
        run: 'resume',
        args: ['n1', 5, 'n1/9', '10.0.0.9:9', ...keysOf('10.0.0.9:9'), 'sid-cy', 'sid-2', 3, '0'],
        answers: ['ok', ID, 'Cy'],
        appends: ['login n1/9 Cy (resume)'],
      },
    ],
  ],
];

/** Runs a story's steps on `backend`, and checks each against what it must answer and append. */
async function tell(backend: Backend, steps: readonly Step[]): Promise<void> {
  for (const [index, step] of steps.entries()) {
    if ('happens' in step) {
      if (step.happens === 'the windows end') await backend.endWindows();
      else await backend.expire(step.happens.split(' ')[1]!);
      continue;
    }
    const where = `step ${index} (${step.run} ${step.args.join(' ')})`;
    expect(withoutIds(await backend.run(step.run, step.args)), where).toEqual(step.answers);
    expect((await backend.appended()).map(told), where).toEqual(step.appends ?? []);
  }
}

describe('resume sessions in MemoryRedis', () => {
  function memoryBackend(): Backend {
    const clock = new ManualClock();
    const redis = new MemoryRedis(clock);
    let after = '0-0';
    return {
      run: async (script, args) => redis.run(script, args),
      appended: async () => {
        const entries = redis.entriesAfter(after, 10_000).map(([id, flat]) => parseEntry(id, flat));
        if (entries.length > 0) after = entries.at(-1)!.id;
        return entries;
      },
      endWindows: async () => clock.advance(HOLD_MS),
      expire: async (node) => redis.expireHeartbeat(node),
    };
  }

  it.each(STORIES)('%s', async (_story, steps) => {
    await tell(memoryBackend(), [...START, ...steps]);
  });
});

describe.skipIf(!hasRedisServer())('resume sessions in the Lua scripts', () => {
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis((await startRedis()).url, { protocol: 2 });
  });
  afterAll(async () => {
    redis.disconnect();
    await stopAllRedis();
  });

  function luaBackend(): Backend {
    let after = '0-0';
    return {
      run: (script, args) => redis.eval(SCRIPTS[script].source, 0, KEY_PREFIX, STREAM_MAX_LENGTH, ...args),
      appended: async () => {
        const raw = (await redis.xrange(`${KEY_PREFIX}log`, `(${after}`, '+')) as [string, string[]][];
        if (raw.length > 0) after = raw.at(-1)![0];
        return raw.map(([id, flat]) => parseEntry(id, flat));
      },
      endWindows: async () => {
        for (const session of await redis.zrange(`${KEY_PREFIX}holds`, '0', '-1')) await redis.zadd(`${KEY_PREFIX}holds`, 'XX', '0', session);
      },
      expire: async (node) => {
        await redis.del(`${KEY_PREFIX}node:${node}`);
      },
    };
  }

  it.each(STORIES)('%s', async (_story, steps) => {
    await redis.flushall();
    await tell(luaBackend(), [...START, ...steps]);
  });

  it('keeps no token in Redis, only session ids, and nothing of a session once it is taken back or ended', async () => {
    await redis.flushall();
    const backend = luaBackend();
    await tell(backend, [
      ...START,
      { run: 'token', args: ['n1', 3, 'n1/1', 'sid-ada'], answers: ['ok', ID] },
      { run: 'leave', args: ['n1', 4, 'n1/1', 'left', HOLD_MS], answers: ['ok', ID], appends: ['logout n1/1 Ada (left)'] },
    ]);
    expect(await redis.hkeys(`${KEY_PREFIX}held`)).toEqual(['sid-ada']);
    expect(await redis.hget(`${KEY_PREFIX}names`, nameKeys('Ada').folded)).toBe('#sid-ada');
    await tell(backend, [
      { run: 'join', args: ['n2', 5, 'n2/5', '10.0.0.5:5', ...named('10.0.0.5:5')], answers: ['ok', ID, '10.0.0.5:5'], appends: ['login n2/5 10.0.0.5:5'] },
      {
        run: 'resume',
        args: ['n2', 6, 'n2/5', '10.0.0.5:5', ...keysOf('10.0.0.5:5'), 'sid-ada', 'sid-2', 0, '0'],
        answers: ['ok', ID, 'Ada'],
        appends: ['login n2/5 Ada (resume)'],
      },
      { run: 'leave', args: ['n2', 7, 'n2/5', 'quit', 0], answers: ['ok', ID], appends: ['logout n2/5 Ada (quit)'] },
    ]);
    for (const key of ['held', 'holds', 'sessions']) expect(await redis.exists(`${KEY_PREFIX}${key}`), key).toBe(0);
    expect(await redis.hget(`${KEY_PREFIX}names`, nameKeys('Ada').folded)).toBeNull();
  });
});
