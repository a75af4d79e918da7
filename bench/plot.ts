// `npm run bench:plot`: latency percentiles against offered load, from the --max ramps in
// chat-bench or bench:peers JSON, drawn by Vega-Lite into one SVG (one panel per workload, one
// line per server and percentile). Reads files, writes one file; the figures come from
// plot-series.ts.
//
//   npm run bench:plot -- bench-peers.json [more.json …] [--out latency-vs-load.svg]
//     [--workload W4-max W4-seed-sized] [--percentile p50 p99] [--title TEXT]

import { readFileSync, writeFileSync } from 'node:fs';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { latencySeries, latencySpec, PERCENTILES, readRuns, type PercentileName } from './plot-series.ts';

async function main(): Promise<void> {
  const argv = yargs(hideBin(process.argv))
    .scriptName('bench:plot')
    .usage('$0 FILE.json … [options]\n\nDraws latency percentiles against offered load from the --max steps in chat-bench or bench:peers JSON.')
    .options({
      out: { type: 'string', default: 'latency-vs-load.svg', describe: 'the SVG to write' },
      workload: { type: 'array', string: true, describe: 'only these workloads (bench:peers names); default: every one with more than one step' },
      percentile: { type: 'array', string: true, choices: PERCENTILES, default: ['p50', 'p99'], describe: 'percentiles to draw' },
      title: { type: 'string', describe: 'default: names the workloads' },
      'p99-bound': { type: 'number', default: 100, describe: 'draw the bound W4 holds p99 under (ms); 0: none' },
    })
    .demandCommand(1, 'name at least one JSON file')
    .strict()
    .help()
    .parseSync();
  const runs = argv._.map(String).flatMap((file) => {
    try {
      return readRuns(JSON.parse(readFileSync(file, 'utf8')) as unknown);
    } catch (error) {
      throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  // A run of one round (W2, W3, W5) is a single load, not a curve; W4-style ramps are.
  const ramps = runs.filter((run) => run.rounds.length > 1);
  const chosen = argv.workload === undefined ? ramps : ramps.filter((run) => argv.workload!.includes(run.workload));
  if (chosen.length === 0) {
    throw new Error(`no --max ramp to draw${argv.workload === undefined ? '' : ` for ${argv.workload.join(', ')}`}; found: ${[...new Set(runs.map((r) => `${r.workload} (${r.rounds.length} steps)`))].join(', ') || 'nothing'}`);
  }
  const points = latencySeries(chosen, argv.percentile as PercentileName[]);
  const workloads = [...new Set(chosen.map((run) => run.workload))];
  const spec = latencySpec(points, {
    title: argv.title ?? `chat-bench: broadcast latency against offered load (${workloads.join('; ')})`,
    boundMs: argv['p99-bound'] > 0 ? argv['p99-bound'] : null,
  });
  // renderer 'none': no canvas is needed to make an SVG (text widths are estimated).
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    writeFileSync(argv.out, await view.toSVG());
  } finally {
    view.finalize();
  }
  process.stdout.write(`${argv.out}: ${points.length} points, ${workloads.length} workload(s), servers ${[...new Set(chosen.map((run) => run.server))].join(', ')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:plot: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
