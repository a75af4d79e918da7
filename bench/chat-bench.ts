// The chat-bench engine: starts (or finds) the server, spreads the simulated clients over
// piscina threads, drives the phases through the shared Control, and merges what the threads
// measured into one result. Runs in the bench's main thread; prints nothing (see report.ts).

import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ClientTask, ConnectReport, RoundReport, TaskMessage, TaskSummary } from './client-worker.ts';
import { Control } from './control.ts';
import { addCounts, emptyCounts, orderDisagreements, type IntegrityCounts } from './integrity.ts';
import { MIN_PAYLOAD_BYTES } from './payload.ts';
import { LOOPBACK } from './processes/free-port.ts';
import { sampleProcesses, spawnServer, type ProcessSample, type RunningServer, type ServerKind } from './servers.ts';
import { sum } from './stats.ts';
import type { ProtocolName, TransportName } from './wire.ts';

export interface BenchOptions {
  readonly host: string;
  /**
   * The server's port, or the ports of the nodes of one chatd cluster (--redis): client i
   * connects to ports[i mod n] on `host`. Not read when `spawn` starts the server.
   */
  readonly ports: readonly number[];
  readonly protocol: ProtocolName;
  /**
   * How the clients connect. The ports are the transport's own: chatd's --port for tcp, its
   * --tls-port for tls, its --web-port for ws and wss (the endpoint /ws), socket.io's port.
   */
  readonly transport: TransportName;
  /**
   * tls, wss against a server the bench did not start: the PEM file its certificate must chain
   * to; without it the certificate is not checked. A server the bench starts gets a certificate
   * of the bench's own, which is checked.
   */
  readonly tlsCaFile?: string;
  /** Start this server for the run instead of using host and ports. */
  readonly spawn: ServerKind | null;
  readonly workers: number;
  readonly seedBinary: string;
  readonly chatdRoot?: string;
  readonly serverArgs?: readonly string[];
  /**
   * The processes whose CPU time and memory are the server's figures, summed (a cluster's nodes
   * and their Redis); none: not measured. With `spawn`, the server started is measured instead.
   */
  readonly serverPids: readonly number[];
  readonly clients: number;
  readonly senders: number;
  /** Messages per second per sender (the first rate, with --max). */
  readonly rate: number;
  /** Seconds of load (per step, with --max). */
  readonly duration: number;
  readonly payload: number;
  /** Connections opened per second. */
  readonly ramp: number;
  readonly threads: number;
  readonly max: boolean;
  /** With max: each step's rate is the previous one's × this (default 1.5). */
  readonly stepFactor?: number;
  /** With max: at most this many steps (default MAX_STEPS). */
  readonly maxSteps?: number;
  readonly p99BoundMs: number;
  readonly drainTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/**
 * What the bench's own scripts (bench:peers, bench:cluster, bench:http, bench/ab.ts, the
 * regression check) run with unless they say otherwise: chatd's protocol on loopback, 64-byte
 * messages, W4's p99 bound, and no server but the one they name.
 */
export const SCRIPT_DEFAULTS = {
  host: LOOPBACK,
  ports: [],
  protocol: 'chatd',
  transport: 'tcp',
  spawn: null,
  seedBinary: '',
  serverPids: [],
  payload: 64,
  max: false,
  p99BoundMs: 100,
  drainTimeoutMs: 5000,
} as const satisfies Partial<BenchOptions>;

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface RoundResult {
  /** Messages per second per sender asked for in this round. */
  readonly rate: number;
  /** rate × senders: messages per second offered to the server. */
  readonly offeredMessagesPerSecond: number;
  /** rate × senders × clients: what the server must deliver per second to keep up. */
  readonly offeredDeliveriesPerSecond: number;
  /** Messages the senders actually sent per second of load: below the offer when the bench could not keep up. */
  readonly sentMessagesPerSecond: number;
  /** The bench sent less than BENCH_BOUND_SHARE of the offer: past this step it measures itself, so a ramp stops. */
  readonly isBenchBound: boolean;
  readonly sent: number;
  readonly expectedDeliveries: number;
  readonly loadSeconds: number;
  readonly deliveriesPerSecond: number;
  /** Milliseconds from send to receipt. */
  readonly latencyMs: LatencySummary;
  readonly integrity: IntegrityCounts & { readonly orderDisagreements: number };
  readonly serverCpuSeconds: number | null;
  /** The bench's own CPU (every thread) over the round: what it took from the server's cores. */
  readonly benchCpuSeconds: number;
  /** The worst bench thread's event-loop delay during the load: the most the bench added to a latency. */
  readonly benchLoopDelayMs: { readonly p99: number; readonly max: number };
  /** Clients the server closed during the round (kicked, or the server died). */
  readonly droppedClients: number;
  /** p99 under the bound and nothing lost: with max, the rates that count. */
  readonly held: boolean;
  readonly histogram: RecordableHistogram;
}

export interface BenchResult {
  readonly target: {
    readonly kind: string;
    readonly host: string;
    readonly port: number;
    /** Every port the clients were spread over: [port], or the nodes of a cluster. */
    readonly ports: readonly number[];
    readonly protocol: ProtocolName;
    readonly transport: TransportName;
    readonly workers: number | null;
  };
  readonly options: BenchOptions;
  readonly connect: {
    readonly clients: number;
    readonly greeted: number;
    readonly refused: number;
    /** From the first connection attempt to the last greeting. */
    readonly seconds: number;
    /** Then until the server stopped sending (the logins of everyone to everyone). */
    readonly settleSeconds: number;
  };
  readonly rounds: readonly RoundResult[];
  /**
   * The round the headline figures come from: the only one, or with --max the one with the
   * most deliveries per second among those that held (p99 under the bound, nothing lost).
   */
  readonly headline: RoundResult | null;
  /** Clients still connected when the load ended: greeted, less those the server closed. */
  readonly heldClients: number;
  /** With --max: why the ramp stopped where it did (the headline is bench-bound if the bench stopped it). */
  readonly rampEnd: RampEnd | null;
  readonly server: {
    readonly cpuSeconds: number | null;
    readonly peakRssBytes: number | null;
    readonly rssPerClientBytes: number | null;
    /** How a server the bench started ended before the bench stopped it ("exited with code 2: …"); null if it did not. */
    readonly exit: string | null;
  };
  readonly benchCpuSeconds: number;
  readonly errors: readonly string[];
}

export const RAMP_ENDS = {
  p99: 'two steps in a row missed the p99 bound',
  lost: 'a step lost messages',
  bench: 'the load the bench could not offer',
  dropped: 'the server dropped clients or died',
  steps: 'the last step allowed',
} as const;
export type RampEnd = keyof typeof RAMP_ENDS;

export interface BenchProgress {
  connecting(greeted: number, total: number): void;
  loading(elapsedSeconds: number, totalSeconds: number, rate: number): void;
  done(): void;
}

/** A source address serves at most this many clients: loopback has about 28 000 ephemeral ports. */
const CLIENTS_PER_SOURCE_ADDRESS = 20_000;
const DEFAULT_STEP_FACTOR = 1.5;
/** A round that sent less than this share of its offer was limited by the bench, not the server. */
const BENCH_BOUND_SHARE = 0.9;
const MAX_STEPS = 20;
/**
 * A ramp goes one step past a step whose only fault was its p99: on a shared machine one
 * scheduling stall can put a step over the bound, and two in a row are not a stall. A step
 * that lost messages ends the ramp at once (the next would only lose more).
 */
const P99_FAILURES_IN_A_ROW = 2;

export async function runBench(options: BenchOptions, progress?: BenchProgress): Promise<BenchResult> {
  checkOpenFileLimit(options.clients);
  const server = options.spawn === null ? null : await spawnServer({
    kind: options.spawn,
    transport: options.transport,
    workers: options.workers,
    seedBinary: options.seedBinary,
    ...(options.chatdRoot === undefined ? {} : { chatdRoot: options.chatdRoot }),
    ...(options.serverArgs === undefined ? {} : { extraArgs: options.serverArgs }),
  });
  try {
    return await measure(options, server, progress);
  } finally {
    progress?.done();
    await server?.stop();
  }
}

async function measure(options: BenchOptions, server: RunningServer | null, progress?: BenchProgress): Promise<BenchResult> {
  const host = server?.host ?? options.host;
  const ports = server === null ? options.ports : [server.port];
  if (ports.length === 0) throw new Error('no server to measure: give at least one port, or a server to spawn');
  const pids = server === null ? options.serverPids : [server.pid];
  const caPem = server?.caPem ?? (options.tlsCaFile === undefined ? null : readFileSync(options.tlsCaFile, 'utf8'));
  const sample = (): ProcessSample | undefined => sampleProcesses(pids);
  const cpuAtStart = process.cpuUsage();
  const control = new Control(options.senders);
  const threads = Math.max(1, Math.min(options.threads, options.clients));
  const pool = new Piscina({
    filename: new URL('./client-worker.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
  });
  const epochNs = process.hrtime.bigint();
  const runId = randomInt(1, 1_000_000);
  const idle = sample();
  const reports = new RoundReports(threads);
  const tasks: Promise<TaskSummary>[] = [];
  for (let taskIndex = 0; taskIndex < threads; taskIndex++) {
    const firstClient = Math.floor((taskIndex * options.clients) / threads);
    const clientCount = Math.floor(((taskIndex + 1) * options.clients) / threads) - firstClient;
    const channel = new MessageChannel();
    reports.listen(channel.port1);
    const task: ClientTask = {
      taskIndex,
      tasks: threads,
      host,
      ports,
      protocol: options.protocol,
      transport: options.transport,
      caPem,
      firstClient,
      clientCount,
      totalClients: options.clients,
      senders: options.senders,
      payloadBytes: Math.max(MIN_PAYLOAD_BYTES, options.payload),
      runId,
      rampPerSecond: options.ramp / threads,
      epochNs: epochNs.toString(),
      control: control.shared,
      roundPort: channel.port2,
      drainTimeoutMs: options.drainTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      sourceAddresses: sourceAddresses(host, options.clients),
    };
    tasks.push(pool.run(task, { transferList: [channel.port2] }) as Promise<TaskSummary>);
  }
  let failure: unknown;
  const settled = Promise.allSettled(tasks).then((results) => {
    failure = results.find((result) => result.status === 'rejected')?.reason;
    // A task that died will never report its round: wake the primary instead of waiting for ever.
    if (failure !== undefined) reports.abort(failure);
    return results;
  });

  try {
    // CONNECT: until every client is greeted or refused.
    const connectStart = performance.now();
    const connectDeadline = connectStart + options.connectTimeoutMs;
    while (control.greeted + control.refused < options.clients && failure === undefined && performance.now() < connectDeadline) {
      progress?.connecting(control.greeted, options.clients);
      await sleep(10);
    }
    progress?.connecting(control.greeted, options.clients);
    if (failure !== undefined) throw failure;
    // Not everyone got in by the deadline (a server that hangs rather than dies): end the run,
    // which stops every thread's connect loop, so that they report and the run goes on to its result.
    if (control.greeted + control.refused < options.clients) control.finish();
    while (reports.connected.length < threads && failure === undefined) await sleep(5);
    // From the first connection attempt of any thread to the last greeting: thread start-up is not the server's time.
    // (With nobody greeted there is no last greeting: 0.)
    const connectSeconds =
      control.greeted === 0
        ? 0
        : (Math.max(...reports.connected.map((report) => report.lastGreetNs)) -
            Math.min(...reports.connected.map((report) => report.firstConnectNs))) / 1e9;
    // Everyone is greeted, but everyone's logins may still be on their way to everyone (n² lines):
    // a round starts once the server has gone quiet, or it would measure the connect backlog.
    const settleStart = performance.now();
    if (control.greeted === options.clients) await settle(control, () => failure);
    const settleSeconds = (performance.now() - settleStart) / 1000;
    const connected = sample();
    const connect = { clients: options.clients, greeted: control.greeted, refused: control.refused, seconds: connectSeconds, settleSeconds };

    const rounds: RoundResult[] = [];
    let headline: RoundResult | null = null;
    let rampEnd: RampEnd | null = null;
    if (connect.greeted === options.clients && control.dropped === 0) {
      let rate = options.rate;
      let failuresInARow = 0;
      const steps = options.max ? Math.min(MAX_STEPS, options.maxSteps ?? MAX_STEPS) : 1;
      for (let step = 0; step < steps; step++) {
        const round = await runRound(options, control, reports, rate, sample, progress);
        rounds.push(round);
        if (!options.max) headline = round;
        else if (round.held && (headline === null || round.deliveriesPerSecond > headline.deliveriesPerSecond)) headline = round;
        // A ramp ends at its second p99 failure in a row, at a step that lost messages, that the
        // bench could not offer in full, or that cost clients (a server that died, or kicked).
        failuresInARow = round.held ? 0 : failuresInARow + 1;
        rampEnd = rampEndAfter(round, failuresInARow, control.dropped > 0 || (server !== null && server.exit() !== null));
        if (rampEnd !== 'steps') break;
        rate *= options.stepFactor ?? DEFAULT_STEP_FACTOR;
      }
      if (!options.max) rampEnd = null;
    }
    control.finish();
    const summaries = (await settled).flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    if (failure !== undefined) throw failure;
    const after = sample();
    const cpu = process.cpuUsage(cpuAtStart);
    return {
      target: { kind: server?.kind ?? 'external', host, port: ports[0]!, ports, protocol: options.protocol, transport: options.transport, workers: server?.kind === 'chatd' ? options.workers : null },
      options,
      connect,
      rounds,
      headline,
      heldClients: control.greeted - control.dropped,
      rampEnd,
      server: {
        cpuSeconds: idle !== undefined && after !== undefined ? roundToTicks(after.cpuSeconds - idle.cpuSeconds) : null,
        peakRssBytes: after?.peakRssBytes ?? null,
        rssPerClientBytes:
          idle !== undefined && connected !== undefined ? Math.max(0, connected.rssBytes - idle.rssBytes) / options.clients : null,
        exit: server?.exit() ?? null,
      },
      benchCpuSeconds: (cpu.user + cpu.system) / 1e6,
      errors: summaries.flatMap((summary) => summary.errors),
    };
  } finally {
    control.finish();
    await settled;
    reports.close();
    await pool.destroy();
  }
}

async function runRound(
  options: BenchOptions,
  control: Control,
  reports: RoundReports,
  rate: number,
  sample: () => ProcessSample | undefined,
  progress?: BenchProgress,
): Promise<RoundResult> {
  const before = sample();
  const benchCpuBefore = process.cpuUsage();
  const droppedBefore = control.dropped;
  const sentBefore = sum(control.sentTotals());
  control.startLoad(rate);
  const start = performance.now();
  for (;;) {
    const elapsed = (performance.now() - start) / 1000;
    progress?.loading(Math.min(elapsed, options.duration), options.duration, rate);
    if (elapsed >= options.duration) break;
    await sleep(Math.min(100, (options.duration - elapsed) * 1000));
  }
  const loadSeconds = (performance.now() - start) / 1000;
  control.startDrain();
  const roundReports = await reports.next();
  const after = sample();
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const sent = sum(control.sentTotals()) - sentBefore;
  const histogram = createHistogram();
  const counts = emptyCounts();
  const fingerprints = new Map<string, number>();
  const loopDelayMs = { p99: 0, max: 0 };
  for (const report of roundReports) {
    loopDelayMs.p99 = Math.max(loopDelayMs.p99, report.loopDelayMs.p99);
    loopDelayMs.max = Math.max(loopDelayMs.max, report.loopDelayMs.max);
    histogram.add(report.histogram);
    addCounts(counts, report.counts);
    for (const [fingerprint, count] of report.fingerprints) fingerprints.set(fingerprint, (fingerprints.get(fingerprint) ?? 0) + count);
  }
  const ms = (microseconds: number): number => microseconds / 1000;
  const p99 = ms(histogram.percentile(99));
  const offeredMessagesPerSecond = rate * options.senders;
  const sentMessagesPerSecond = sent / loadSeconds;
  return {
    rate,
    offeredMessagesPerSecond,
    offeredDeliveriesPerSecond: offeredMessagesPerSecond * options.clients,
    sentMessagesPerSecond,
    isBenchBound: sentMessagesPerSecond < BENCH_BOUND_SHARE * offeredMessagesPerSecond,
    sent,
    expectedDeliveries: sent * options.clients,
    loadSeconds,
    deliveriesPerSecond: counts.received / loadSeconds,
    latencyMs: {
      p50: ms(histogram.percentile(50)),
      p90: ms(histogram.percentile(90)),
      p99,
      p999: ms(histogram.percentile(99.9)),
      max: ms(histogram.count === 0 ? 0 : histogram.max),
      mean: ms(histogram.count === 0 ? 0 : histogram.mean),
    },
    integrity: { ...counts, orderDisagreements: orderDisagreements(fingerprints) },
    serverCpuSeconds: before !== undefined && after !== undefined ? roundToTicks(after.cpuSeconds - before.cpuSeconds) : null,
    benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
    benchLoopDelayMs: loopDelayMs,
    droppedClients: control.dropped - droppedBefore,
    // #5: W4 counts a rate only if p99 stayed under the bound and nothing was lost.
    held: histogram.count > 0 && p99 < options.p99BoundMs && counts.lost === 0,
    histogram,
  };
}

/** Why a ramp ends after this step, in order of weight; 'steps' while it may go on. */
function rampEndAfter(round: RoundResult, failuresInARow: number, isServerShort: boolean): RampEnd {
  if (isServerShort) return 'dropped';
  if (round.integrity.lost > 0) return 'lost';
  if (failuresInARow >= P99_FAILURES_IN_A_ROW) return 'p99';
  if (round.isBenchBound) return 'bench';
  return 'steps';
}

/** No chunk arrived for QUIET_MS: the server has sent everything the connect phase made. */
const QUIET_MS = 300;
const MAX_SETTLE_MS = 60_000;

async function settle(control: Control, failure: () => unknown): Promise<void> {
  const deadline = performance.now() + MAX_SETTLE_MS;
  let chunks = control.earlyChunks;
  let quietSince = performance.now();
  while (failure() === undefined && performance.now() < deadline) {
    await sleep(50);
    const now = control.earlyChunks;
    if (now !== chunks) {
      chunks = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= QUIET_MS) {
      return;
    }
  }
}

/** Collects what every task's port reports: its connect times, then each round, in order. */
class RoundReports {
  readonly #expected: number;
  readonly #pending: RoundReport[] = [];
  readonly #ports: MessagePort[] = [];
  readonly connected: ConnectReport[] = [];
  #wake: (() => void) | null = null;
  #failure: { readonly reason: unknown } | null = null;

  constructor(expected: number) {
    this.#expected = expected;
  }

  listen(port: MessagePort): void {
    port.on('message', (message: TaskMessage) => {
      if (message.type === 'connected') this.connected.push(message.report);
      else this.#pending.push(message.report);
      this.#wake?.();
    });
    this.#ports.push(port);
  }

  close(): void {
    for (const port of this.#ports) port.close();
  }

  /** A task failed: next() throws its reason instead of waiting for a report that will not come. */
  abort(reason: unknown): void {
    this.#failure = { reason };
    this.#wake?.();
  }

  async next(): Promise<RoundReport[]> {
    while (this.#pending.length < this.#expected) {
      if (this.#failure !== null) throw this.#failure.reason;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    this.#wake = null;
    return this.#pending.splice(0, this.#expected);
  }
}

/** Descriptors the bench needs besides its clients' sockets: threads, pipes, node_modules. */
const SPARE_FILE_DESCRIPTORS = 200;

/**
 * W5's 10,000 clients are 10,000 sockets in this process: with too low a `ulimit -n` every
 * client past it would fail with EMFILE and be counted as refused by the server. Say so first.
 */
function checkOpenFileLimit(clients: number): void {
  let limits: string;
  try {
    limits = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return; // not Linux: nothing to read, and the run reports what failed
  }
  const soft = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1]);
  if (Number.isFinite(soft) && clients + SPARE_FILE_DESCRIPTORS > soft) {
    throw new Error(`${clients} clients need about ${clients + SPARE_FILE_DESCRIPTORS} open files, but ulimit -n is ${soft}; raise it (ulimit -n 20000) and run again`);
  }
}

/** 127.0.0.1, then .2, .3 … once one address would run out of ephemeral ports; none off loopback. */
export function sourceAddresses(host: string, clients: number): string[] {
  if (!host.startsWith('127.') || clients <= CLIENTS_PER_SOURCE_ADDRESS) return [];
  const count = Math.ceil(clients / CLIENTS_PER_SOURCE_ADDRESS);
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
}

/** /proc counts CPU in hundredths of a second: a difference of two samples is one too, less the float noise. */
function roundToTicks(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
