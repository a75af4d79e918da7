// Resume soak (issue #13): 1 000 forced drops of random clients in the middle of heavy chat, each
// client coming back at once with its token, half of them in the WebSocket handshake
// (PROTOCOL.md §10.5) and half with a `/resume` line over TCP (§10.4); once on one chatd, once on
// three chatd nodes sharing a Redis, where each resume goes to a random node and one node is
// killed with SIGKILL halfway, its clients coming back on the others (CLUSTER.md §9). Every chat
// line carries a fingerprint; an observer that never drops records the one global order
// (fingerprint by position). At the end every resuming client must have received every line from
// its first token on exactly once: none lost, none twice, each under the position the observer
// saw it at, and, over the WebSocket path, in the global order as it arrived. A seeded generator
// chooses who drops, how and where (SOAK_SEED=N replays the choices, not the timing). Bounded: the
// drops end after MAX_DROP_SECONDS even if fewer than 1 000 were made, which fails the test.

import { connect as connectSocket, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chooseSeed, SeededRandom } from '../helpers/seeded-random.ts';
import { startNode, type Node } from '../helpers/cluster-nodes.ts';
import { hasRedisServer, startRedis, stopAllRedis } from '../helpers/redis-server.ts';
import { stopAllChatd, type ChatdProcess } from '../helpers/start-server.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const SEED = chooseSeed('SOAK_SEED');
const DROPS = 1000;
const RESUMERS = 24;
const SENDERS = 4;
/** Each sender's pause between lines: as fast as a 1 ms timer lets it (1 500 to 2 000 lines a second in all, in the runs so far). */
const SEND_EVERY_MS = 1;
/** Drops in flight at once: a reconnect storm, not one drop at a time. */
const CONCURRENT_DROPS = 6;
const MAX_DROP_SECONDS = 90;
/** Tries of one resume: a node killed under it sends the client to another. */
const RESUME_TRIES = 5;

/** Where a client can connect: one chatd, or one node of a cluster. */
interface Target {
  readonly port: number;
  readonly webPort: number;
  readonly isAlive: () => boolean;
}

/** A chat line's text is the end of its line (§5.1), after the name's colon. */
const FINGERPRINT = /^\[.*:(fp \d+ \d+)$/;
const POSITIONED = /^@(\d+) (.*)$/;
const HISTORY = /^history @(\d+) \S+ (.*)$/;
const RESUMED = /^resumed (\S+) @(\d+)$/;
const TOKEN = /^token (\S+) @(\d+)$/;

/** One line-protocol connection, TCP or WebSocket, handing each server line to `onLine`. */
interface Wire {
  send(line: string): void;
  destroy(): void;
}

function tcpWire(port: number, onLine: (line: string) => void, onClose: () => void = () => {}): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connectSocket({ port, host: '127.0.0.1' }, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve({ send: (line) => socket.write(`${line}\n`), destroy: () => socket.destroy() });
    });
    socket.once('error', reject);
    let partial = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\r\n');
      partial = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    socket.on('close', onClose);
  });
}

function webSocketWire(url: string, onLine: (line: string) => void, onClose: () => void = () => {}): Promise<Wire> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('error', reject);
    socket.on('open', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve({ send: (line) => socket.send(line), destroy: () => socket.terminate() });
    });
    // A message holds whole lines (§9.2).
    socket.on('message', (data: Buffer) => {
      for (const line of data.toString('utf8').split('\r\n').slice(0, -1)) onLine(line);
    });
    socket.on('close', onClose);
  });
}

/** What one resuming client received: each fingerprint and where it stood when it came. */
interface Receipt {
  readonly fingerprint: string;
  /** The position the line carried (positioned or history line), or null for a plain live line. */
  readonly position: number | null;
  /** Which connection of this client's it came on, and by which path. */
  readonly connection: number;
  readonly path: 'live' | 'ws' | 'tcp';
}

class Resumer {
  readonly name: string;
  readonly receipts: Receipt[] = [];
  token = '';
  /** The position of the last history entry it has (PROTOCOL.md §10.3). */
  position = 0;
  /** The position of its first token: every entry after it must reach it. */
  firstPosition = -1;
  connections = 0;
  resumes = 0;
  #wire: Wire | null = null;
  /** 'tcp' from a drop until its `/resume` is answered: those lines may come out of order (§10.4). */
  #path: Receipt['path'] = 'live';
  #waiters: { readonly test: (line: string) => boolean; readonly resolve: (line: string) => void }[] = [];
  /** Where it connects first, and where each resume goes. */
  readonly #start: Target;
  readonly #pick: () => Target;
  /** Where its connection is now. */
  #target: Target;

  constructor(name: string, start: Target, pick: () => Target = () => start) {
    this.name = name;
    this.#start = start;
    this.#pick = pick;
    this.#target = start;
  }

  async start(): Promise<void> {
    this.#wire = await tcpWire(this.#start.port, (line) => this.#onLine(line, 1));
    this.connections = 1;
    this.#wire.send(`rename|${this.name}`);
    await this.#until((line) => line === 'rename ok');
    this.#wire.send('/token');
    await this.#until((line) => TOKEN.test(line));
  }

  /**
   * Drops the connection and comes back at once, by the given path, on a node `pick` chooses;
   * resolves once resumed. A node that dies under it (connect refused, or closed before the
   * `resumed` line) sends it to another, as a real client's retry would.
   */
  async dropAndResume(path: 'ws' | 'tcp'): Promise<void> {
    this.#wire?.destroy();
    this.#path = path;
    for (let attempt = 1; ; attempt++) {
      const target = this.#pick();
      const connection = ++this.connections;
      const onLine = (line: string): void => this.#onLine(line, connection);
      let onClose: () => void = () => {};
      const closed = new Promise<'closed'>((resolve) => (onClose = () => resolve('closed')));
      const resumed = this.#until((line) => RESUMED.test(line));
      const named = this.#until((line) => line.endsWith(`]${this.name}:login`));
      // A refusal fails this test at once, with the server's words, rather than after a wait.
      const refused = this.#until((line) => line.startsWith('error: cannot resume') || line.startsWith('error: this server'));
      let outcome: 'resumed' | 'closed' | { readonly refusal: string };
      try {
        if (path === 'ws') {
          const query = `?resume=${encodeURIComponent(this.token)}&position=${this.position}`;
          this.#wire = await webSocketWire(`ws://127.0.0.1:${target.webPort}/ws${query}`, onLine, onClose);
        } else {
          this.#wire = await tcpWire(target.port, onLine, onClose);
          this.#wire.send(`/resume ${this.token} ${this.position}`);
        }
        outcome = await Promise.race([
          Promise.all([resumed, named]).then(() => 'resumed' as const),
          closed,
          refused.then((refusal) => ({ refusal })),
        ]);
      } catch {
        outcome = 'closed'; // refused at connect: the node is gone
      }
      // The lines not come yet will never come on this connection: their waits end quietly.
      for (const wait of [resumed, named, refused]) wait.catch(() => {});
      if (outcome === 'resumed') {
        this.#target = target;
        break;
      }
      if (outcome !== 'closed') throw new Error(`${this.name}: ${outcome.refusal}`);
      // A killed node takes a moment to be seen as exited; a node that lives and failed is a bug.
      await sleep(100);
      if (attempt === RESUME_TRIES || target.isAlive()) throw new Error(`${this.name}: resume ${attempt} failed on a live node`);
    }
    this.resumes++;
  }

  /** Whether its connection is to this target (for the node that is killed). */
  isOn(target: Target): boolean {
    return this.#target === target;
  }

  /** Resolves once it has the entry at `position`. */
  async caughtUp(position: number): Promise<void> {
    if (this.position >= position) return;
    await this.#until(() => this.position >= position);
  }

  close(): void {
    this.#wire?.destroy();
  }

  #onLine(line: string, connection: number): void {
    // Lines of a connection this client has dropped may still be in the pipe: it never read them.
    if (connection !== this.connections) return;
    let match = POSITIONED.exec(line) ?? HISTORY.exec(line);
    if (match !== null) {
      const position = Number(match[1]);
      const fingerprint = FINGERPRINT.exec(match[2]!)?.[1];
      if (fingerprint !== undefined) this.receipts.push({ fingerprint, position, connection, path: this.#path });
      this.position = Math.max(this.position, position);
    } else if ((match = RESUMED.exec(line) ?? TOKEN.exec(line)) !== null) {
      this.#path = 'live';
      this.token = match[1]!;
      this.position = Number(match[2]);
      if (this.firstPosition === -1) this.firstPosition = this.position;
    } else if (line.startsWith('resume: ') && line.includes('no longer kept')) {
      throw new Error(`${this.name}: ${line}`);
    } else {
      const fingerprint = FINGERPRINT.exec(line)?.[1];
      // Over TCP, lines said between the connect and the /resume come live without a position.
      if (fingerprint !== undefined && this.firstPosition !== -1) this.receipts.push({ fingerprint, position: null, connection, path: this.#path });
    }
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.test(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  #until(test: (line: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: waited 10 s for a line`)), 10_000);
      this.#waiters.push({ test, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }
}

interface SoakPlan {
  /** Where the observer, the senders and each resumer start. */
  readonly targets: readonly Target[];
  /** Where a resume goes. */
  readonly pick: (random: SeededRandom) => Target;
  /** After this many drops, kill this target's node (SIGKILL): its clients resume elsewhere. */
  readonly kill?: { readonly afterDrops: number; readonly target: Target; readonly node: ChatdProcess };
  readonly label: string;
}

async function runSoak(plan: SoakPlan): Promise<void> {
  console.log(`resume soak (${plan.label}): SOAK_SEED=${SEED}`);
  const random = new SeededRandom(SEED);
  const [home] = plan.targets;
  // The observer: never drops, has a token, so every line reaches it with its position.
  const observer = new Resumer('observer', home!);
  await observer.start();
  const resumers = Array.from(
    { length: RESUMERS },
    (_, index) => new Resumer(`r${index}`, plan.targets[index % plan.targets.length]!, () => plan.pick(random)),
  );
  for (const resumer of resumers) await resumer.start();

  // The senders stay on the first node, which is never killed.
  const senders = await Promise.all(Array.from({ length: SENDERS }, () => tcpWire(home!.port, () => {})));
  let isChatting = true;
  const said = Array.from({ length: SENDERS }, () => 0);
  const chat = Promise.all(
    senders.map(async (sender, index) => {
      while (isChatting) {
        sender.send(`fp ${index} ${said[index]!++}`);
        await sleep(SEND_EVERY_MS);
      }
    }),
  );

  let drops = 0;
  let viaWebSocket = 0;
  let isKilled = false;
  let isKilling = false;
  let orphaned = 0;
  const startedAt = Date.now();
  const busy = new Set<Resumer>();
  const dropOne = async (resumer: Resumer): Promise<void> => {
    busy.add(resumer);
    drops++;
    const path = random.next() < 0.5 ? 'ws' : 'tcp';
    if (path === 'ws') viaWebSocket++;
    await resumer.dropAndResume(path);
    busy.delete(resumer);
  };
  await Promise.all(
    Array.from({ length: CONCURRENT_DROPS }, async () => {
      while (drops < DROPS && Date.now() - startedAt < MAX_DROP_SECONDS * 1000) {
        if (plan.kill !== undefined && !isKilled && drops >= plan.kill.afterDrops) {
          isKilled = true;
          // Not under a resume in flight: one that its node dies in the middle of may have used
          // the token up in Redis before the client heard its new one, and that client is then
          // told it cannot resume (CLUSTER.md §9), which is no loss this test could count.
          isKilling = true;
          while (busy.size > 0) await sleep(5);
          plan.kill.node.kill();
          isKilling = false;
          // Its clients lost their connections with it: each comes back on another node.
          const orphans = resumers.filter((resumer) => resumer.isOn(plan.kill!.target) && !busy.has(resumer));
          orphaned = orphans.length;
          await Promise.all(orphans.map(dropOne));
          continue;
        }
        const free = resumers.filter((resumer) => !busy.has(resumer));
        if (free.length === 0 || isKilling) {
          await sleep(5);
          continue;
        }
        const resumer = free[random.int(0, free.length - 1)]!;
        // Let it read a little first, so that drops fall anywhere in the stream.
        await sleep(random.int(0, 15));
        if (busy.has(resumer)) continue;
        await dropOne(resumer);
      }
    }),
  );
  const dropSeconds = (Date.now() - startedAt) / 1000;
  isChatting = false;
  await chat;
  // A last line, then everyone must reach it.
  senders[0]!.send('fp 9 0');
  await sleep(200);
  const last = observer.position;
  await Promise.all([observer, ...resumers].map((resumer) => resumer.caughtUp(last)));

  // The global order, as the observer received it: position -> fingerprint.
  const order = new Map<number, string>();
  for (const { fingerprint, position } of observer.receipts) order.set(position!, fingerprint);
  const positionOf = new Map([...order].map(([position, fingerprint]) => [fingerprint, position]));
  const linesSaid = said.reduce((sum, count) => sum + count, 0) + 1;
  expect(order.size, 'the observer saw every line said').toBe(linesSaid);
  const positions = [...order.keys()];
  expect(Math.max(...positions) - Math.min(...positions) + 1, 'positions without a gap').toBe(order.size);

  let lost = 0;
  let duplicated = 0;
  let misplaced = 0;
  let outOfOrder = 0;
  for (const resumer of resumers) {
    const got = new Map<number, number>();
    let previous = 0;
    for (const receipt of resumer.receipts) {
      const position = positionOf.get(receipt.fingerprint);
      if (position === undefined || (receipt.position !== null && receipt.position !== position)) {
        misplaced++;
        continue;
      }
      got.set(position, (got.get(position) ?? 0) + 1);
      // Over a WebSocket resume, and once any resume is answered, lines arrive in the global order.
      if (receipt.path !== 'tcp' && position < previous) outOfOrder++;
      previous = Math.max(previous, position);
    }
    for (const position of positions) {
      if (position <= resumer.firstPosition) continue;
      const count = got.get(position) ?? 0;
      if (count === 0) lost++;
      if (count > 1) duplicated += count - 1;
    }
  }
  const resumes = resumers.reduce((sum, resumer) => sum + resumer.resumes, 0);
  console.log(
    `resume soak (${plan.label}): ${drops} drops (${viaWebSocket} by WebSocket, ${drops - viaWebSocket} by /resume) in ${dropSeconds.toFixed(1)} s ` +
      `among ${RESUMERS} clients while ${linesSaid} lines were said` +
      `${isKilled ? `, one node killed under ${orphaned} of them` : ''}; ${resumes} resumed; ` +
      `${lost} lost, ${duplicated} duplicated, ${misplaced} misplaced, ${outOfOrder} out of order`,
  );
  expect(drops, `${DROPS} drops within ${MAX_DROP_SECONDS} s`).toBeGreaterThanOrEqual(DROPS);
  expect(resumes).toBe(drops);
  if (plan.kill !== undefined) expect({ isKilled, orphaned: orphaned > 0 }).toEqual({ isKilled: true, orphaned: true });
  expect({ lost, duplicated, misplaced, outOfOrder }).toEqual({ lost: 0, duplicated: 0, misplaced: 0, outOfOrder: 0 });
  for (const resumer of [observer, ...resumers]) resumer.close();
  for (const sender of senders) sender.destroy();
}

/** A node of a test cluster has --rate-limit 0 and --max-per-ip 0 already (test/helpers/cluster-nodes.ts). */
const NODE_ARGS = ['--web-port', '0', '--history-size', '100000', '--idle-timeout', '600'];
const SOAK_ARGS = [...NODE_ARGS, '--rate-limit', '0', '--max-per-ip', '0'];

describe('resume soak on one chatd', () => {
  const server = useChatd(SOAK_ARGS);

  it(
    `${DROPS} forced drops in heavy chat: every resuming client gets every line once, in order`,
    async () => {
      const target: Target = { port: server().port, webPort: server().webPort!, isAlive: () => true };
      await runSoak({ label: 'one chatd', targets: [target], pick: () => target });
    },
    (MAX_DROP_SECONDS + 60) * 1000,
  );
});

describe.skipIf(!hasRedisServer())('resume soak on three chatd nodes, one killed', () => {
  it(
    `${DROPS} forced drops across the nodes and a node killed with SIGKILL: every resuming client gets every line once, in order`,
    async () => {
      const redis = await startRedis();
      try {
        const nodes: Node[] = await Promise.all([0, 1, 2].map(() => startNode(redis, NODE_ARGS)));
        const targets: Target[] = nodes.map((node) => ({ port: node.port, webPort: node.process.webPort!, isAlive: () => !node.process.hasExited }));
        const doomed = targets[2]!;
        await runSoak({
          label: 'three nodes',
          targets,
          pick: (random) => {
            const alive = targets.filter((target) => target.isAlive());
            return alive[random.int(0, alive.length - 1)]!;
          },
          kill: { afterDrops: DROPS / 2, target: doomed, node: nodes[2]!.process },
        });
      } finally {
        await stopAllChatd();
        await stopAllRedis();
      }
    },
    (MAX_DROP_SECONDS + 90) * 1000,
  );
});
