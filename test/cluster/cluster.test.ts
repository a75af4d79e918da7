// Three chatd nodes and one real redis-server (docs/CLUSTER.md): clients on different nodes are
// in one chat, with one global order, unique names across the cluster, and a node that dies is
// noticed by the others. Each client below is on the node its name says: alice on A, bob on B…

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { disconnectAll, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { join, rename, startNode, waitForWho, type Node } from '../helpers/cluster-nodes.ts';
import { hasRedisServer, startRedis, stopAllRedis, type TestRedis } from '../helpers/redis-server.ts';
import { stopAllChatd } from '../helpers/start-server.ts';

describe.skipIf(!hasRedisServer())('three chatd nodes sharing one Redis', () => {
  let redis: TestRedis;
  let a: Node;
  let b: Node;
  let c: Node;

  beforeAll(async () => {
    redis = await startRedis();
    [a, b, c] = await Promise.all([startNode(redis), startNode(redis), startNode(redis)]);
  });
  afterEach(async () => {
    await disconnectAll();
    // Every node must have seen every leave before the next test's logins.
    await waitForWho([a, b, c], []);
  });
  afterAll(async () => {
    await stopAllChatd();
    await stopAllRedis();
  });

  it('tells everyone on every node of a login, and delivers each line to all of them', async () => {
    const alice = await join(a, []);
    const bob = await join(b, [alice]);
    const carol = await join(c, [alice, bob]);
    await bob.send('hello from B');
    for (const client of [alice, bob, carol]) await client.expectLine(lineFrom(bob, 'hello from B'));
  });

  it('carries a rename, who, /msg and a quit across nodes', async () => {
    const alice = await join(a, []);
    const bob = await join(b, [alice]);
    const carol = await join(c, [alice, bob]);
    await rename(alice, 'alice', [alice, bob, carol]);
    await rename(bob, 'bob', [alice, bob, carol]);

    await carol.send('who');
    await carol.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:bob`, `${carol.addr}:${carol.addr}`);

    await carol.send('/msg ALICE psst');
    await alice.expectLine(`[${carol.addr}]${carol.name} (private):psst`);
    await carol.expectLine('msg ok');
    await bob.expectNoLine(200);

    await bob.send('/quit');
    await bob.expectClosed();
    await alice.expectLine(lineFrom(bob, 'login out'));
    await carol.expectLine(lineFrom(bob, 'login out'));
    // Its name is free again, on another node.
    await rename(carol, 'Bob', [alice, carol]);
  });

  it('carries out every line of a client that half-closed, answers it, and then closes it (#11)', async () => {
    // Before the room core, a cluster node forgot a half-closed client at once and never closed it.
    const alice = await join(a, []);
    const bob = await join(b, [alice]);
    void bob.write('one\nrename|robert\ntwo\n');
    bob.end();
    await bob.expectLines(lineFrom(bob, 'one'), 'rename ok', `[${bob.addr}]robert:two`);
    await bob.expectClosed();
    await alice.expectLines(
      lineFrom(bob, 'one'),
      `[${bob.addr}]${bob.name}:renamed to robert`,
      `[${bob.addr}]robert:two`,
      `[${bob.addr}]robert:login out`,
    );
  });

  it('refuses a name held on another node, ignoring case', async () => {
    const alice = await join(a, []);
    const bob = await join(b, [alice]);
    await rename(alice, 'alice', [alice, bob]);
    await bob.send('rename|ALICE');
    await bob.expectLine('error: the name ALICE is taken; pick another');
    await alice.expectNoLine(200);
  });

  it('gives a name claimed at once from two nodes to exactly one of them', async () => {
    const alice = await join(a, []);
    const bob = await join(b, [alice]);
    for (let round = 0; round < 20; round++) {
      const name = `prize${round}`;
      await Promise.all([alice.send(`rename|${name}`), bob.send(`rename|${name}`)]);
      const [first, second] = await Promise.all([alice.nextLine(), bob.nextLine()]);
      // The winner hears `rename ok`; the loser, whose claim came second in the one order, sees
      // the winner's rename first, then its own refusal.
      expect([first, second].filter((line) => line === 'rename ok'), `${first} | ${second}`).toHaveLength(1);
      const [winner, loser] = first === 'rename ok' ? [alice, bob] : [bob, alice];
      const oldName = winner.name;
      winner.name = name;
      expect(first === 'rename ok' ? second : first).toBe(`[${winner.addr}]${oldName}:renamed to ${name}`);
      await loser.expectLine(`error: the name ${name} is taken; pick another`);
    }
  });

  it('shows every client on every node one and the same order of lines from many senders', async () => {
    const clients: ChatClient[] = [];
    for (const node of [a, b, c, a, b, c]) clients.push(await join(node, clients));
    const LINES = 40;
    await Promise.all(
      clients.map(async (client, s) => {
        for (let n = 0; n < LINES; n += 4) {
          await client.write([0, 1, 2, 3].map((i) => `s${s} n${n + i}\n`).join(''));
          await new Promise((resolve) => setImmediate(resolve));
        }
      }),
    );
    const total = clients.length * LINES;
    const received = await Promise.all(
      clients.map(async (client) => {
        const lines: string[] = [];
        for (let i = 0; i < total; i++) lines.push(await client.nextLine(10_000));
        return lines;
      }),
    );
    for (const lines of received) expect(lines).toEqual(received[0]);
    clients.forEach((sender, s) => {
      const own = received[0]!.filter((line) => line.startsWith(`[${sender.addr}]`));
      expect(own).toEqual(Array.from({ length: LINES }, (_, n) => lineFrom(sender, `s${s} n${n}`)));
    });
  });

  it('takes back a node that stalled past its heartbeat: its clients leave for the others, then return', async () => {
    const e = await startNode(redis);
    const alice = await join(a, []);
    const erin = await join(e, [alice]);
    await rename(erin, 'erin', [alice, erin]);
    // A stalled process (a long pause, an overloaded host) stops beating; the others give it up.
    e.process.signal('SIGSTOP');
    try {
      await alice.expectLine(lineFrom(erin, 'login out'), 10_000);
    } finally {
      e.process.signal('SIGCONT');
    }
    // Back, it finds itself given up and registers its clients again, under their names.
    await alice.expectLine(lineFrom(erin, 'login'), 10_000);
    await waitForWho([a, e], [`${alice.addr}:${alice.name}`, `${erin.addr}:erin`]);
    await erin.send('still here');
    await alice.expectLine(lineFrom(erin, 'still here'));
    // On her own node she never left: no `login out`, no second `login`.
    await erin.expectLine(lineFrom(erin, 'still here'));
    // #10: the time it did not run is not blamed on Redis, whose answers waited unread.
    expect(e.process.logs.filter((record) => record['event'] === 'cluster-link-down')).toEqual([]);
    await e.process.stop();
    await alice.expectLine(lineFrom(erin, 'login out'));
  });

  it('announces the clients of a node killed with SIGKILL as gone, and frees their names', async () => {
    const d = await startNode(redis);
    const alice = await join(a, []);
    const dave = await join(d, [alice]);
    await rename(dave, 'dave', [alice, dave]);
    const killedAt = Date.now();
    d.process.signal('SIGKILL');
    await alice.expectLine(lineFrom(dave, 'login out'), 10_000);
    const noticedAfter = Date.now() - killedAt;
    expect(noticedAfter).toBeLessThan(8000);
    await rename(alice, 'dave', [alice]);
    // A node started again is a new node: nothing of the old one comes back.
    const again = await startNode(redis);
    const probe = await join(again, [alice]);
    await probe.send('who');
    await probe.expectLines('user list:', `${alice.addr}:dave`, `${probe.addr}:${probe.addr}`);
  });
});
