// History and resume across real chatd nodes and one real redis-server (docs/CLUSTER.md §9,
// PROTOCOL.md §10): `/history` the same on every node and on one started later; a client of a
// node killed with SIGKILL takes its session back on another node with exactly what it missed,
// its name held meanwhile and given back, seen on a third; a node stopped with SIGTERM holds its
// clients' sessions too; and a resume over a WebSocket handshake. Each client is on the node its
// name says: bob on B, carol on C; erin starts on E, the one killed, frank on F, the one stopped.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectWebSocket, disconnectAll, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { join, rename, startNode, waitForWho, type Node } from '../helpers/cluster-nodes.ts';
import { hasRedisServer, startRedis, stopAllRedis, type TestRedis } from '../helpers/redis-server.ts';
import { stopAllChatd } from '../helpers/start-server.ts';

const TIME = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
const TOKEN = '[A-Za-z0-9_-]{22}';
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The `history @N TIME LINE` form of a live line. */
const historyLine = (position: number, live: string): RegExp => new RegExp(`^history @${position} ${TIME} ${escape(live)}$`);

/** `/history N` on this client: the header and its lines. */
async function historyOf(client: ChatClient, count: number): Promise<string[]> {
  await client.send(`/history ${count}`);
  const header = await client.waitForLine((line) => line.startsWith('history:'));
  const lines = [header];
  const listed = Number(/^history: (\d+) /.exec(header)![1]);
  for (let i = 0; i < listed; i++) lines.push(await client.nextLine());
  return lines;
}

/** The position a positioned live line (`@N LINE`) or a history line carries. */
const positionOf = (line: string): number => Number(/@(\d+) /.exec(line)![1]);

describe.skipIf(!hasRedisServer())('history and resume across chatd nodes', () => {
  let redis: TestRedis;
  let b: Node;
  let c: Node;
  const started: Node[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    [b, c] = await Promise.all([startNode(redis, ['--web-port', '0']), startNode(redis, ['--web-port', '0'])]);
    started.push(b, c);
  });
  afterEach(async () => {
    await disconnectAll();
    // Every live node must have seen every leave before the next test's logins.
    await waitForWho(
      started.filter((node) => !node.process.hasExited),
      [],
    );
  });
  afterAll(async () => {
    await stopAllChatd();
    await stopAllRedis();
  });

  it('answers /history alike on every node, and on a node started later, with the positions Redis counted', async () => {
    const a = await startNode(redis);
    started.push(a);
    const alice = await join(a, []);
    const bob = await join(b, [alice]);
    const carol = await join(c, [alice, bob]);
    await alice.send('one');
    for (const client of [alice, bob, carol]) await client.expectLine(lineFrom(alice, 'one'));
    await rename(bob, 'bob', [alice, bob, carol]);
    await carol.send('three');
    for (const client of [alice, bob, carol]) await client.expectLine(lineFrom(carol, 'three'));
    const onA = await historyOf(alice, 3);
    expect(onA[0]).toBe('history: 3 entries');
    const first = positionOf(onA[1]!);
    expect(onA.slice(1)).toEqual([
      expect.stringMatching(historyLine(first, `[${alice.addr}]${alice.addr}:one`)),
      expect.stringMatching(historyLine(first + 1, `[${bob.addr}]${bob.addr}:renamed to bob`)),
      expect.stringMatching(historyLine(first + 2, lineFrom(carol, 'three'))),
    ]);
    expect(await historyOf(bob, 3)).toEqual(onA);
    expect(await historyOf(carol, 3)).toEqual(onA);
    // A node started now loads what Redis kept, and answers the same.
    const d = await startNode(redis);
    started.push(d);
    const dave = await join(d, [alice, bob, carol]);
    expect(await historyOf(dave, 3)).toEqual(onA);
  });

  it('resumes a client of a node killed with SIGKILL on another node: what it missed exactly once, its name held meanwhile and given back', async () => {
    const e = await startNode(redis);
    started.push(e);
    const bob = await join(b, []);
    const carol = await join(c, [bob]);
    const erin = await join(e, [bob, carol]);
    await rename(erin, 'erin', [bob, carol, erin]);
    await erin.send('/token');
    const tokenLine = await erin.nextLine();
    const token = new RegExp(`^token (${TOKEN}) @\\d+$`).exec(tokenLine)?.[1];
    expect(token, tokenLine).toBeDefined();
    // From the token on, erin's live history lines carry their positions: she keeps the last one.
    await bob.send('before');
    for (const client of [bob, carol]) await client.expectLine(lineFrom(bob, 'before'));
    const before = await erin.nextLine();
    expect(before).toMatch(new RegExp(`^@\\d+ ${escape(lineFrom(bob, 'before'))}$`));
    const seen = positionOf(before);

    const killedAt = Date.now();
    e.process.signal('SIGKILL');
    await bob.send('missed one');
    for (const client of [bob, carol]) await client.expectLine(lineFrom(bob, 'missed one'));
    await carol.send('missed two');
    for (const client of [bob, carol]) await client.expectLine(lineFrom(carol, 'missed two'));
    // Her node is given up: everyone sees her leave, and her name is held for her.
    for (const client of [bob, carol]) await client.expectLine(lineFrom(erin, 'login out'), 10_000);
    expect(Date.now() - killedAt).toBeLessThan(8000);
    const mallory = await join(c, [bob, carol]);
    await mallory.send('rename|ERIN');
    await mallory.expectLine('error: the name ERIN is taken; pick another');

    const erinAgain = await join(b, [bob, carol, mallory]);
    await erinAgain.send(`/resume ${token} @${seen}`);
    await erinAgain.expectLine('resume: 2 entries you missed');
    expect(await erinAgain.nextLine()).toMatch(historyLine(seen + 1, lineFrom(bob, 'missed one')));
    expect(await erinAgain.nextLine()).toMatch(historyLine(seen + 2, lineFrom(carol, 'missed two')));
    erinAgain.name = 'erin';
    await erinAgain.expectLine(lineFrom(erinAgain, 'login'));
    const resumed = await erinAgain.nextLine();
    expect(resumed).toMatch(new RegExp(`^resumed ${TOKEN} @${seen + 2}$`));
    expect(resumed).not.toContain(token);
    for (const client of [bob, carol, mallory]) await client.expectLine(lineFrom(erinAgain, 'login'));
    await waitForWho([b, c], [bob, carol, mallory, erinAgain].map((client) => `${client.addr}:${client.name}`));
    // Positions stay on: her next line comes with its position, and nothing came twice.
    await carol.send('welcome back');
    expect(await erinAgain.nextLine()).toBe(`@${seen + 3} ${lineFrom(carol, 'welcome back')}`);
    // The old token is used up, on every node.
    await mallory.send(`/resume ${token} @${seen}`);
    await mallory.expectLine(lineFrom(carol, 'welcome back'));
    expect(await mallory.nextLine()).toMatch(/^error: cannot resume: that token is unknown, used/);
  });

  it('holds the sessions of a node stopped with SIGTERM, so that its clients resume on another node (a rolling restart)', async () => {
    const f = await startNode(redis);
    started.push(f);
    const bob = await join(b, []);
    const frank = await join(f, [bob]);
    await rename(frank, 'frank', [bob, frank]);
    await frank.send('/token');
    const token = new RegExp(`^token (${TOKEN}) @(\\d+)$`).exec(await frank.nextLine())!;
    const stopped = f.process.stop();
    await frank.expectLine('error: server shutting down; goodbye');
    await frank.expectClosed();
    await bob.expectLine(lineFrom(frank, 'login out'));
    await stopped;
    const frankAgain = await join(b, [bob]);
    await frankAgain.send(`/resume ${token[1]} ${token[2]}`);
    await frankAgain.expectLine('resume: 0 entries you missed');
    frankAgain.name = 'frank';
    await frankAgain.expectLine(lineFrom(frankAgain, 'login'));
    expect(await frankAgain.nextLine()).toMatch(new RegExp(`^resumed ${TOKEN} @${token[2]}$`));
    await bob.expectLine(lineFrom(frankAgain, 'login'));
  });

  it('resumes over a WebSocket handshake on another node after a drop: what it missed first, then its login under its name', async () => {
    const bob = await join(b, []);
    const carol = await join(c, [bob]);
    await rename(carol, 'carol', [bob, carol]);
    await carol.send('/token');
    const token = new RegExp(`^token (${TOKEN}) @(\\d+)$`).exec(await carol.nextLine())!;
    const seen = Number(token[2]);
    carol.destroy();
    await bob.expectLine(lineFrom(carol, 'login out'));
    await bob.send('while you were away');
    await bob.expectLine(lineFrom(bob, 'while you were away'));
    const { client: web } = await connectWebSocket(`ws://127.0.0.1:${b.process.webPort}/ws?resume=${token[1]}&position=${seen}`);
    await web.expectLine('resume: 1 entry you missed');
    expect(await web.nextLine()).toMatch(historyLine(seen + 1, lineFrom(bob, 'while you were away')));
    web.name = 'carol';
    await web.expectLines(lineFrom(web, 'login'), lineFrom(web, 'I am here'));
    expect(await web.nextLine()).toMatch(new RegExp(`^resumed ${TOKEN} @${seen + 1}$`));
    await bob.expectLine(lineFrom(web, 'login'));
  });
});
