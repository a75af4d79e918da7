// The Prometheus metrics (prom-client) of both sides, and how one scrape puts them together.
// Workers count with plain numbers on their hot path (WorkerCounters) and copy them into a
// registry of their own only when the primary asks; the primary merges their answers with its
// own registry through prom-client's AggregatorRegistry, which exists for exactly this (cluster
// workers). docs/OPERATIONS.md §8 lists every metric; a name changed here is changed there.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KICK_REASONS, type CloseReason } from '../room/close-reason.ts';
import type { HistoryStatus, LinkStatus } from '../room/room.ts';
import { TRANSPORT_KINDS, type TransportKind } from './transport.ts';
import { packageVersion } from './version.ts';

/** One registry's metrics as prom-client's getMetricsAsJSON gives them: plain data, safe to post. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * Counted by a worker as things happen: plain numbers, so that the per-message path costs an
 * increment and nothing more. Read only when the primary asks for metrics.
 */
export interface WorkerCounters {
  /** Complete client lines framed by the line reader (an overlong, discarded line is not one). */
  linesIn: number;
  /** Server messages queued to clients: a broadcast counts once per recipient. */
  deliveries: number;
  bytesIn: number;
  /** Bytes handed to client sockets. */
  bytesOut: number;
  slowConsumers: number;
  /** Connections accepted, by transport (a TLS one once its handshake is done, a WebSocket once upgraded). */
  accepted: Record<TransportKind, number>;
  /** WebSocket handshakes refused for their Origin (cross-site WebSocket hijacking, SECURITY.md). */
  originRefusals: number;
  /** TLS handshakes that failed, on either TLS listener (a client with the wrong certificate, a scan, TLS 1.1). */
  tlsHandshakeFailures: number;
}

/** A number for each transport, 0 to start with. */
export const perTransport = (): Record<TransportKind, number> => ({ tcp: 0, tls: 0, ws: 0, wss: 0 });

export function createWorkerCounters(): WorkerCounters {
  return { linesIn: 0, deliveries: 0, bytesIn: 0, bytesOut: 0, slowConsumers: 0, accepted: perTransport(), originRefusals: 0, tlsHandshakeFailures: 0 };
}

/** The counters one Connection bumps itself. */
export type TrafficCounters = Pick<WorkerCounters, 'linesIn' | 'deliveries' | 'bytesIn' | 'bytesOut'>;

/**
 * Upper bounds (seconds) of the fan-out histogram: from an idle worker's few microseconds to a
 * batch that writes thousands of sockets, where a broadcast starts to be felt.
 */
export const FAN_OUT_BUCKETS_SECONDS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

type EventLoopMonitor = ReturnType<typeof monitorEventLoopDelay>;

/** Event-loop delay is sampled at this resolution (ms); what is below it does not show. */
const LAG_RESOLUTION_MS = 10;

const LAG_HELP =
  'How late one thread\'s event loop ran a 10 ms timer (perf_hooks monitorEventLoopDelay, minus the 10 ms), ' +
  'since the previous scrape; quantile="1" is the maximum.';

/**
 * `chatd_event_loop_lag_seconds{thread,quantile}`, read from a monitor of this thread and reset
 * at every scrape, so each scrape shows the delay since the one before.
 */
function registerEventLoopLag(registry: Registry, thread: string): EventLoopMonitor {
  const monitor = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  monitor.enable();
  new Gauge({
    name: 'chatd_event_loop_lag_seconds',
    help: LAG_HELP,
    labelNames: ['thread', 'quantile'],
    registers: [registry],
    collect() {
      // The monitor records the whole interval between its timer's runs; the lag is what is past
      // the interval. Nothing recorded yet (a scrape right after the last): 0.
      const seconds = (ns: number): number => (monitor.count === 0 ? 0 : Math.max(0, ns - LAG_RESOLUTION_MS * 1e6) / 1e9);
      this.set({ thread, quantile: '0.5' }, seconds(monitor.percentile(50)));
      this.set({ thread, quantile: '0.99' }, seconds(monitor.percentile(99)));
      this.set({ thread, quantile: '1' }, seconds(monitor.max));
      monitor.reset();
    },
  });
  return monitor;
}

/** A worker's registry: its counters, its clients, its fan-out times and its event-loop lag. */
export class WorkerMetrics {
  readonly #registry = new Registry();
  readonly #fanOut: Histogram<'worker'>;
  readonly #labels: { readonly worker: string };
  readonly #monitor: EventLoopMonitor;

  /** `countClients` is called at scrape time only. */
  constructor(index: number, counters: WorkerCounters, countClients: () => Readonly<Record<TransportKind, number>>) {
    const labels = { worker: String(index) };
    this.#labels = labels;
    const registers = [this.#registry];
    new Gauge({
      name: 'chatd_clients_connected',
      help: 'Clients online on this worker thread (admitted by the primary, not yet closing), by transport.',
      labelNames: ['worker', 'transport'],
      registers,
      collect() {
        const counts = countClients();
        for (const transport of TRANSPORT_KINDS) this.set({ ...labels, transport }, counts[transport]);
      },
    });
    let reportedAccepted = perTransport();
    new Counter({
      name: 'chatd_connections_total',
      help: 'Connections this worker accepted, by transport: TLS once its handshake is done, WebSocket once upgraded.',
      labelNames: ['worker', 'transport'],
      registers,
      collect() {
        for (const transport of TRANSPORT_KINDS) this.inc({ ...labels, transport }, counters.accepted[transport] - reportedAccepted[transport]);
        reportedAccepted = { ...counters.accepted };
      },
    });
    const counter = (name: string, help: string, read: () => number): void => {
      let reported = 0;
      new Counter({
        name,
        help,
        labelNames: ['worker'],
        registers,
        collect() {
          // The plain number only grows; the counter takes what it grew by since the last scrape.
          const now = read();
          this.inc(labels, now - reported);
          reported = now;
        },
      });
    };
    counter('chatd_lines_in_total', 'Complete client lines read by this worker (lines over --max-line are not counted).', () => counters.linesIn);
    counter(
      'chatd_deliveries_total',
      'Server messages queued to clients by this worker: a broadcast counts once per recipient, a reply once.',
      () => counters.deliveries,
    );
    counter('chatd_bytes_in_total', 'Bytes read from client sockets by this worker, telnet commands included.', () => counters.bytesIn);
    counter('chatd_bytes_out_total', 'Bytes written to client sockets by this worker.', () => counters.bytesOut);
    counter(
      'chatd_slow_consumers_total',
      'Clients this worker cut because more than --max-pending bytes waited for them (also in chatd_kicks_total).',
      () => counters.slowConsumers,
    );
    counter(
      'chatd_websocket_origin_refusals_total',
      "WebSocket handshakes this worker refused with 403 because the page's Origin is neither its own nor in --web-origin.",
      () => counters.originRefusals,
    );
    counter(
      'chatd_tls_handshake_failures_total',
      'TLS handshakes that failed on this worker, on --tls-port or an HTTPS --web-port.',
      () => counters.tlsHandshakeFailures,
    );
    this.#fanOut = new Histogram({
      name: 'chatd_fanout_batch_seconds',
      help:
        'Time a worker takes for one full flush: queueing the deliveries that arrived since the last one ' +
        'and writing each socket once (measured in the worker, per flush).',
      labelNames: ['worker'],
      buckets: [...FAN_OUT_BUCKETS_SECONDS],
      registers,
    });
    this.#fanOut.zero(labels);
    this.#monitor = registerEventLoopLag(this.#registry, `worker-${index}`);
  }

  /** Once per full flush, never per message. */
  observeFanOut(seconds: number): void {
    this.#fanOut.observe(this.#labels, seconds);
  }

  /** Reads every counter into the registry and returns it as data for the primary. */
  collect(): Promise<MetricsJson> {
    return this.#registry.getMetricsAsJSON();
  }

  stop(): void {
    this.#monitor.disable();
  }
}

function registerClusterMetrics(registers: Registry[], cluster: LinkStatus): void {
  new Gauge({
    name: 'chatd_cluster_link_up',
    help: 'With --redis: 1 while this node\'s link to Redis is up, 0 while it serves its own clients alone.',
    registers,
    collect() {
      this.set(cluster.isLinkUp ? 1 : 0);
    },
  });
  new Counter({
    name: 'chatd_cluster_link_losses_total',
    help: 'With --redis: times this node lost its link to Redis since it started.',
    registers,
    collect() {
      this.reset();
      this.inc(cluster.linkLosses);
    },
  });
}

/** What the history on disk counts (store/history-store.ts HistoryStore `counters`). */
export interface HistoryDiskCounters {
  readonly counters: { readonly writtenEntries: number; readonly failedBatches: number; readonly lostEntries: number };
}

/** --data-dir: entries written, writes that failed (a full disk), entries that will never be on disk. */
function registerHistoryDiskMetrics(registers: Registry[], disk: HistoryDiskCounters): void {
  const counter = (name: string, help: string, read: (counters: HistoryDiskCounters['counters']) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        // prom-client counters only go up by inc(): bring it to the store's total.
        const now = read(disk.counters);
        this.reset();
        this.inc(now);
      },
    });
  };
  counter('chatd_history_disk_entries_total', 'History entries written to --data-dir.', (counters) => counters.writtenEntries);
  counter(
    'chatd_history_disk_failures_total',
    'Batches of history entries that could not be written to --data-dir (a full disk, an I/O error, a writer thread lost): the chat goes on.',
    (counters) => counters.failedBatches,
  );
  counter('chatd_history_disk_lost_total', 'History entries that will never be on disk because their write failed.', (counters) => counters.lostEntries);
}

/** The primary's registry (presence, kicks, its own event loop) and the merge of a scrape. */
export class PrimaryMetrics {
  readonly #registry = new Registry();
  readonly #kicks: Counter<'reason'>;
  readonly #resumes: Counter<'outcome'>;
  readonly #resumeLost: Counter;
  readonly #missing: Gauge;
  readonly #monitor: EventLoopMonitor;

  /**
   * `countOnline`, `cluster` and `historyDisk` are read at scrape time only; `cluster` is null
   * without --redis, `historyDisk` without --data-dir.
   */
  constructor(
    countOnline: () => number,
    cluster: LinkStatus | null = null,
    historyDisk: HistoryDiskCounters | null = null,
    history: HistoryStatus = { size: 0, latest: 0 },
  ) {
    const registers = [this.#registry];
    new Gauge({
      name: 'chatd_clients_online',
      help: 'Clients online, as the primary\'s presence (and `who`) lists them.',
      registers,
      collect() {
        this.set(countOnline());
      },
    });
    this.#kicks = new Counter({
      name: 'chatd_kicks_total',
      help: 'Clients put out by the server, by close reason (docs/OPERATIONS.md §6); a refused connection counts too.',
      labelNames: ['reason'],
      registers,
    });
    // Every reason from the start: a series that appears only on the first kick breaks rate().
    for (const reason of KICK_REASONS) this.#kicks.inc({ reason }, 0);
    new Gauge({
      name: 'chatd_history_entries',
      help: 'History entries kept in memory for /history and resumes (at most --history-size).',
      registers,
      collect() {
        this.set(history.size);
      },
    });
    new Gauge({
      name: 'chatd_history_position',
      help: 'The position of the newest history entry (PROTOCOL.md §10.1): its rate is the chat lines, renames and announcements a second.',
      registers,
      collect() {
        this.set(history.latest);
      },
    });
    this.#resumes = new Counter({
      name: 'chatd_resumes_total',
      help: 'Clients that tried to take back their session after a drop (/resume, or the WebSocket handshake), by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['resumed', 'refused']) this.#resumes.inc({ outcome }, 0);
    this.#resumeLost = new Counter({
      name: 'chatd_resume_entries_lost_total',
      help: 'Entries resuming clients had missed that the history no longer held (they were told so): a sign that --history-size is too small.',
      registers,
    });
    this.#missing = new Gauge({
      name: 'chatd_scrape_workers_missing',
      help: 'Worker threads that did not answer this scrape in time (200 ms); their metrics are missing from it.',
      registers,
    });
    this.#monitor = registerEventLoopLag(this.#registry, 'primary');
    if (cluster !== null) registerClusterMetrics(registers, cluster);
    if (historyDisk !== null) registerHistoryDiskMetrics(registers, historyDisk);
    // prom-client's process and Node figures (#10 §7), under their usual names so that stock
    // dashboards read them: RSS, CPU and open descriptors are the whole process, every worker
    // included; heap, GC and event-loop figures are the primary thread's own.
    collectDefaultMetrics({ register: this.#registry });
    new Gauge({
      name: 'chatd_build_info',
      help: 'Always 1; the labels say which chatd and which Node this is.',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: packageVersion(), node: process.version }, 1);
  }

  countKick(reason: CloseReason): void {
    this.#kicks.inc({ reason });
  }

  countResume(outcome: 'resumed' | 'refused', lost: number): void {
    this.#resumes.inc({ outcome });
    if (lost > 0) this.#resumeLost.inc(lost);
  }

  /**
   * The whole scrape in the Prometheus text format: the primary's metrics, then the workers'
   * answers in the order given. Their series differ by the `worker` or `thread` label, so the
   * merge only puts each metric's lines under one HELP and TYPE.
   */
  async render(workerAnswers: readonly MetricsJson[], missingWorkers: number): Promise<{ contentType: string; text: string }> {
    this.#missing.set(missingWorkers);
    const own = await this.#registry.getMetricsAsJSON();
    const merged = AggregatorRegistry.aggregate([own, ...workerAnswers]);
    return { contentType: this.#registry.contentType, text: await merged.metrics() };
  }

  stop(): void {
    this.#monitor.disable();
  }
}
