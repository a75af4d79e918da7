// `npm run bench:cluster`: the same chat-bench workload against one chatd and against three chatd
// nodes sharing one Redis (docs/CLUSTER.md), with the clients spread over the three in turn, so
// that two of every three deliveries cross nodes. One run, setups alternating (A B, B A, …),
// medians of --repeats. Prints a Markdown table for docs/BENCHMARKS.md §6 and writes every run's
// JSON to bench-cluster.json. Needs Debian's redis-server.
//
//   npm run bench:cluster -- [--repeats 3] [--clients 1000] [--senders 10] [--rate 10] [--duration 10]

import { writeFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runBench, SCRIPT_DEFAULTS, type BenchOptions, type BenchResult } from './chat-bench.ts';
import { startRedis } from './processes/redis-server.ts';
import { toJson } from './report.ts';
import { spawnServer, type RunningServer } from './servers.ts';
import { median } from './stats.ts';

const NODES = 3;
const SETUPS = ['one node', `${NODES} nodes + Redis`] as const;
type Setup = (typeof SETUPS)[number];

async function main(): Promise<void> {
  const argv = yargs(hideBin(process.argv))
    .options({
      repeats: { type: 'number', default: 3, describe: 'runs of each setup (medians are reported)' },
      clients: { type: 'number', default: 1000 },
      senders: { type: 'number', default: 10 },
      rate: { type: 'number', default: 10, describe: 'messages per second per sender' },
      duration: { type: 'number', default: 10, describe: 'seconds of load' },
      workers: { type: 'number', default: 2, describe: 'worker threads of the single node; each cluster node gets 1' },
      threads: { type: 'number', default: 2, describe: 'bench threads' },
      json: { type: 'string', default: 'bench-cluster.json' },
    })
    .strict()
    .parseSync();
  const base: Omit<BenchOptions, 'workers'> = {
    ...SCRIPT_DEFAULTS,
    clients: argv.clients,
    senders: argv.senders,
    rate: argv.rate,
    duration: argv.duration,
    ramp: 2000,
    threads: argv.threads,
    connectTimeoutMs: 60_000,
  };
  const results = new Map<Setup, BenchResult[]>(SETUPS.map((setup) => [setup, []]));
  for (let repeat = 0; repeat < argv.repeats; repeat++) {
    // Alternate which setup goes first, so that neither always runs on a quieter machine.
    const order = repeat % 2 === 0 ? SETUPS : [...SETUPS].reverse();
    for (const setup of order) {
      process.stderr.write(`run ${repeat + 1}/${argv.repeats}: ${setup}\n`);
      const result =
        setup === 'one node'
          ? await runBench({ ...base, spawn: 'chatd', workers: argv.workers })
          : await runCluster(base);
      results.get(setup)!.push(result);
    }
  }
  writeFileSync(argv.json, `[${[...results.values()].flat().map((result) => toJson(result)).join(',\n')}]\n`);
  process.stdout.write(`${table(results)}\n`);
}

/** Three nodes of one worker each, on a Redis of their own, for one run. */
async function runCluster(base: Omit<BenchOptions, 'workers'>): Promise<BenchResult> {
  const redis = await startRedis();
  const nodes: RunningServer[] = [];
  try {
    for (let i = 0; i < NODES; i++) {
      nodes.push(await spawnServer({ kind: 'chatd', transport: base.transport, workers: 1, seedBinary: '', extraArgs: ['--redis', redis.url] }));
    }
    return await runBench({
      ...base,
      workers: 1,
      ports: nodes.map((node) => node.port),
      serverPids: [...nodes.map((node) => node.pid), redis.pid],
    });
  } finally {
    for (const node of nodes) await node.stop();
    await redis.stop();
  }
}

function table(results: ReadonlyMap<Setup, readonly BenchResult[]>): string {
  const rows = [
    '| setup | greeted | connect s | p50 ms | p99 ms | p99.9 ms | deliveries/s | server CPU µs/delivery | lost / dup / late / order | bench CPU s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [setup, runs] of results) {
    const rounds = runs.map((run) => run.headline ?? run.rounds.at(-1)).filter((round) => round !== undefined);
    const mid = (values: number[]): string => (values.length === 0 ? '—' : format(median(values)));
    const cpu = rounds.flatMap((round) => (round.serverCpuSeconds === null || round.integrity.received === 0 ? [] : [(round.serverCpuSeconds * 1e6) / round.integrity.received]));
    rows.push(
      [
        setup,
        runs.map((run) => `${run.connect.greeted}/${run.connect.clients}`).join(', '),
        mid(runs.map((run) => run.connect.seconds)),
        mid(rounds.map((round) => round.latencyMs.p50)),
        mid(rounds.map((round) => round.latencyMs.p99)),
        mid(rounds.map((round) => round.latencyMs.p999)),
        mid(rounds.map((round) => round.deliveriesPerSecond)),
        mid(cpu),
        rounds.map((round) => `${round.integrity.lost}/${round.integrity.duplicated}/${round.integrity.late}/${round.integrity.orderDisagreements}`).join(', '),
        mid(rounds.map((round) => round.benchCpuSeconds)),
      ].join(' | ').replace(/^/, '| ') + ' |',
    );
  }
  return rows.join('\n');
}

function format(value: number): string {
  return value >= 1000 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}

await main();
