// A piscina task: one share of the simulated clients, for the whole run. Connects them at the
// ramp rate, then follows the primary's phases through the shared Control: sends on the senders'
// schedule, checks every message each client receives, and posts each round's figures on its port.

import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import type { MessagePort } from 'node:worker_threads';
import { openConnection, type ClientConnection } from './client-connection.ts';
import { Control, Phase } from './control.ts';
import { addCounts, ClientTally, emptyCounts, type IntegrityCounts } from './integrity.ts';
import { MARKER, formatPayload, parsePayloadAt, type ParsedPayload } from './payload.ts';
import { wireFor, type ProtocolName, type TransportName, type Wire } from './wire.ts';

export interface ClientTask {
  readonly taskIndex: number;
  readonly tasks: number;
  readonly host: string;
  /** Client i connects to ports[i mod n]: one port, or the nodes of a cluster. */
  readonly ports: readonly number[];
  readonly protocol: ProtocolName;
  readonly transport: TransportName;
  /** tls, wss: the PEM the server's certificate must chain to; null: not checked (client-connection.ts). */
  readonly caPem: string | null;
  /** This task runs clients firstClient .. firstClient + clientCount - 1 of totalClients. */
  readonly firstClient: number;
  readonly clientCount: number;
  readonly totalClients: number;
  readonly senders: number;
  readonly payloadBytes: number;
  /** Drawn once per run and carried in every payload: messages of other runs are not counted. */
  readonly runId: number;
  /** Connections per second this task opens. */
  readonly rampPerSecond: number;
  /** process.hrtime.bigint() at the start of the run, as a decimal string. */
  readonly epochNs: string;
  readonly control: SharedArrayBuffer;
  readonly roundPort: MessagePort;
  readonly drainTimeoutMs: number;
  /** The primary's deadline for everyone to be greeted (a client library's own must not come first). */
  readonly connectTimeoutMs: number;
  /** Local addresses to connect from, round robin by client index; empty: the kernel picks. */
  readonly sourceAddresses: readonly string[];
}

/** One round's figures from one task. */
export interface RoundReport {
  readonly taskIndex: number;
  readonly round: number;
  readonly histogram: RecordableHistogram;
  readonly counts: IntegrityCounts;
  readonly fingerprints: ReadonlyArray<readonly [string, number]>;
  /**
   * How late this thread's event loop ran during the load (ms): a message that arrives while
   * the loop is busy waits for it, so this bounds what the bench adds to the latency it reports.
   */
  readonly loopDelayMs: { readonly p99: number; readonly max: number };
}

/** When this task started connecting, and when its last client was greeted (ns since the epoch). */
export interface ConnectReport {
  readonly taskIndex: number;
  readonly firstConnectNs: number;
  readonly lastGreetNs: number;
}

export type TaskMessage = { readonly type: 'connected'; readonly report: ConnectReport } | { readonly type: 'round'; readonly report: RoundReport };

export interface TaskSummary {
  readonly taskIndex: number;
  readonly errors: readonly string[];
}

/** Sender j is client floor(j × clients / senders): senders spread evenly over every task. */
export function senderOfClient(client: number, clients: number, senders: number): number {
  const sender = Math.ceil((client * senders) / clients);
  return sender < senders && Math.floor((sender * clients) / senders) === client ? sender : -1;
}

/** Sends at most this many messages per sender per tick, so a stalled thread cannot burst. */
const MAX_BURST = 50;
const TICK_MS = 5;
/** Clients connecting but not yet greeted, at most: a SYN flood is not the workload. */
const MAX_CONNECTING = 256;
/** How often a thread waiting for a connection slot looks whether the primary gave up. */
const SLOT_POLL_MS = 50;

class SimulatedClient {
  readonly tally: ClientTally;
  readonly sender: number;
  /** Set right after the constructor: its events need the client first. */
  connection: ClientConnection | null = null;
  isGreeted = false;
  isRefused = false;
  sent = 0;

  constructor(senders: number, sender: number) {
    this.tally = new ClientTally(senders);
    this.sender = sender;
  }
}

export default async function runClients(task: ClientTask): Promise<TaskSummary> {
  const post = (message: TaskMessage): void => task.roundPort.postMessage(message);
  const control = new Control(task.senders, task.control);
  const wire = wireFor(task.protocol);
  const epoch = BigInt(task.epochNs);
  const errors: string[] = [];
  const clients: SimulatedClient[] = [];
  let histogram = createHistogram();
  const parsed: ParsedPayload = { run: 0, sender: 0, seq: 0, sentNs: 0 };
  let connecting = 0;
  let onSlot: (() => void) | null = null;
  let greeted = 0;
  let refused = 0;
  let lastGreetNs = 0;
  const nowNs = (): number => Number(process.hrtime.bigint() - epoch);

  /** `data` is whole lines (client-connection.ts), whatever the transport. */
  const receive = (client: SimulatedClient, data: Buffer): void => {
    const phase = control.phase;
    // Before the first round there are no payloads: once greeted, skip the bytes (logins, mostly).
    if (phase === Phase.Connect) {
      control.countEarlyChunk();
      if (client.isGreeted) return;
    }
    if (!client.isGreeted) greet(client, data, wire);
    let at = data.indexOf(MARKER);
    if (at === -1) return;
    const receivedNs = nowNs();
    while (at !== -1) {
      if (parsePayloadAt(data, at, parsed) && parsed.run === task.runId) {
        client.tally.receive(parsed.sender, parsed.seq);
        histogram.record(Math.max(1, Math.round((receivedNs - parsed.sentNs) / 1000)));
      }
      at = data.indexOf(MARKER, at + MARKER.length);
    }
  };

  const greet = (client: SimulatedClient, data: Buffer, protocol: Wire): void => {
    if (data.indexOf(protocol.greeting) !== -1) {
      client.isGreeted = true;
      lastGreetNs = nowNs();
      greeted++;
      control.countGreeted();
      connecting--;
      onSlot?.();
    } else if (data.indexOf(protocol.refusal) !== -1) {
      client.isRefused = true;
      refused++;
      control.countRefused();
      errors.push(`a client was refused: ${data.toString('latin1').trim().slice(0, 200)}`);
      client.connection?.destroy(); // the close handler frees its slot
    }
  };

  // Phase CONNECT: open this share's connections at the ramp rate.
  const started = performance.now();
  const firstConnectNs = nowNs();
  // The primary ends the run (phase DONE) when the connect phase times out: a server that hangs
  // instead of greeting must not keep this loop, or the slot wait below, going for ever.
  for (let i = 0; i < task.clientCount && control.phase === Phase.Connect; i++) {
    const index = task.firstClient + i;
    const due = started + (i * 1000) / task.rampPerSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    while (connecting >= MAX_CONNECTING && control.phase === Phase.Connect) {
      await new Promise<void>((resolve) => {
        onSlot = resolve;
        setTimeout(resolve, SLOT_POLL_MS);
      });
    }
    onSlot = null;
    if (control.phase !== Phase.Connect) break;
    const localAddress = task.sourceAddresses.length > 0 ? task.sourceAddresses[index % task.sourceAddresses.length] : undefined;
    const client = new SimulatedClient(task.senders, senderOfClient(index, task.totalClients, task.senders));
    clients.push(client);
    connecting++;
    const port = task.ports[index % task.ports.length]!;
    const target = { transport: task.transport, host: task.host, port, localAddress, caPem: task.caPem, connectTimeoutMs: task.connectTimeoutMs };
    client.connection = openConnection(target, wire, {
      lines: (data) => receive(client, data),
      error: (error) => {
        if (control.phase !== Phase.Done) errors.push(`client ${index}: ${error.message}`);
      },
      close: () => {
        if (client.isGreeted) {
          // Closed by the other end (the bench closes its connections only once the phase is
          // DONE): a kick, or a server that died. The run reports how many clients it held.
          if (control.phase !== Phase.Done) control.countDropped();
          return;
        }
        connecting--;
        onSlot?.();
        if (!client.isRefused && control.phase === Phase.Connect) {
          refused++;
          control.countRefused();
        }
      },
    });
  }

  while (greeted + refused < task.clientCount && control.phase === Phase.Connect) await sleep(5);
  post({ type: 'connected', report: { taskIndex: task.taskIndex, firstConnectNs, lastGreetNs } });

  // Rounds: LOAD (send on schedule) then DRAIN (wait for what is in flight), until DONE.
  const senders = clients.filter((client) => client.sender !== -1);
  let phase = await control.waitPhaseChange(Phase.Connect);
  while (phase === Phase.Load) {
    const round = control.round;
    const rate = control.rate;
    const roundStart = performance.now();
    const sentAtStart = senders.map((client) => client.sent);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const ticker = setInterval(() => {
      const elapsedSeconds = (performance.now() - roundStart) / 1000;
      senders.forEach((client, k) => {
        // Sender j starts j/senders of a period late: senders are not in step, as people are not.
        const offset = client.sender / task.senders / rate;
        const due = Math.min(MAX_BURST, Math.ceil((elapsedSeconds - offset) * rate) - (client.sent - sentAtStart[k]!));
        for (let n = 0; n < due; n++) {
          const sentNs = Number(process.hrtime.bigint() - epoch);
          client.connection!.publish(formatPayload(task.runId, client.sender, client.sent, sentNs, task.payloadBytes));
          client.sent++;
        }
      });
    }, TICK_MS);
    phase = await control.waitPhaseChange(Phase.Load);
    clearInterval(ticker);
    loopDelay.disable();
    const loopDelayMs = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };

    for (const client of senders) control.publishSent(client.sender, client.sent);
    control.taskStopped();
    await control.waitStopped(task.tasks);
    const sent = control.sentTotals();
    const deadline = performance.now() + task.drainTimeoutMs;
    while (performance.now() < deadline && !clients.every((client) => client.tally.hasAll(sent))) await sleep(20);

    const counts = emptyCounts();
    const fingerprints = new Map<string, number>();
    for (const client of clients) {
      const result = client.tally.endRound(sent);
      addCounts(counts, result.counts);
      if (result.counts.lost === 0) fingerprints.set(result.fingerprint, (fingerprints.get(result.fingerprint) ?? 0) + 1);
    }
    post({ type: 'round', report: { taskIndex: task.taskIndex, round, histogram, counts, fingerprints: [...fingerprints], loopDelayMs } });
    histogram = createHistogram();
    phase = await control.waitPhaseChange(Phase.Drain);
  }

  for (const client of clients) client.connection?.destroy();
  task.roundPort.close();
  return { taskIndex: task.taskIndex, errors: errors.slice(0, 20) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
