// chat-bench's --max ramp (issue #5's W4) and its servers that fail: a ramp reports every step's
// offered load and figures and takes the most deliveries/s that held; a server that never greets,
// or that drops its clients, ends the run with a report instead of hanging it. The servers live
// here, in the test, speaking the seed's wire format.

import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runBench, type BenchOptions, type BenchResult } from '../../bench/chat-bench.ts';

type Behaviour =
  /** Broadcasts every line, but holds each for 150 ms while more than 200 lines a second come in. */
  | 'slow-past-200-lines-a-second'
  /** Accepts connections and never says a word. */
  | 'never-greets'
  /** Greets everyone, then closes every connection once the third client is in: a server that died. */
  | 'drops-everyone'
  /** Greets two clients, then closes each new connection before greeting it. */
  | 'full-after-two';

const SLOW_LINES_PER_SECOND = 200;
const SLOW_DELAY_MS = 150;

async function startServer(behaviour: Behaviour): Promise<Server> {
  const clients: Socket[] = [];
  const arrivals: number[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    if (behaviour === 'never-greets') return;
    if (behaviour === 'full-after-two' && clients.length === 2) return void socket.destroy();
    const addr = `${socket.remoteAddress}:${socket.remotePort}`;
    clients.push(socket);
    socket.write(`[${addr}]${addr}:I am here\n`);
    if (behaviour === 'drops-everyone' && clients.length === 3) {
      setTimeout(() => clients.forEach((client) => client.destroy()), 50);
      return;
    }
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let lf: number;
      while ((lf = buffered.indexOf('\n')) !== -1) {
        const line = `[${addr}]${addr}:${buffered.slice(0, lf)}\n`;
        buffered = buffered.slice(lf + 1);
        const now = performance.now();
        arrivals.push(now);
        while (arrivals[0]! < now - 1000) arrivals.shift();
        const deliver = (): void => clients.forEach((client) => client.destroyed || client.write(line));
        if (arrivals.length > SLOW_LINES_PER_SECOND) setTimeout(deliver, SLOW_DELAY_MS);
        else deliver();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function benchAgainst(behaviour: Behaviour, overrides: Partial<BenchOptions>): Promise<BenchResult> {
  server = await startServer(behaviour);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return runBench({
    host: '127.0.0.1',
    ports: [address.port],
    protocol: 'chatd',
    transport: 'tcp',
    spawn: null,
    workers: 1,
    seedBinary: '',
    serverPids: [],
    clients: 4,
    senders: 2,
    rate: 20,
    duration: 1,
    payload: 64,
    ramp: 1000,
    threads: 1,
    max: false,
    p99BoundMs: 100,
    drainTimeoutMs: 1000,
    connectTimeoutMs: 10_000,
    ...overrides,
  });
}

describe('chat-bench --max', () => {
  it('ramps until two steps in a row miss the p99 bound, and reports the most deliveries/s that held', async () => {
    // 2 senders × 20, 60, 180, 540 lines a second: the server turns slow past 200 (wide margins
    // both ways, so that a stalled, then catching-up sender on a busy machine changes nothing).
    const result = await benchAgainst('slow-past-200-lines-a-second', { max: true, stepFactor: 3 });
    expect(result.rounds.map((round) => round.offeredMessagesPerSecond)).toEqual([40, 120, 360, 1080]);
    expect(result.rounds.map((round) => round.offeredDeliveriesPerSecond)).toEqual([160, 480, 1440, 4320]);
    expect(result.rounds.map((round) => round.held)).toEqual([true, true, false, false]);
    for (const round of result.rounds) {
      expect(round.latencyMs.p50).toBeLessThanOrEqual(round.latencyMs.p90);
      expect(round.latencyMs.p99).toBeLessThanOrEqual(round.latencyMs.p999);
      expect(round.isBenchBound).toBe(false);
      expect(round.benchCpuSeconds).toBeGreaterThan(0);
    }
    expect(result.headline).toBe(result.rounds[1]);
    expect(result.rampEnd).toBe('p99');
    expect(result.heldClients).toBe(4);
  });
});

describe('chat-bench against a failing server', () => {
  it('ends the run at the connect deadline when the server never greets', async () => {
    const started = performance.now();
    const result = await benchAgainst('never-greets', { connectTimeoutMs: 1000 });
    expect(performance.now() - started).toBeLessThan(8000);
    expect(result.connect).toMatchObject({ clients: 4, greeted: 0, seconds: 0 });
    expect(result.rounds).toEqual([]);
    expect(result.headline).toBeNull();
  });

  it('ends the connect phase when the clients not greeted were closed, counting them refused', async () => {
    const started = performance.now();
    const result = await benchAgainst('full-after-two', { connectTimeoutMs: 30_000 });
    expect(performance.now() - started).toBeLessThan(8000);
    expect(result.connect).toMatchObject({ clients: 4, greeted: 2, refused: 2 });
    expect(result.rounds).toEqual([]);
  });

  it('reports the clients a server dropped, and runs no load without them', async () => {
    const result = await benchAgainst('drops-everyone', { clients: 3, max: true });
    expect(result.connect.greeted).toBe(3);
    expect(result.heldClients).toBe(0);
    expect(result.rounds).toEqual([]);
  });
});
