// `npm run bench:peers`: chatd (over TCP and over WebSocket) beside the seed's Go server,
// nats-server and a plain socket.io server, the same workloads in one run, servers in rotation
// (chatd, chatd-ws, seed, nats, socketio, chatd, …) so that none always runs on a quieter machine. Prints a Markdown table of medians for docs/BENCHMARKS.md and writes every
// run's JSON to bench-peers.json (each chat-bench result with its workload's name; the --max
// steps are in its rounds, which `npm run bench:plot` draws).
//
//   npm run bench:peers -- [--repeats 3] [--workload NAME …] [--server NAME …] [--seed-binary /tmp/seedchat]

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runBench } from './chat-bench.ts';
import { markdownTable, summary, type Cell } from './peers-report.ts';
import { toJson } from './report.ts';
import { isPeerServerName, optionsFor, PEER_SERVERS, PEER_WORKLOADS, type PeerServerName } from './workloads.ts';

const SERVERS: readonly PeerServerName[] = ['chatd', 'chatd-ws', 'seed', 'nats', 'socketio'];

async function main(): Promise<void> {
  const argv = yargs(hideBin(process.argv))
    .options({
      repeats: { type: 'number', default: 3, describe: 'runs of each server per workload (medians are reported)' },
      workload: { type: 'array', string: true, default: ['seed-sized', 'W2-fanout'], describe: `any of: ${PEER_WORKLOADS.map((w) => w.name).join(', ')}` },
      server: { type: 'array', string: true, default: [...SERVERS], describe: `any of: ${Object.keys(PEER_SERVERS).join(', ')}` },
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
  const servers = argv.server.map((name) => {
    if (!isPeerServerName(name)) throw new Error(`no server named ${name}; choose from ${Object.keys(PEER_SERVERS).join(', ')}`);
    return name;
  });
  const cells = new Map<string, Cell>();
  for (const workload of workloads) {
    for (let repeat = 0; repeat < argv.repeats; repeat++) {
      for (const name of servers) {
        const key = `${workload.name}/${name}`;
        const cell = cells.get(key) ?? { results: [], failures: [] };
        cells.set(key, cell);
        process.stderr.write(`${key} run ${repeat + 1}/${argv.repeats} … `);
        try {
          const result = await runBench(optionsFor(workload, PEER_SERVERS[name], argv.workers, argv.threads, argv['seed-binary']));
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

main().catch((error: unknown) => {
  console.error(`bench:peers: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
