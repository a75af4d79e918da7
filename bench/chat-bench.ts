// The chat-bench engine: starts (or finds) the server, spreads the simulated clients over
// piscina threads, drives the phases through the shared Control, and merges what the threads
// measured into one result. Runs in the bench's main thread; prints nothing (see report.ts).

import { randomInt } from 'node:crypto';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ClientTask, ConnectReport, RoundReport, TaskMessage, TaskSummary } from './client-worker.ts';
import { Control } from './control.ts';
import { addCounts, emptyCounts, orderDisagreements, type IntegrityCounts } from './integrity.ts';
import { MIN_PAYLOAD_BYTES } from './payload.ts';
import { sampleProcess, spawnServer, type ProcessSample, type RunningServer, type ServerKind } from './servers.ts';
import type { ProtocolName } from './wire.ts';

export interface BenchOptions {
  readonly host: string;
  readonly port: number;
  readonly protocol: ProtocolName;
  /** Start this server for the run instead of using host:port. */
  readonly spawn: ServerKind | null;
  readonly workers: number;
  readonly seedBinary: string;
  readonly chatdRoot?: string;
  readonly serverArgs?: readonly string[];
  readonly serverPid: number | null;
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
  readonly p99BoundMs: number;
  readonly drainTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface RoundResult {
  readonly rate: number;
  readonly sent: number;
  readonly expectedDeliveries: number;
  readonly loadSeconds: number;
  readonly deliveriesPerSecond: number;
  /** Milliseconds from send to receipt. */
  readonly latencyMs: LatencySummary;
  readonly integrity: IntegrityCounts & { readonly orderDisagreements: number };
  readonly serverCpuSeconds: number | null;
  readonly histogram: RecordableHistogram;
}

export interface BenchResult {
  readonly target: { readonly kind: string; readonly host: string; readonly port: number; readonly protocol: ProtocolName; readonly workers: number | null };
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
  /** The round the headline figures come from: the only one, or with --max the fastest that held. */
  readonly headline: RoundResult | null;
  readonly server: {
    readonly cpuSeconds: number | null;
    readonly peakRssBytes: number | null;
    readonly rssPerClientBytes: number | null;
  };
  readonly benchCpuSeconds: number;
  readonly errors: readonly string[];
}

export interface BenchProgress {
  connecting(greeted: number, total: number): void;
  loading(elapsedSeconds: number, totalSeconds: number, rate: number): void;
  done(): void;
}

/** A source address serves at most this many clients: loopback has about 28 000 ephemeral ports. */
const CLIENTS_PER_SOURCE_ADDRESS = 20_000;
const MAX_STEP_FACTOR = 1.5;
const MAX_STEPS = 20;

export async function runBench(options: BenchOptions, progress?: BenchProgress): Promise<BenchResult> {
  const server = options.spawn === null ? null : await spawnServer({
    kind: options.spawn,
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
  const port = server?.port ?? options.port;
  const pid = server?.pid ?? options.serverPid;
  const sample = (): ProcessSample | undefined => (pid === null ? undefined : sampleProcess(pid));
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
      port,
      protocol: options.protocol,
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
      sourceAddresses: sourceAddresses(host, options.clients),
    };
    tasks.push(pool.run(task, { transferList: [channel.port2] }) as Promise<TaskSummary>);
  }
  let failure: unknown;
  const settled = Promise.allSettled(tasks).then((results) => {
    failure = results.find((result) => result.status === 'rejected')?.reason;
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
    while (reports.connected.length < threads && failure === undefined) await sleep(5);
    // From the first connection attempt of any thread to the last greeting: thread start-up is not the server's time.
    const connectSeconds =
      (Math.max(...reports.connected.map((report) => report.lastGreetNs)) -
        Math.min(...reports.connected.map((report) => report.firstConnectNs))) / 1e9;
    // Everyone is greeted, but everyone's logins may still be on their way to everyone (n² lines):
    // a round starts once the server has gone quiet, or it would measure the connect backlog.
    const settleStart = performance.now();
    await settle(control, failure);
    const settleSeconds = (performance.now() - settleStart) / 1000;
    const connected = sample();
    const connect = { clients: options.clients, greeted: control.greeted, refused: control.refused, seconds: connectSeconds, settleSeconds };

    const rounds: RoundResult[] = [];
    let headline: RoundResult | null = null;
    if (connect.greeted === options.clients) {
      let rate = options.rate;
      for (let step = 0; step < (options.max ? MAX_STEPS : 1); step++) {
        const round = await runRound(options, control, reports, rate, sample, progress);
        rounds.push(round);
        const held = round.latencyMs.p99 <= options.p99BoundMs && round.integrity.lost === 0;
        if (!options.max) headline = round;
        else if (held) headline = round;
        else break;
        rate *= MAX_STEP_FACTOR;
      }
    }
    control.finish();
    const summaries = (await settled).flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    if (failure !== undefined) throw failure;
    const after = sample();
    const cpu = process.cpuUsage(cpuAtStart);
    return {
      target: { kind: server?.kind ?? 'external', host, port, protocol: options.protocol, workers: server?.kind === 'chatd' ? options.workers : null },
      options,
      connect,
      rounds,
      headline,
      server: {
        cpuSeconds: idle !== undefined && after !== undefined ? after.cpuSeconds - idle.cpuSeconds : null,
        peakRssBytes: after?.peakRssBytes ?? null,
        rssPerClientBytes:
          idle !== undefined && connected !== undefined ? Math.max(0, connected.rssBytes - idle.rssBytes) / options.clients : null,
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
  const sent = sum(control.sentTotals()) - sentBefore;
  const histogram = createHistogram();
  const counts = emptyCounts();
  const fingerprints = new Map<string, number>();
  for (const report of roundReports) {
    histogram.add(report.histogram);
    addCounts(counts, report.counts);
    for (const [fingerprint, count] of report.fingerprints) fingerprints.set(fingerprint, (fingerprints.get(fingerprint) ?? 0) + count);
  }
  const ms = (microseconds: number): number => microseconds / 1000;
  return {
    rate,
    sent,
    expectedDeliveries: sent * options.clients,
    loadSeconds,
    deliveriesPerSecond: counts.received / loadSeconds,
    latencyMs: {
      p50: ms(histogram.percentile(50)),
      p90: ms(histogram.percentile(90)),
      p99: ms(histogram.percentile(99)),
      p999: ms(histogram.percentile(99.9)),
      max: ms(histogram.count === 0 ? 0 : histogram.max),
      mean: ms(histogram.count === 0 ? 0 : histogram.mean),
    },
    integrity: { ...counts, orderDisagreements: orderDisagreements(fingerprints) },
    serverCpuSeconds: before !== undefined && after !== undefined ? after.cpuSeconds - before.cpuSeconds : null,
    histogram,
  };
}

/** No chunk arrived for QUIET_MS: the server has sent everything the connect phase made. */
const QUIET_MS = 300;
const MAX_SETTLE_MS = 60_000;

async function settle(control: Control, failure: unknown): Promise<void> {
  const deadline = performance.now() + MAX_SETTLE_MS;
  let chunks = control.earlyChunks;
  let quietSince = performance.now();
  while (failure === undefined && performance.now() < deadline) {
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

  async next(): Promise<RoundReport[]> {
    while (this.#pending.length < this.#expected) await new Promise<void>((resolve) => (this.#wake = resolve));
    this.#wake = null;
    return this.#pending.splice(0, this.#expected);
  }
}

/** 127.0.0.1, then .2, .3 … once one address would run out of ephemeral ports; none off loopback. */
export function sourceAddresses(host: string, clients: number): string[] {
  if (!host.startsWith('127.') || clients <= CLIENTS_PER_SOURCE_ADDRESS) return [];
  const count = Math.ceil(clients / CLIENTS_PER_SOURCE_ADDRESS);
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
