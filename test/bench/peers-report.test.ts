import { createHistogram } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { BenchOptions, BenchResult, RampEnd, RoundResult } from '../../bench/chat-bench.ts';
import { markdownTable, summary, type Cell, type PeerWorkload } from '../../bench/peers-report.ts';

const W4: PeerWorkload = { name: 'W4-max', clients: 1000, senders: 10, rate: 2, duration: 3, ramp: 2000, max: true };

const OPTIONS: BenchOptions = {
  host: '127.0.0.1',
  ports: [],
  protocol: 'chatd',
  transport: 'tcp',
  spawn: 'chatd',
  workers: 2,
  seedBinary: '',
  serverPids: [],
  clients: 1000,
  senders: 10,
  rate: 2,
  duration: 3,
  payload: 64,
  ramp: 2000,
  threads: 2,
  max: true,
  p99BoundMs: 100,
  drainTimeoutMs: 5000,
  connectTimeoutMs: 60_000,
};

function step(deliveriesPerSecond: number, p99: number, extra: Partial<RoundResult> = {}): RoundResult {
  return {
    rate: deliveriesPerSecond / 10_000,
    offeredMessagesPerSecond: deliveriesPerSecond / 1000,
    offeredDeliveriesPerSecond: deliveriesPerSecond,
    sentMessagesPerSecond: deliveriesPerSecond / 1000,
    isBenchBound: false,
    sent: (deliveriesPerSecond / 1000) * 3,
    expectedDeliveries: deliveriesPerSecond * 3,
    loadSeconds: 3,
    deliveriesPerSecond,
    latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, p999: p99 * 1.5, max: p99 * 2, mean: p99 / 4 },
    integrity: { received: deliveriesPerSecond * 3, lost: 0, duplicated: 0, late: 0, orderDisagreements: 0 },
    serverCpuSeconds: 1.5,
    benchCpuSeconds: 1.2,
    benchLoopDelayMs: { p99: 20, max: 30 },
    droppedClients: 0,
    held: p99 < 100,
    histogram: createHistogram(),
    ...extra,
  };
}

function result(rounds: RoundResult[], extra: { greeted?: number; exit?: string; rampEnd?: RampEnd | null } = {}): BenchResult {
  const greeted = extra.greeted ?? 1000;
  const held = rounds.filter((round) => round.held);
  return {
    target: { kind: 'chatd', host: '127.0.0.1', port: 1, ports: [1], protocol: 'chatd', transport: 'tcp', workers: 2 },
    options: OPTIONS,
    connect: { clients: 1000, greeted, refused: 1000 - greeted, seconds: 0.7, settleSeconds: 0.2 },
    rounds,
    headline: held.reduce<RoundResult | null>((best, round) => (best === null || round.deliveriesPerSecond > best.deliveriesPerSecond ? round : best), null),
    heldClients: extra.exit === undefined ? greeted : 0,
    rampEnd: extra.rampEnd === undefined ? 'p99' : extra.rampEnd,
    server: { cpuSeconds: 5, peakRssBytes: 100 << 20, rssPerClientBytes: 16 * 1024, exit: extra.exit ?? null },
    benchCpuSeconds: 6,
    errors: [],
  };
}

function row(table: string, server: string): string[] {
  const line = table.split('\n').find((l) => l.startsWith(`| W4-max | ${server} |`));
  if (line === undefined) throw new Error(`no row for ${server} in\n${table}`);
  return line.split('|').slice(1, -1).map((cell) => cell.trim());
}

describe('markdownTable', () => {
  it('gives W4 the median over runs of each run\'s most deliveries/s that held, with server and bench CPU beside it', () => {
    const cells = new Map<string, Cell>([
      [
        'W4-max/chatd',
        {
          results: [
            result([step(20_000, 30), step(32_000, 40), step(51_200, 150), step(81_920, 300)]),
            result([step(20_000, 30), step(32_000, 140), step(51_200, 60), step(81_920, 300), step(131_072, 400)]),
            result([step(20_000, 30), step(32_000, 40), step(51_200, 90), step(81_920, 95)]),
          ],
          failures: [],
        },
      ],
    ]);
    const cellsOf = row(markdownTable([W4], ['chatd'], cells), 'chatd');
    // workload, server, greeted, held, connect s, p50, p99, p99.9, deliveries/s, server CPU s, µs/delivery, KiB/client, integrity, bench CPU s, bench loop p99
    expect(cellsOf[2]).toBe('1000/1000, 1000/1000, 1000/1000');
    expect(cellsOf[8]).toBe('51,200'); // of 32,000, 51,200 and 81,920
    expect(cellsOf[6]).toBe('60.0'); // the p99 of that median run's best step
    expect(cellsOf[9]).toBe('1.50');
    expect(cellsOf[13]).toBe('1.20');
    expect(cellsOf[14]).toBe('20.0');
  });

  it('gives each named server its own row, in the order asked for: chatd over TCP, over WebSocket, socket.io', () => {
    const cells = new Map<string, Cell>([
      ['W4-max/socketio', { results: [result([step(20_000, 90)])], failures: [] }],
      ['W4-max/chatd', { results: [result([step(20_000, 30), step(32_000, 40)])], failures: [] }],
      ['W4-max/chatd-ws', { results: [result([step(20_000, 35)])], failures: [] }],
    ]);
    const table = markdownTable([W4], ['chatd', 'chatd-ws', 'socketio'], cells);
    const rows = table.split('\n').filter((line) => line.startsWith('| W4-max |')).map((line) => line.split('|')[2]!.trim());
    expect(rows).toEqual(['chatd', 'chatd-ws', 'socketio']);
    expect(row(table, 'chatd')[8]).toBe('32,000');
    expect(row(table, 'chatd-ws')[6]).toBe('35.0');
    expect(row(table, 'socketio')[6]).toBe('90.0');
  });

  it('reports a server that died as such, with its last words, and gives no figures for it', () => {
    const cells = new Map<string, Cell>([
      ['W4-max/seed', { results: [result([], { greeted: 57, exit: 'exited with code 2: fatal error: concurrent map writes', rampEnd: null })], failures: [] }],
    ]);
    const table = markdownTable([W4], ['seed'], cells);
    expect(row(table, 'seed').slice(2, 9)).toEqual(['57/1000', '0', '—', '—', '—', '—', '—']);
    expect(table).toContain('- W4-max, seed, run 1: the server exited with code 2: fatal error: concurrent map writes');
  });

  it('shows the connect time of a run whose load never held, and says no step held', () => {
    const cells = new Map<string, Cell>([['W4-max/nats', { results: [result([step(20_000, 150), step(32_000, 200)])], failures: [] }]]);
    const table = markdownTable([W4], ['nats'], cells);
    expect(row(table, 'nats')[4]).toBe('0.70');
    expect(row(table, 'nats')[8]).toBe('—');
    expect(table).toContain('- W4-max, nats, run 1: no step held p99 < 100 ms with nothing lost');
  });

  it('warns when a ramp ended at the bench\'s limit rather than the server\'s', () => {
    const cells = new Map<string, Cell>([
      ['W4-max/chatd', { results: [result([step(20_000, 30), step(32_000, 40, { isBenchBound: true })], { rampEnd: 'bench' })], failures: [] }],
    ]);
    expect(markdownTable([W4], ['chatd'], cells)).toContain(
      '- W4-max, chatd, run 1: the ramp ended at the load the bench could not offer, not at a failure: the server may hold more',
    );
  });

  it('warns when a ramp ended at its step cap (the seed\'s W4-seed-sized) with every step held', () => {
    const cells = new Map<string, Cell>([['W4-max/seed', { results: [result([step(20_000, 30), step(32_000, 40)], { rampEnd: 'steps' })], failures: [] }]]);
    expect(markdownTable([W4], ['seed'], cells)).toContain('the ramp ended at the last step allowed, not at a failure');
  });

  it('notes a run that gave up connecting before everyone was greeted', () => {
    const cells = new Map<string, Cell>([['W4-max/chatd', { results: [result([], { greeted: 746, rampEnd: null })], failures: [] }]]);
    const gaveUp = cells.get('W4-max/chatd')!.results[0]!;
    cells.set('W4-max/chatd', { results: [{ ...gaveUp, connect: { ...gaveUp.connect, refused: 0, seconds: 59.8 } }], failures: [] });
    expect(markdownTable([W4], ['chatd'], cells)).toContain('- W4-max, chatd, run 1: 746 of 1000 greeted when the bench gave up connecting (the last greeting 59.8 s after the first attempt)');
  });
});

describe('summary', () => {
  it('says how many steps a ramp ran and its best held step, and calls NATS order differences by their name', () => {
    const run = result([step(20_000, 30, { integrity: { received: 1, lost: 0, duplicated: 0, late: 0, orderDisagreements: 950 } }), step(32_000, 200)]);
    expect(summary(run)).toBe('2 steps, max p99 30.0 ms, 20000/s, held 1000 clients, bench cpu 1.2 s, 950 clients saw another order');
  });
});
