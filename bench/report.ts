// chat-bench's output: the table a person reads, the JSON a machine reads, and the latency
// distribution for plotting. Pure formatting; nothing here measures.

import { RAMP_ENDS, type BenchResult, type RoundResult } from './chat-bench.ts';

const number = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number): string => `${number(value, value < 10 ? 2 : 1)} ms`;
const mib = (bytes: number): string => `${number(bytes / 2 ** 20, 1)} MiB`;
const kib = (bytes: number): string => `${number(bytes / 1024, 1)} KiB`;

export function formatTable(result: BenchResult): string {
  const { options, target, connect } = result;
  const rows: Array<[string, string]> = [];
  const server = target.workers === null ? target.kind : `${target.kind}, ${target.workers} workers`;
  const where = target.ports.length > 1 ? `${target.ports.length} nodes at ${target.host}:${target.ports.join(',')}` : `${target.host}:${target.port}`;
  rows.push(['server', `${server} at ${where} (${target.protocol} protocol over ${target.transport})`]);
  rows.push([
    'workload',
    `${number(options.clients)} clients, ${options.senders} senders × ${number(options.rate, 1)}/s` +
      `${options.max ? ` ramped ×${options.stepFactor ?? 1.5} per step` : ''}, ${options.payload} B, ${options.duration} s${options.max ? ' per step' : ''}, ` +
      `${options.threads} bench threads`,
  ]);
  rows.push([
    'connect',
    `${number(connect.greeted)} of ${number(connect.clients)} greeted in ${number(connect.seconds, 2)} s` +
      (connect.refused > 0 ? `, ${number(connect.refused)} refused` : '') +
      `; all logins delivered ${number(connect.settleSeconds, 2)} s later`,
  ]);
  if (result.server.exit !== null) rows.push(['server died', result.server.exit]);
  if (result.heldClients < connect.greeted) rows.push(['held', `${number(result.heldClients)} of ${number(connect.greeted)} greeted clients stayed connected`]);
  if (options.max) {
    for (const round of result.rounds) rows.push([`  ${number(round.rate, 1)}/s`, roundLine(round)]);
    rows.push([
      'max',
      result.headline === null
        ? `no rate held p99 < ${number(options.p99BoundMs)} ms with nothing lost`
        : `${number(result.headline.deliveriesPerSecond)} deliveries/s held at ${number(result.headline.rate, 1)}/s per sender`,
    ]);
    if (result.rampEnd !== null) rows.push(['ramp end', RAMP_ENDS[result.rampEnd]]);
  }
  const headline = result.headline ?? result.rounds.at(-1);
  if (headline !== undefined) {
    const { latencyMs: latency, integrity } = headline;
    rows.push(['latency', `p50 ${ms(latency.p50)}  p90 ${ms(latency.p90)}  p99 ${ms(latency.p99)}  p99.9 ${ms(latency.p999)}  max ${ms(latency.max)}`]);
    rows.push([
      'deliveries',
      `${number(integrity.received)} of ${number(headline.expectedDeliveries)} in ${number(headline.loadSeconds, 1)} s = ${number(headline.deliveriesPerSecond)}/s`,
    ]);
    rows.push([
      'integrity',
      `lost ${number(integrity.lost)}, duplicated ${number(integrity.duplicated)}, late ${number(integrity.late)}, ` +
        `clients disagreeing on order ${number(integrity.orderDisagreements)}` + (isClean(headline) ? '  ✓' : '  ✗'),
    ]);
    if (headline.serverCpuSeconds !== null && integrity.received > 0) {
      rows.push(['server cpu', `${number(headline.serverCpuSeconds, 2)} s = ${number((headline.serverCpuSeconds * 1e6) / integrity.received, 2)} µs per delivery`]);
    }
  }
  if (result.server.peakRssBytes !== null) {
    rows.push([
      'server rss',
      `peak ${mib(result.server.peakRssBytes)}` +
        (result.server.rssPerClientBytes !== null ? `, ${kib(result.server.rssPerClientBytes)} per connected client` : ''),
    ]);
  }
  rows.push(['bench cpu', `${number(result.benchCpuSeconds, 2)} s (the bench shares the machine with the server)`]);
  if (headline !== undefined) {
    rows.push([
      'bench loop',
      `event-loop delay p99 ${ms(headline.benchLoopDelayMs.p99)}, max ${ms(headline.benchLoopDelayMs.max)} in the busiest bench thread ` +
        '(what the bench itself may add to a latency)',
    ]);
  }
  for (const error of result.errors.slice(0, 5)) rows.push(['error', error]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

/** One --max step: what was offered, what came through, and whether it held. */
function roundLine(round: RoundResult): string {
  const { latencyMs: latency } = round;
  return (
    `offered ${number(round.offeredDeliveriesPerSecond)}/s, delivered ${number(round.deliveriesPerSecond)}/s, ` +
    `p50 ${ms(latency.p50)} p99 ${ms(latency.p99)} p99.9 ${ms(latency.p999)}, lost ${number(round.integrity.lost)}` +
    `, bench cpu ${number(round.benchCpuSeconds, 1)} s${round.held ? '  ✓' : '  ✗'}` +
    (round.isBenchBound ? ` (the bench sent only ${number(round.sentMessagesPerSecond)} of ${number(round.offeredMessagesPerSecond)} messages/s)` : '')
  );
}

export function isClean(round: RoundResult): boolean {
  const { lost, duplicated, late, orderDisagreements } = round.integrity;
  return lost === 0 && duplicated === 0 && late === 0 && orderDisagreements === 0;
}

/** The result as JSON: everything in the table, without the histogram objects. */
export function toJson(result: BenchResult): string {
  const strip = (round: RoundResult) => {
    const { histogram: _histogram, ...rest } = round;
    return rest;
  };
  return JSON.stringify(
    {
      ...result,
      rounds: result.rounds.map(strip),
      headline: result.headline === null ? null : strip(result.headline),
    },
    null,
    2,
  );
}

/** CSV of the headline latency distribution: percentile, milliseconds (for plotting). */
export function histogramCsv(round: RoundResult): string {
  const lines = ['percentile,latency_ms'];
  for (const [percentile, microseconds] of round.histogram.percentiles) lines.push(`${percentile},${microseconds / 1000}`);
  return `${lines.join('\n')}\n`;
}
