// The cluster's history (docs/CLUSTER.md §9, PROTOCOL.md §10.1-§10.2) on ClusterRooms sharing an
// in-memory Redis: positions counted by the scripts, times from the stream ids, the same
// `/history` on every node, a node that starts later loading it from Redis, and lines a node
// showed alone during an outage kept out of it.

import { beforeEach, describe, expect, it } from 'vitest';
import { READ_RETRY_MS } from '../../cluster/cluster-stream.ts';
import { parseKeptEntry } from '../../cluster/entries.ts';
import type { Command } from '../../protocol/index.ts';
import type { Op } from '../helpers/recording-delivery.ts';
import { rename, SETTINGS, TestCluster, type TestNode } from './test-cluster.ts';

const ALICE = 1;
const BOB = 1;
const CAROL = 2;
const A = '10.0.0.1:1001';
const B = '10.0.0.2:2001';
const C = '10.0.0.3:1003';
const HISTORY: Command = { type: 'history', count: null };

/** The ManualClock's milliseconds as PROTOCOL.md §10.1 writes a time. */
const at = (ms: number): string => new Date(ms).toISOString();

describe('ClusterRoom history', () => {
  let cluster: TestCluster;
  let n1: TestNode;
  let n2: TestNode;

  beforeEach(async () => {
    cluster = new TestCluster();
    n1 = await cluster.start('n1', { ...SETTINGS, historySize: 3 });
    n2 = await cluster.start('n2', { ...SETTINGS, historySize: 3 });
    n1.connect(ALICE, A);
    n2.connect(BOB, B);
    await cluster.settle();
  });

  /** What `/history` answers this client on its node. */
  async function historyOf(node: TestNode, id: number): Promise<Op[]> {
    node.take();
    node.command(id, HISTORY);
    await cluster.settle();
    return node.take();
  }

  it('answers /history alike on every node, with the positions the scripts counted and the times of the stream ids', async () => {
    const saidAt = cluster.clock.now;
    n1.say(ALICE, 'one');
    await cluster.advance(250);
    n2.command(BOB, rename('bob'));
    await cluster.advance(250);
    n1.room.announce('maintenance at 5');
    await cluster.settle();
    const expected = [
      `history: 3 entries\r\n`,
      `history @1 ${at(saidAt)} [${A}]${A}:one\r\n`,
      `history @2 ${at(saidAt + 250)} [${B}]${B}:renamed to bob\r\n`,
      `history @3 ${at(saidAt + 500)} *** maintenance at 5\r\n`,
    ].join('');
    expect(await historyOf(n1, ALICE)).toEqual([['send', ALICE, expected]]);
    expect(await historyOf(n2, BOB)).toEqual([['send', BOB, expected]]);
  });

  it('keeps private messages, logins and leaves out of the history', async () => {
    n1.command(ALICE, { type: 'msg', to: B, text: 'psst' });
    n1.connect(CAROL, C);
    n1.disconnect(CAROL);
    await cluster.settle();
    expect(await historyOf(n2, BOB)).toEqual([['send', BOB, 'history: 0 entries\r\n']]);
    expect(cluster.redis.keptHistory).toEqual([]);
  });

  it('loads the last --history-size entries from Redis when it starts after the others, and continues their positions', async () => {
    for (const line of ['one', 'two', 'three', 'four']) n1.say(ALICE, line);
    await cluster.settle();
    const n3 = await cluster.start('n3', { ...SETTINGS, historySize: 2 });
    n3.connect(CAROL, C);
    await cluster.settle();
    expect(await historyOf(n3, CAROL)).toEqual([
      ['send', CAROL, `history: 2 entries\r\nhistory @3 ${at(1000)} [${A}]${A}:three\r\nhistory @4 ${at(1000)} [${A}]${A}:four\r\n`],
    ]);
    n2.say(BOB, 'five');
    await cluster.settle();
    expect((await historyOf(n3, CAROL))[0]![2]).toContain(`history @5 ${at(1000)} [${B}]${B}:five\r\n`);
  });

  it('keeps the lines a node showed alone while its link was down out of the history, and its positions in step', async () => {
    n1.link.down();
    n1.say(ALICE, 'anyone?');
    n2.say(BOB, 'said meanwhile');
    await cluster.settle();
    expect(await historyOf(n1, ALICE)).toEqual([['send', ALICE, 'history: 0 entries\r\n']]);
    n1.link.up();
    await cluster.advance(READ_RETRY_MS);
    // Back, it reads what the others said meanwhile, with its position; its own line has none.
    n1.say(ALICE, 'back');
    await cluster.settle();
    const expected = `history: 2 entries\r\nhistory @1 ${at(1000)} [${B}]${B}:said meanwhile\r\nhistory @2 ${at(1200)} [${A}]${A}:back\r\n`;
    expect(await historyOf(n1, ALICE)).toEqual([['send', ALICE, expected]]);
    expect(await historyOf(n2, BOB)).toEqual([['send', BOB, expected]]);
    expect(cluster.redis.keptHistory.map((kept) => parseKeptEntry(kept).id)).toHaveLength(2);
  });
});
