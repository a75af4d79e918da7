// bench:peers' report: the one-line summary of each run on stderr, and the Markdown table of
// medians (with a note under it for each server that died, gave up connecting, or ramped into
// the bench's limit). Pure formatting of chat-bench results; bench/peers.ts runs them.

import { RAMP_ENDS, type BenchResult, type RoundResult } from './chat-bench.ts';
import { median } from './stats.ts';

export interface PeerWorkload {
  readonly name: string;
  readonly clients: number;
  readonly senders: number;
  readonly rate: number;
  readonly duration: number;
  readonly ramp: number;
  /** A --max ramp: rate is the first step's, each next step offers stepFactor times more. */
  readonly max?: boolean;
  readonly stepFactor?: number;
  /** The seed's server only: at most this many steps of a ramp (see W4-seed-sized). */
  readonly seedMaxSteps?: number;
  /** Give up connecting after this long (default 60 s). */
  readonly connectTimeoutSeconds?: number;
}

/** Every run of one workload against one server. */
export interface Cell {
  readonly results: BenchResult[];
  readonly failures: string[];
}

export function summary(result: BenchResult): string {
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

/** `servers` are the names of bench/workloads.ts's PEER_SERVERS (chatd, chatd-ws, socketio, …): cells are keyed `WORKLOAD/NAME`. */
export function markdownTable(workloads: readonly PeerWorkload[], servers: readonly string[], cells: Map<string, Cell>): string {
  const lines = [
    '| workload | server | greeted | held | connect s | p50 ms | p99 ms | p99.9 ms | deliveries/s | server CPU s | server CPU µs/delivery | server RSS KiB/client | lost / dup / late / order | bench CPU s | bench loop p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes: string[] = [];
  for (const workload of workloads) {
    for (const name of servers) {
      const cell = cells.get(`${workload.name}/${name}`);
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
        if (result.server.exit !== null) notes.push(`- ${workload.name}, ${name}, run ${run + 1}: the server ${result.server.exit.slice(0, 160)}`);
        else if (result.connect.greeted + result.connect.refused < result.connect.clients) {
          notes.push(
            `- ${workload.name}, ${name}, run ${run + 1}: ${result.connect.greeted} of ${result.connect.clients} greeted when the bench gave up ` +
              `connecting (the last greeting ${format(result.connect.seconds)} s after the first attempt)`,
          );
        }
        else if (result.headline === null && result.connect.greeted === result.connect.clients) {
          notes.push(`- ${workload.name}, ${name}, run ${run + 1}: no step held p99 < 100 ms with nothing lost`);
        } else if (result.rampEnd === 'bench' || result.rampEnd === 'steps') {
          // Its maximum is the bench's or the step cap's, not the server's: say so beside the figure.
          notes.push(`- ${workload.name}, ${name}, run ${run + 1}: the ramp ended at ${RAMP_ENDS[result.rampEnd]}, not at a failure: the server may hold more`);
        }
      });
      for (const failure of cell.failures) notes.push(`- ${workload.name}, ${name}: failed: ${failure}`);
      lines.push(
        `| ${workload.name} | ${name} | ${greeted || '—'} | ${held || '—'} | ${c((r) => r.connect.seconds)} | ${m((_, h) => h.latencyMs.p50)} | ` +
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
