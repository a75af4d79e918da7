// A cluster when things go wrong (docs/CLUSTER.md §8): Redis missing at start, Redis stopped and
// started again mid-chat, and a client that idles on one node while the others watch.

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { disconnectAll, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { join, startNode, waitForWho, type Node } from '../helpers/cluster-nodes.ts';
import { hasRedisServer, startRedis, stopAllRedis } from '../helpers/redis-server.ts';
import { runChatdToExit, stopAllChatd } from '../helpers/start-server.ts';

const LINK_DOWN = '*** the link to the other chat servers is down; until it is back, your lines reach only the people on this server';
const LINK_UP = '*** the link to the other chat servers is back';

afterEach(() => disconnectAll());
afterAll(async () => {
  await stopAllChatd();
  await stopAllRedis();
});

describe('chatd --redis without a Redis', () => {
  it('exits 1 with one line that names the Redis it could not reach', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const run = await runChatdToExit(['--port', '0', '--redis', 'redis://127.0.0.1:1']);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^chatd: cannot reach Redis at redis:\/\/127\.0\.0\.1:1 .*is redis-server running there\?$/);
  });

  it.skipIf(!hasRedisServer())('exits 1 with one line when Redis wants a password chatd was not given', async () => {
    const redis = await startRedis(['--requirepass', 'sesame']);
    const run = await runChatdToExit(['--port', '0', '--redis', redis.url]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^chatd: Redis at redis:\/\/127\.0\.0\.1:\d+ refused chatd's credentials \(NOAUTH.*\); put them in the URL: redis:\/\/USER:PASSWORD@HOST:PORT$/),
    ]);
    const ok = await startNode({ ...redis, url: `redis://:sesame@127.0.0.1:${redis.port}` });
    await join(ok, []);
  });

  it('refuses a URL that is not redis:// with a usage error', async () => {
    const run = await runChatdToExit(['--port', '0', '--redis', 'http://127.0.0.1:6379']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--redis must be a URL such as redis://127.0.0.1:6379');
  });
});

describe.skipIf(!hasRedisServer())('a cluster whose Redis stops and starts again', () => {
  it('keeps local chat going with a notice, then heals: nothing lost and nothing twice', async () => {
    const redis = await startRedis();
    const [a, b] = await Promise.all([startNode(redis), startNode(redis)]);
    const ann = await join(a, []);
    const art = await join(a, [ann]);
    const bea = await join(b, [ann, art]);
    const everyone = [ann, art, bea];

    // A steady talker on each node, before, during and after the outage.
    let talking = true;
    const said = new Map<ChatClient, string[]>([
      [art, []],
      [bea, []],
    ]);
    const talk = async (client: ChatClient): Promise<void> => {
      for (let n = 0; talking; n++) {
        const text = `${client === art ? 'art' : 'bea'} ${n}`;
        said.get(client)!.push(text);
        await client.send(text);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    };
    const talkers = [talk(art), talk(bea)];
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.stop();
    for (const client of everyone) await client.waitForLine((line) => line === LINK_DOWN, 5000);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await redis.restart();
    for (const client of everyone) await client.waitForLine((line) => line === LINK_UP, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    talking = false;
    await Promise.all(talkers);
    // A last line from each talker marks the end of what everyone must have.
    for (const talker of [art, bea]) {
      await talker.send('the end');
      for (const client of everyone) await client.waitForLine((line) => line === lineFrom(talker, 'the end'), 10_000);
    }

    const heard = new Map(everyone.map((client) => [client, client.rawLines.map((raw) => raw.replace(/\r\n$/, ''))]));
    for (const [talker, lines] of said) {
      for (const listener of everyone) {
        const prefix = lineFrom(talker, '');
        const texts = heard
          .get(listener)!
          .filter((line) => line.startsWith(prefix))
          .map((line) => line.slice(prefix.length))
          .filter((text) => /^(art|bea) \d+$/.test(text));
        // Nothing twice, and in the order said.
        expect(new Set(texts).size, `${listener.label} hears ${talker.label} twice`).toBe(texts.length);
        expect(texts, `${listener.label} hears ${talker.label} out of order`).toEqual(lines.filter((text) => texts.includes(text)));
        const sameNode = (talker === bea) === (listener === bea);
        if (sameNode) {
          // On the talker's own node nothing is lost, outage or not.
          expect(texts, `${listener.label} from ${talker.label}`).toEqual(lines);
        } else {
          // Across nodes, what was said while the link was down stays on its node; all else arrives.
          const before = lines.slice(0, 10);
          const after = lines.slice(-10);
          expect(texts.slice(0, 10), `${listener.label} from ${talker.label}, before the outage`).toEqual(before);
          expect(texts.slice(-10), `${listener.label} from ${talker.label}, after it`).toEqual(after);
        }
      }
    }
    // Presence healed: every node lists the three, in order of arrival.
    await waitForWho([a, b], everyone.map((client) => `${client.addr}:${client.addr}`));
  });
});

describe.skipIf(!hasRedisServer())('a node whose link to Redis is down', () => {
  it('refuses renames and /msg to other nodes with a clear error, delivers /msg on its own node, and says so in /metrics', async () => {
    const redis = await startRedis();
    const [a, b] = await Promise.all([startNode(redis), startNode(redis)]);
    const ann = await join(a, []);
    const art = await join(a, [ann]);
    const bea = await join(b, [ann, art]);
    const linkUp = async (node: Node): Promise<string | undefined> => {
      const text = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
      return /^chatd_cluster_link_up (\d)$/m.exec(text)?.[1];
    };
    expect(await linkUp(a)).toBe('1');

    await redis.stop();
    for (const client of [ann, art, bea]) await client.expectLine(LINK_DOWN, 5000);
    expect(await linkUp(a)).toBe('0');
    const unavailable = 'error: this server has lost its link to the other chat servers; try again in a moment';
    await ann.send('rename|ann');
    await ann.expectLine(unavailable);
    await ann.send(`/msg ${bea.name} hi`);
    await ann.expectLine(unavailable);
    await ann.send(`/msg ${art.name} psst`);
    await art.expectLine(`[${ann.addr}]${ann.name} (private):psst`);
    await ann.expectLine('msg ok');
    await ann.send('who');
    await ann.expectLines('user list:', ...[ann, art, bea].map((client) => `${client.addr}:${client.name}`));

    await redis.restart();
    for (const client of [ann, art, bea]) await client.expectLine(LINK_UP, 10_000);
    expect(await linkUp(a)).toBe('1');
    await ann.send('rename|ann');
    await ann.expectLine('rename ok');
    await bea.expectLine(`[${ann.addr}]${ann.addr}:renamed to ann`);
  });
});

describe.skipIf(!hasRedisServer())('an idle client in a cluster', () => {
  it('is timed out by its own node, and everyone on the others is told', async () => {
    const redis = await startRedis();
    const [a, b] = await Promise.all([startNode(redis, ['--idle-timeout', '2']), startNode(redis, ['--idle-timeout', '2'])]);
    const idler = await join(a, []);
    const watcher = await join(b, [idler]);
    const started = Date.now();
    // The watcher stays active; the idler says nothing.
    const keepAlive = setInterval(() => void watcher.send(''), 500);
    try {
      await watcher.expectLine(lineFrom(idler, 'time out leave out'), 5000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      await idler.expectLine('error: no line from you for 2 s; disconnected (send any line to stay)');
      await idler.expectClosed();
    } finally {
      clearInterval(keepAlive);
    }
    await waitForWho([a, b], [`${watcher.addr}:${watcher.addr}`]);
  });
});
