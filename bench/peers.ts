// `npm run bench:peers`: chatd beside the seed's Go server and nats-server, the same workloads
// in one run, servers in rotation (chatd, seed, nats, chatd, …) so that none always runs on a
// quieter machine. Prints a Markdown table of medians for docs/BENCHMARKS.md and writes every
// run's JSON to bench-peers.json (each chat-bench result with its workload's name; the --max
// steps are in its rounds, which `npm run bench:plot` draws).
//
//   npm run bench:peers -- [--repeats 3] [--workload NAME …] [--seed-binary /tmp/seedchat]

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { RAMP_ENDS, runBench, type BenchOptions, type BenchResult, type RoundResult } from './chat-bench.ts';
import { median } from './regression.ts';
import { toJson } from './report.ts';
import type { ServerKind } from './servers.ts';

interface PeerWorkload {
  readonly name: string;
  readonly clients: number;
  readonly senders: number;
  readonly rate: number;
  readonly duration: number;
  readonly ramp: number;
  /** A --max ramp: rate is the first step's, each next step offers stepFactor times more. */
  readonly max?: boolean;
  readonly stepFactor?: number;
  /** Give up connecting after this long (default 60 s). */
  readonly connectTimeoutSeconds?: number;
}

/** The workloads of issue #5 (W1–W5), plus the small one the seed's server survives. */
export const PEER_WORKLOADS: readonly PeerWorkload[] = [
  { name: 'seed-sized', clients: 100, senders: 10, rate: 100, duration: 5, ramp: 50 },
  { name: 'W1-connect', clients: 5000, senders: 1, rate: 1, duration: 1, ramp: 5000 },
  { name: 'W2-fanout', clients: 1000, senders: 10, rate: 10, duration: 10, ramp: 2000 },
  { name: 'W3-fanout', clients: 5000, senders: 5, rate: 5, duration: 10, ramp: 5000 },
  // From 20,000 deliveries/s offered, ×1.6 a step (12 steps reach 3.5 million): enough points
  // below the knee for the latency curve, few enough to keep a ramp under a minute.
  { name: 'W4-max', clients: 1000, senders: 10, rate: 2, duration: 3, ramp: 2000, max: true, stepFactor: 1.6 },
  // chatd tells each of the 10,000 logins to everyone online (50 million lines): on a busy
  // 2-core machine that took more than a minute in a trial, so W5 waits up to three.
  { name: 'W5-many', clients: 10000, senders: 5, rate: 2, duration: 10, ramp: 5000, connectTimeoutSeconds: 180 },
  // W4's ramp at the size the seed's server survives (100 clients joining at 50/s), so the curve
  // has all three servers. Its clients that do not send are dropped from its broadcast after 60 s
  // of silence (its idle timeout), so the whole ramp must end sooner: 2,000 deliveries/s ×1.6 up
  // to 12 steps of 3 s.
  { name: 'W4-seed-sized', clients: 100, senders: 10, rate: 2, duration: 3, ramp: 50, max: true, stepFactor: 1.6 },
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
  const runs = [...cells.entries()].flatMap(([key, cell]) =>
    cell.results.map((result) => ({ workload: key.split('/')[0]!, ...(JSON.parse(toJson(result)) as object) })),
  );
  writeFileSync(argv.json, `${JSON.stringify(runs, null, 2)}\n`);
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
    ...(workload.stepFactor === undefined ? {} : { stepFactor: workload.stepFactor }),
    p99BoundMs: 100,
    drainTimeoutMs: 5000,
    connectTimeoutMs: (workload.connectTimeoutSeconds ?? 60) * 1000,
  };
}

function summary(result: BenchResult): string {
  const round = result.headline;
  const died = result.server.exit === null ? '' : ` (server ${result.server.exit.slice(0, 120)})`;
  if (result.connect.greeted < result.connect.clients) return `only ${result.connect.greeted} of ${result.connect.clients} got in${died}`;
  if (round === null) return `no rate held${died}`;
  const steps = result.options.max ? `${result.rounds.length} steps, max ` : '';
  return (
    `${steps}p99 ${round.latencyMs.p99.toFixed(1)} ms, ${Math.round(round.deliveriesPerSecond)}/s, held ${result.heldClients} clients, ` +
    `bench cpu ${round.benchCpuSeconds.toFixed(1)} s${integrityNote(round)}${died}`
  );
}

function integrityNote(round: RoundResult): string {
  const { lost, duplicated, late, orderDisagreements } = round.integrity;
  if (lost + duplicated + late > 0) return `, lost ${lost} duplicated ${duplicated} late ${late}`;
  // NATS promises no order across publishers: worth a word, not an alarm.
  return orderDisagreements > 0 ? `, ${orderDisagreements} clients saw another order` : '';
}

function markdownTable(workloads: readonly PeerWorkload[], servers: readonly ServerKind[], cells: Map<string, Cell>): string {
  const lines = [
    '| workload | server | greeted | held | connect s | p50 ms | p99 ms | p99.9 ms | deliveries/s | server CPU s | server CPU µs/delivery | server RSS KiB/client | lost / dup / late / order | bench CPU s | bench loop p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes: string[] = [];
  for (const workload of workloads) {
    for (const kind of servers) {
      const cell = cells.get(`${workload.name}/${kind}`);
      if (cell === undefined) continue;
      const ok = cell.results.filter((result) => result.headline !== null);
      // Medians over the runs that produced figures; every run's counts are listed as they were.
      const m = (pick: (result: BenchResult, round: RoundResult) => number | null): string => {
        const values = ok.map((result) => pick(result, result.headline!)).filter((value): value is number => value !== null && Number.isFinite(value));
        return values.length === 0 ? '—' : format(median(values));
      };
      // Connecting (W1) has figures whenever everyone got in, whether or not a load step held.
      const allIn = cell.results.filter((result) => result.connect.greeted === result.connect.clients);
      const c = (pick: (result: BenchResult) => number | null): string => {
        const values = allIn.map(pick).filter((value): value is number => value !== null && Number.isFinite(value));
        return values.length === 0 ? '—' : format(median(values));
      };
      const greeted = cell.results.map((result) => `${result.connect.greeted}/${result.connect.clients}`).join(', ');
      const held = cell.results.map((result) => String(result.heldClients)).join(', ');
      const integrity = ok.map((result) => {
        const i = result.headline!.integrity;
        return `${i.lost}/${i.duplicated}/${i.late}/${i.orderDisagreements}`;
      });
      cell.results.forEach((result, run) => {
        if (result.server.exit !== null) notes.push(`- ${workload.name}, ${kind}, run ${run + 1}: the server ${result.server.exit.slice(0, 160)}`);
        else if (result.connect.greeted + result.connect.refused < result.connect.clients) {
          notes.push(
            `- ${workload.name}, ${kind}, run ${run + 1}: ${result.connect.greeted} of ${result.connect.clients} greeted when the bench gave up ` +
              `connecting (the last greeting ${format(result.connect.seconds)} s after the first attempt)`,
          );
        }
        else if (result.headline === null && result.connect.greeted === result.connect.clients) {
          notes.push(`- ${workload.name}, ${kind}, run ${run + 1}: no step held p99 < 100 ms with nothing lost`);
        } else if (result.rampEnd === 'bench') {
          // Its maximum is the bench's, not the server's: say so beside the figure.
          notes.push(`- ${workload.name}, ${kind}, run ${run + 1}: the ramp ended because ${RAMP_ENDS.bench}: the server may hold more`);
        }
      });
      for (const failure of cell.failures) notes.push(`- ${workload.name}, ${kind}: failed: ${failure}`);
      lines.push(
        `| ${workload.name} | ${kind} | ${greeted || '—'} | ${held || '—'} | ${c((r) => r.connect.seconds)} | ${m((_, h) => h.latencyMs.p50)} | ` +
          `${m((_, h) => h.latencyMs.p99)} | ${m((_, h) => h.latencyMs.p999)} | ${m((_, h) => h.deliveriesPerSecond)} | ${m((_, h) => h.serverCpuSeconds)} | ` +
          `${m((_, h) => (h.serverCpuSeconds === null ? null : (h.serverCpuSeconds * 1e6) / Math.max(1, h.integrity.received)))} | ` +
          `${c((r) => (r.server.rssPerClientBytes === null ? null : r.server.rssPerClientBytes / 1024))} | ${integrity.join(', ') || '—'} | ` +
          `${m((_, h) => h.benchCpuSeconds)} | ${m((_, h) => h.benchLoopDelayMs.p99)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n${notes.length === 0 ? '' : `\n${notes.join('\n')}\n`}`;
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
