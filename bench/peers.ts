// `npm run bench:peers`: chatd beside the seed's Go server and nats-server, the same workloads
// in one run, servers in rotation (chatd, seed, nats, chatd, …) so that none always runs on a
// quieter machine. Prints a Markdown table of medians for docs/BENCHMARKS.md and writes every
// run's JSON to bench-peers.json.
//
//   npm run bench:peers -- [--repeats 3] [--workload NAME …] [--seed-binary /tmp/seedchat]

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runBench, type BenchOptions, type BenchResult } from './chat-bench.ts';
import { median } from './regression.ts';
import { isClean, toJson } from './report.ts';
import type { ServerKind } from './servers.ts';

interface PeerWorkload {
  readonly name: string;
  readonly clients: number;
  readonly senders: number;
  readonly rate: number;
  readonly duration: number;
  readonly ramp: number;
  readonly max?: boolean;
}

/** The workloads of issue #5 (W1–W5), plus the small one the seed's server survives. */
export const PEER_WORKLOADS: readonly PeerWorkload[] = [
  { name: 'seed-sized', clients: 100, senders: 10, rate: 100, duration: 5, ramp: 50 },
  { name: 'W1-connect', clients: 5000, senders: 1, rate: 1, duration: 1, ramp: 5000 },
  { name: 'W2-fanout', clients: 1000, senders: 10, rate: 10, duration: 10, ramp: 2000 },
  { name: 'W3-fanout', clients: 5000, senders: 5, rate: 5, duration: 10, ramp: 5000 },
  { name: 'W4-max', clients: 1000, senders: 10, rate: 10, duration: 3, ramp: 2000, max: true },
  { name: 'W5-many', clients: 10000, senders: 5, rate: 2, duration: 10, ramp: 5000 },
];

const SERVERS: readonly ServerKind[] = ['chatd', 'seed', 'nats'];

interface Cell {
  readonly results: BenchResult[];
  readonly failures: string[];
}

async function main(): Promise<void> {
  const argv = yargs(hideBin(process.argv))
    .options({
      repeats: { type: 'number', default: 3, describe: 'runs of each server per workload (medians are reported)' },
      workload: { type: 'array', string: true, default: ['seed-sized', 'W2-fanout'], describe: `any of: ${PEER_WORKLOADS.map((w) => w.name).join(', ')}` },
      server: { type: 'array', string: true, default: [...SERVERS], describe: 'chatd, seed, nats' },
      'seed-binary': { type: 'string', default: '/tmp/seedchat' },
      workers: { type: 'number', default: availableParallelism(), describe: "chatd's worker threads" },
      threads: { type: 'number', default: availableParallelism(), describe: 'bench threads' },
      json: { type: 'string', default: 'bench-peers.json' },
    })
    .strict()
    .parseSync();
  const workloads = argv.workload.map((name) => {
    const workload = PEER_WORKLOADS.find((w) => w.name === name);
    if (workload === undefined) throw new Error(`no workload named ${name}; choose from ${PEER_WORKLOADS.map((w) => w.name).join(', ')}`);
    return workload;
  });
  const servers = argv.server as ServerKind[];
  const cells = new Map<string, Cell>();
  for (const workload of workloads) {
    for (let repeat = 0; repeat < argv.repeats; repeat++) {
      for (const kind of servers) {
        const key = `${workload.name}/${kind}`;
        const cell = cells.get(key) ?? { results: [], failures: [] };
        cells.set(key, cell);
        process.stderr.write(`${key} run ${repeat + 1}/${argv.repeats} … `);
        try {
          const result = await runBench(optionsFor(workload, kind, argv.workers, argv.threads, argv['seed-binary']));
          cell.results.push(result);
          process.stderr.write(`${summary(result)}\n`);
        } catch (error) {
          cell.failures.push(error instanceof Error ? error.message.split('\n')[0]! : String(error));
          process.stderr.write(`failed: ${cell.failures.at(-1)}\n`);
        }
      }
    }
  }
  writeFileSync(argv.json, `[${[...cells.values()].flatMap((cell) => cell.results.map(toJson)).join(',\n')}]\n`);
  process.stdout.write(markdownTable(workloads, servers, cells));
}

function optionsFor(workload: PeerWorkload, kind: ServerKind, workers: number, threads: number, seedBinary: string): BenchOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    protocol: kind === 'nats' ? 'nats' : 'chatd',
    spawn: kind,
    workers,
    seedBinary,
    serverPid: null,
    clients: workload.clients,
    senders: workload.senders,
    rate: workload.rate,
    duration: workload.duration,
    payload: 64,
    ramp: workload.ramp,
    threads,
    max: workload.max ?? false,
    p99BoundMs: 100,
    drainTimeoutMs: 5000,
    connectTimeoutMs: 60_000,
  };
}

function summary(result: BenchResult): string {
  const round = result.headline;
  if (result.connect.greeted < result.connect.clients) return `only ${result.connect.greeted} of ${result.connect.clients} got in`;
  if (round === null) return 'no rate held';
  return `p99 ${round.latencyMs.p99.toFixed(1)} ms, ${Math.round(round.deliveriesPerSecond)}/s${isClean(round) ? '' : ', integrity broken'}`;
}

function markdownTable(workloads: readonly PeerWorkload[], servers: readonly ServerKind[], cells: Map<string, Cell>): string {
  const lines = [
    '| workload | server | greeted | connect s | p50 ms | p99 ms | p99.9 ms | deliveries/s | server CPU µs/delivery | server RSS KiB/client | lost / dup / late / order | bench CPU s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const workload of workloads) {
    for (const kind of servers) {
      const cell = cells.get(`${workload.name}/${kind}`);
      if (cell === undefined) continue;
      const ok = cell.results.filter((result) => result.headline !== null);
      const m = (pick: (result: BenchResult) => number | null): string => {
        const values = ok.map(pick).filter((value): value is number => value !== null && Number.isFinite(value));
        return values.length === 0 ? '—' : format(median(values));
      };
      const greeted = cell.results.map((result) => `${result.connect.greeted}/${result.connect.clients}`).join(', ');
      const integrity = ok.map((result) => {
        const i = result.headline!.integrity;
        return `${i.lost}/${i.duplicated}/${i.late}/${i.orderDisagreements}`;
      });
      lines.push(
        `| ${workload.name} | ${kind} | ${greeted || cell.failures.join('; ')} | ${m((r) => r.connect.seconds)} | ${m((r) => r.headline!.latencyMs.p50)} | ` +
          `${m((r) => r.headline!.latencyMs.p99)} | ${m((r) => r.headline!.latencyMs.p999)} | ${m((r) => r.headline!.deliveriesPerSecond)} | ` +
          `${m((r) => (r.headline!.serverCpuSeconds === null ? null : (r.headline!.serverCpuSeconds * 1e6) / Math.max(1, r.headline!.integrity.received)))} | ` +
          `${m((r) => (r.server.rssPerClientBytes === null ? null : r.server.rssPerClientBytes / 1024))} | ${integrity.join(', ') || '—'} | ${m((r) => r.benchCpuSeconds)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function format(value: number): string {
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

main().catch((error: unknown) => {
  console.error(`bench:peers: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
