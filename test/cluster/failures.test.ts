// A cluster when things go wrong (docs/CLUSTER.md §8): Redis missing or mute at start, Redis
// stopped and started again mid-chat, Redis frozen (SIGSTOP) for less and for more than the stall
// bound, and a client that idles on one node while the others watch.

import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { disconnectAll, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { join, startNode, waitForWho, whoOn, type Node } from '../helpers/cluster-nodes.ts';
import { hasRedisServer, startRedis, stopAllRedis, type TestRedis } from '../helpers/redis-server.ts';
import { runChatdToExit, stopAllChatd } from '../helpers/start-server.ts';

const LINK_DOWN = '*** the link to the other chat servers is down; until it is back, your lines reach only the people on this server';
const LINK_UP = '*** the link to the other chat servers is back';
/** CLUSTER.md §1: start-up gives up on a Redis that does not answer after this long. */
const CONNECT_BOUND_MS = 3000;
/** CLUSTER.md §6: a Redis that stops answering is noticed within this long. */
const STALL_BOUND_MS = 3250;
/** Shorter than a command's 2 s allowance: a hang that nobody may notice. */
const SHORT_HANG_MS = 1000;
/** Longer than the node TTL (4 s): each node is given up by Redis's clock, and comes back. */
const LONG_HANG_MS = 8000;

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

  it(`exits 1 with one line within ${CONNECT_BOUND_MS} ms when the Redis port takes the connection and never answers`, async () => {
    // A hung Redis (SIGSTOP, a stalled VM) or something that is not a Redis: the kernel accepts,
    // nothing ever answers.
    const sockets = new Set<Socket>();
    let firstConnectionAt: number | undefined;
    const mute = createServer((socket) => {
      firstConnectionAt ??= Date.now();
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => mute.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const { port } = mute.address() as AddressInfo;
    try {
      const run = await runChatdToExit(['--port', '0', '--redis', `redis://127.0.0.1:${port}`], 20_000);
      // Counted from its connection, not from the spawn: starting node takes a second or two on a busy machine.
      const took = Date.now() - (firstConnectionAt ?? Number.NaN);
      console.info(`chatd exited ${took} ms after it connected to a mute Redis`);
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toEqual([
        `chatd: Redis at redis://127.0.0.1:${port} took the connection but did not answer within ${CONNECT_BOUND_MS / 1000} s; is it a Redis server, and is it running (not stopped, not overloaded)?`,
      ]);
      expect(sockets.size, 'connections the mute server took').toBeGreaterThan(0);
      expect(took).toBeGreaterThanOrEqual(CONNECT_BOUND_MS - 500);
      expect(took).toBeLessThan(CONNECT_BOUND_MS + 1000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => mute.close(resolve));
    }
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

/** Two nodes, ann and art on A, bea on B, and a steady talker on each node: art and bea. */
async function startTalkingCluster(redis: TestRedis): Promise<{
  readonly nodes: readonly [Node, Node];
  readonly ann: ChatClient;
  readonly art: ChatClient;
  readonly bea: ChatClient;
  readonly talk: Talk;
}> {
  const [a, b] = await Promise.all([startNode(redis), startNode(redis)]);
  const ann = await join(a, []);
  const art = await join(a, [ann]);
  const bea = await join(b, [ann, art]);
  [ann.label, art.label, bea.label] = ['ann', 'art', 'bea'];
  return { nodes: [a, b], ann, art, bea, talk: startTalking([art, bea]) };
}

interface Talk {
  /** What each talker said, in order. */
  readonly said: ReadonlyMap<ChatClient, readonly string[]>;
  /** Stops talking; then each talker says `the end`, and returns once everyone has heard both. */
  finish(everyone: readonly ChatClient[]): Promise<void>;
}

/** Each talker says `LABEL N` every 15 ms until told to finish. */
function startTalking(talkers: readonly ChatClient[]): Talk {
  let talking = true;
  const said = new Map<ChatClient, string[]>(talkers.map((talker) => [talker, []]));
  const loops = talkers.map(async (talker) => {
    for (let n = 0; talking; n++) {
      const text = `${talker.label} ${n}`;
      said.get(talker)!.push(text);
      await talker.send(text);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  });
  return {
    said,
    async finish(everyone) {
      talking = false;
      await Promise.all(loops);
      // A last line from each talker marks the end of what everyone must have.
      for (const talker of talkers) {
        await talker.send('the end');
        for (const client of everyone) await client.waitForLine((line) => line === lineFrom(talker, 'the end'), 10_000);
      }
    },
  };
}

/** The talkers' lines each listener heard, in the order heard. */
function heardFrom(listener: ChatClient, talker: ChatClient): string[] {
  const prefix = lineFrom(talker, '');
  return listener.rawLines
    .map((raw) => raw.replace(/\r\n$/, ''))
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length))
    .filter((text) => text.startsWith(`${talker.label} `) && /^\S+ \d+$/.test(text));
}

/**
 * CLUSTER.md §6/§8: nothing twice and nothing out of order for anyone; on the talker's own node
 * nothing lost; across nodes, with `outage`, what was said before it and after it arrives (lines
 * said while the link was down stay on their node), and without one, everything.
 */
function expectEveryLineOnce(talk: Talk, everyone: readonly ChatClient[], sameNode: (a: ChatClient, b: ChatClient) => boolean, outage: boolean): void {
  for (const [talker, lines] of talk.said) {
    for (const listener of everyone) {
      const texts = heardFrom(listener, talker);
      expect(new Set(texts).size, `${listener.label} hears ${talker.label} twice`).toBe(texts.length);
      expect(texts, `${listener.label} hears ${talker.label} out of order`).toEqual(lines.filter((text) => texts.includes(text)));
      if (sameNode(talker, listener) || !outage) {
        expect(texts, `${listener.label} from ${talker.label}`).toEqual(lines);
      } else {
        expect(texts.slice(0, 10), `${listener.label} from ${talker.label}, before the outage`).toEqual(lines.slice(0, 10));
        expect(texts.slice(-10), `${listener.label} from ${talker.label}, after it`).toEqual(lines.slice(-10));
      }
    }
  }
}

function countLogs(node: Node, event: string): number {
  return node.process.logs.filter((record) => record['event'] === event).length;
}

describe.skipIf(!hasRedisServer())('a cluster whose Redis stops and starts again', () => {
  it('keeps local chat going with a notice, then heals: nothing lost and nothing twice', async () => {
    const redis = await startRedis();
    const { nodes, ann, art, bea, talk } = await startTalkingCluster(redis);
    const everyone = [ann, art, bea];
    await new Promise((resolve) => setTimeout(resolve, 300));
    await redis.stop();
    for (const client of everyone) await client.waitForLine((line) => line === LINK_DOWN, 5000);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await redis.restart();
    for (const client of everyone) await client.waitForLine((line) => line === LINK_UP, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await talk.finish(everyone);

    expectEveryLineOnce(talk, everyone, (x, y) => (x === bea) === (y === bea), true);
    // Presence healed: every node lists the three, in order of arrival.
    await waitForWho(nodes, everyone.map((client) => `${client.addr}:${client.addr}`));
  });
});

describe.skipIf(!hasRedisServer())('a cluster whose Redis hangs (SIGSTOP) with its connections open', () => {
  it(`shows nothing and loses nothing when the hang is shorter than ${STALL_BOUND_MS} ms`, async () => {
    const redis = await startRedis();
    const { nodes, ann, art, bea, talk } = await startTalkingCluster(redis);
    const everyone = [ann, art, bea];
    await new Promise((resolve) => setTimeout(resolve, 300));
    redis.pause();
    await new Promise((resolve) => setTimeout(resolve, SHORT_HANG_MS));
    redis.resume();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await talk.finish(everyone);

    expectEveryLineOnce(talk, everyone, (x, y) => (x === bea) === (y === bea), false);
    for (const client of everyone) expect(client.rawLines.filter((raw) => raw.startsWith('***')), client.label).toEqual([]);
    for (const node of nodes) expect(countLogs(node, 'cluster-link-down')).toBe(0);
    await waitForWho(nodes, everyone.map((client) => `${client.addr}:${client.addr}`));
  });

  it(`tells everyone within ${STALL_BOUND_MS} ms and chats on per node, then rejoins once and heals`, async () => {
    const redis = await startRedis();
    const { nodes, ann, art, bea, talk } = await startTalkingCluster(redis);
    const everyone = [ann, art, bea];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const frozenAt = Date.now();
    redis.pause();
    try {
      for (const client of everyone) await client.waitForLine((line) => line === LINK_DOWN, STALL_BOUND_MS + 1000);
      const noticedAfter = Date.now() - frozenAt;
      console.info(`the link-down notice came ${noticedAfter} ms after SIGSTOP`);
      expect(noticedAfter).toBeLessThan(STALL_BOUND_MS + 250);
      // Chat goes on between the clients of one node.
      await ann.send('anyone still here?');
      await art.waitForLine((line) => line === lineFrom(ann, 'anyone still here?'), 1000);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, frozenAt + LONG_HANG_MS - Date.now())));
    } finally {
      redis.resume();
    }
    for (const client of everyone) await client.waitForLine((line) => line === LINK_UP, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await talk.finish(everyone);

    expectEveryLineOnce(talk, everyone, (x, y) => (x === bea) === (y === bea), true);
    for (const node of nodes) {
      // #10: not one rejoin per command that was waiting when Redis came back.
      expect(countLogs(node, 'cluster-link-down'), `node on port ${node.port}: link-down`).toBe(1);
      expect(countLogs(node, 'cluster-link-up'), `node on port ${node.port}: link-up`).toBe(1);
      expect(countLogs(node, 'cluster-rejoin'), `node on port ${node.port}: rejoin`).toBeLessThanOrEqual(1);
    }
    // Longer than the node TTL: each node may have given the other up and taken it back (§4), so
    // the order of arrival may have changed, but everybody is listed once, everywhere.
    const expected = everyone.map((client) => `${client.addr}:${client.addr}`).sort();
    await vi.waitFor(async () => {
      for (const node of nodes) expect((await whoOn(node)).sort()).toEqual(expected);
    }, 5000);
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
