// Side-by-side comparison of chatd checkouts and transports (and optionally the peers) on the
// issue #5 workloads: runs alternate A B A B … in one process, so a noisy shared machine hurts
// both alike; prints every run and then the medians. A tool for the server work, not a CI check.
//
//   node bench/ab.ts --workload W1-connect --workload W2-fanout --repeats 3 base=/tmp/chatd-base new=. nats
//   node bench/ab.ts --workload W2-fanout new1=.:1 new2=.:2     (ROOT:WORKERS[:TRANSPORT][:NAME=VALUE])
//   node bench/ab.ts --workload W2-fanout chatd chatd-ws socketio

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runBench, type BenchOptions, type BenchResult } from './chat-bench.ts';
import { SERVER_TRANSPORTS } from './servers.ts';
import { median } from './stats.ts';
import { TRANSPORTS, type TransportName } from './wire.ts';
import { isPeerServerName, optionsFor, PEER_SERVERS, PEER_WORKLOADS, type PeerServer } from './workloads.ts';

interface Contender {
  readonly label: string;
  readonly server: PeerServer;
  /** chatd: the checkout to run. */
  readonly root: string;
  readonly workers: number;
  /** NAME=VALUE set in the environment the server is spawned with (an experiment's knob). */
  readonly env: string | undefined;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workload: { type: 'string', multiple: true, default: ['W1-connect'] },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const CHATD_TRANSPORTS: readonly TransportName[] = SERVER_TRANSPORTS.chatd;

const USAGE = `usage: node bench/ab.ts [--workload NAME]… [--repeats 3] [--threads 2] CONTENDER…
  CONTENDER  LABEL=ROOT[:WORKERS][:TRANSPORT][:NAME=VALUE]: the chatd of checkout ROOT with WORKERS
             workers (default 2), its clients over TRANSPORT (${CHATD_TRANSPORTS.join(', ')}; default tcp)
             and NAME=VALUE in its environment; or one of ${Object.keys(PEER_SERVERS).join(', ')}
             (chatd* is this checkout with 2 workers; seed is /tmp/seedchat)
  --workload one of ${PEER_WORKLOADS.map((workload) => workload.name).join(', ')} (default W1-connect)
  --repeats  runs of each contender per workload, alternating which goes first (default 3)
  --threads  bench threads (default 2)
`;
if (values.help || positionals.length === 0) {
  (values.help ? process.stdout : process.stderr).write(USAGE);
  process.exit(values.help ? 0 : 2);
}

const contenders: Contender[] = positionals.map((spec) => {
  if (isPeerServerName(spec)) return { label: spec, server: PEER_SERVERS[spec], root: resolve('.'), workers: 2, env: undefined };
  const at = spec.indexOf('=');
  if (at === -1) {
    process.stderr.write(`no contender named ${spec}: give LABEL=ROOT[:WORKERS][:TRANSPORT][:NAME=VALUE] or one of ${Object.keys(PEER_SERVERS).join(', ')}\n`);
    process.exit(2);
  }
  const [root, workers, ...rest] = spec.slice(at + 1).split(':');
  const transport = rest.find((part): part is TransportName => (TRANSPORTS as readonly string[]).includes(part)) ?? 'tcp';
  if (!CHATD_TRANSPORTS.includes(transport)) {
    process.stderr.write(`${spec}: chatd is measured over ${CHATD_TRANSPORTS.join(', ')}; got ${transport}\n`);
    process.exit(2);
  }
  const env = rest.find((part) => part.includes('='));
  return { label: spec.slice(0, at), server: { kind: 'chatd', transport }, root: resolve(root || '.'), workers: Number(workers || 2), env };
});

interface Row {
  readonly greeted: string;
  readonly connectS: number;
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
  readonly cpuUs: number;
  readonly rssKiB: number;
  readonly integrity: string;
}

function row(result: BenchResult): Row {
  const round = result.headline;
  const i = round?.integrity;
  return {
    greeted: `${result.connect.greeted}/${result.connect.clients}`,
    connectS: result.connect.seconds,
    p50: round?.latencyMs.p50 ?? NaN,
    p99: round?.latencyMs.p99 ?? NaN,
    perSecond: round?.deliveriesPerSecond ?? NaN,
    cpuUs: round?.serverCpuSeconds == null ? NaN : (round.serverCpuSeconds * 1e6) / Math.max(1, round.integrity.received),
    rssKiB: result.server.rssPerClientBytes === null ? NaN : result.server.rssPerClientBytes / 1024,
    integrity: i === undefined ? '-' : `${i.lost}/${i.duplicated}/${i.late}/${i.orderDisagreements}`,
  };
}

const show = (r: Row): string =>
  `greeted ${r.greeted} connect ${r.connectS.toFixed(2)} s  p50 ${r.p50.toFixed(1)}  p99 ${r.p99.toFixed(1)} ms  ` +
  `${Math.round(r.perSecond)}/s  cpu ${r.cpuUs.toFixed(2)} µs/del  rss ${r.rssKiB.toFixed(1)} KiB/client  l/d/late/ord ${r.integrity}`;

for (const name of values.workload) {
  const workload = PEER_WORKLOADS.find((w) => w.name === name);
  if (workload === undefined) throw new Error(`no workload ${name}`);
  const rows = new Map<string, Row[]>();
  for (let repeat = 0; repeat < Number(values.repeats); repeat++) {
    // Alternate the starting contender so that none always runs first.
    const order = repeat % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      const options: BenchOptions = {
        ...optionsFor(workload, contender.server, contender.workers, Number(values.threads), '/tmp/seedchat'),
        ...(contender.server.kind === 'chatd' ? { chatdRoot: contender.root } : {}),
      };
      const split = contender.env?.indexOf('=') ?? -1;
      const envName = split === -1 ? undefined : contender.env!.slice(0, split);
      const envValue = split === -1 ? '' : contender.env!.slice(split + 1);
      if (envName !== undefined) process.env[envName] = envValue;
      try {
        const r = row(await runBench(options));
        rows.set(contender.label, [...(rows.get(contender.label) ?? []), r]);
        console.log(`${name} ${contender.label.padEnd(9)} #${repeat + 1}  ${show(r)}`);
      } catch (error) {
        console.log(`${name} ${contender.label.padEnd(9)} #${repeat + 1}  failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      } finally {
        if (envName !== undefined) delete process.env[envName];
      }
    }
  }
  console.log(`-- ${name}: medians`);
  for (const [label, list] of rows) {
    const m = (pick: (r: Row) => number): number => median(list.map(pick).filter((v) => Number.isFinite(v)));
    console.log(
      `${label.padEnd(9)} connect ${m((r) => r.connectS).toFixed(2)} s  p50 ${m((r) => r.p50).toFixed(1)}  p99 ${m((r) => r.p99).toFixed(1)} ms  ` +
        `${Math.round(m((r) => r.perSecond))}/s  cpu ${m((r) => r.cpuUs).toFixed(2)} µs/del  rss ${m((r) => r.rssKiB).toFixed(1)} KiB/client  ` +
        `integrity ${list.map((r) => r.integrity).join(', ')}  greeted ${list.map((r) => r.greeted).join(', ')}`,
    );
  }
}
