// The primary thread: checks the port, starts the worker threads, owns the chat room (presence,
// the global order, idle timeouts), serves the HTTP admin endpoints and runs the shutdown. Never
// touches a client socket. Which room it runs is the caller's choice (cli/compose-room.ts).

import { once } from 'node:events';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeError, shuttingDown } from '../protocol/index.ts';
import { startAdminHttp, type AdminBackend, type AdminHttp } from './admin-http.ts';
import { encodeText } from './bytes.ts';
import type { ServerConfig } from './config.ts';
import type { TlsIdentity } from './config-inputs.ts';
import { Dispatcher } from './dispatcher.ts';
import { ListenError, type PortFlag } from './listen-error.ts';
import type { CloseReason } from '../room/close-reason.ts';
import type { RoomParts } from '../room/room-core.ts';
import type { Logger } from './log.ts';
import { SERIALS_PER_START, workerOf, type ClientEvent, type PrimaryMessage, type WorkerMessage, type WorkerSettings } from './messages.ts';
import { PrimaryMetrics, type MetricsJson } from './metrics.ts';
import type { Room } from '../room/room.ts';
import { readWebFiles, type WebFile } from './web-files.ts';

export { WebFilesError } from './web-files.ts';

/** SIGTERM to exit: clients get this long to take their last lines (the issue asks for 5 s in all). */
const SHUTDOWN_DRAIN_MS = 4000;

/**
 * How long a scrape of /metrics waits for the workers' answers. A worker that answers later is
 * missing from that scrape (chatd_scrape_workers_missing says how many): a scrape that hangs on
 * one busy thread would hide the metrics of all the others (issue #4 §3 asks for about 200 ms).
 */
export const METRICS_DEADLINE_MS = 200;

/**
 * What the CLI reads from files and the environment, not from the config: a secret that would
 * end up in a log, and text. Read at start, and again on SIGHUP (RunningServer.reload).
 */
export interface ServerInputs {
  /** The bearer token for POST /announce; null: /announce is off. */
  readonly adminToken: string | null;
  /** The message of the day, one line each, sent after every greeting; none when empty. */
  readonly motd: readonly string[];
  /** The certificate and key of the TLS listeners (config-inputs.ts readTlsIdentity); null without --tls-cert. */
  readonly tls: TlsIdentity | null;
}

export { ListenError } from './listen-error.ts';

/**
 * The history kept on disk (store/, --data-dir) as the server sees it: counted in /metrics, and
 * closed at stop once the room has decided its last entry.
 */
export interface HistoryDisk {
  readonly counters: {
    readonly writtenEntries: number;
    readonly failedBatches: number;
    readonly lostEntries: number;
  };
  close(): Promise<void>;
}

/** Makes the room the primary runs, given where its decisions go (cli/compose-room.ts). */
export type RoomFactory = (parts: RoomParts) => Room;

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** The HTTP admin endpoints' port (the real one with --http-port 0); null when they are off. */
  readonly httpPort: number | null;
  /** The web client's port (--web-port) and the TLS line port (--tls-port), as bound; null when off. */
  readonly webPort: number | null;
  readonly tlsPort: number | null;
  /** Tells every client, flushes, closes every socket and stops the workers. */
  stop(): Promise<void>;
  /**
   * Puts new inputs in force without dropping anyone (SIGHUP): the admin token, the message of
   * the day, and the certificate, which new TLS handshakes use while open connections keep theirs.
   */
  reload(inputs: ServerInputs): void;
  /** Test hook: makes worker `index` throw an uncaught error, as a bug would. */
  crashWorker(index: number): void;
}

export async function startServer(
  config: ServerConfig,
  log: Logger,
  inputs: ServerInputs,
  createRoom: RoomFactory,
  historyDisk: HistoryDisk | null = null,
): Promise<RunningServer> {
  const ports: ListenerPorts = {
    port: await reservePort(config.host, config.port, '--port'),
    webPort: config.webPort === null ? null : await reservePort(config.host, config.webPort, '--web-port'),
    tlsPort: config.tlsPort === null ? null : await reservePort(config.host, config.tlsPort, '--tls-port'),
  };
  // Read before any worker starts: a checkout without the page fails here, in one line.
  const webFiles = config.webPort === null ? [] : readWebFiles();
  const primary = new Primary(config, ports, { tls: inputs.tls, webFiles }, log, createRoom, historyDisk);
  // The room first: a cluster whose Redis cannot be reached stops the start before any client gets in.
  await primary.startRoom();
  try {
    await primary.start();
  } catch (error) {
    await primary.stopRoom();
    throw error;
  }
  let http: AdminHttp | null = null;
  if (config.httpPort !== null) {
    try {
      http = await startAdminHttp({
        host: config.host,
        port: config.httpPort,
        adminToken: inputs.adminToken,
        // An announcement is one line: the same limit as a client's.
        maxBodyBytes: config.maxLineBytes,
        backend: primary.adminBackend,
        log,
      });
    } catch (error) {
      await primary.stop(); // nobody is online yet: the workers stop at once
      throw error;
    }
  }
  return {
    host: config.host,
    ...ports,
    httpPort: http?.port ?? null,
    async stop() {
      // /healthz answers 503 while the clients are told goodbye; then the HTTP side closes too.
      await primary.stop();
      await http?.close();
      // Last: what the room decided before the goodbye is written, then the file is closed.
      await historyDisk?.close();
    },
    reload(next) {
      primary.setMotd(next.motd);
      http?.setAdminToken(next.adminToken);
      if (next.tls !== null) primary.setTls(next.tls);
    },
    crashWorker: (index) => primary.post(index, { type: 'test-crash' }),
  };
}

/** The ports every worker binds, as reserved (a port 0 resolved to the one the kernel gave). */
interface ListenerPorts {
  readonly port: number;
  readonly webPort: number | null;
  readonly tlsPort: number | null;
}

/**
 * Binds the port once without SO_REUSEPORT and lets it go. With reusePort alone, a second chatd
 * of the same user would silently share the port with the first; an exclusive bind fails instead.
 * For port 0 it also picks the one port every worker then binds.
 */
async function reservePort(host: string, port: number, flag: PortFlag): Promise<number> {
  const probe = createServer();
  try {
    probe.listen({ host, port, exclusive: true });
    await once(probe, 'listening');
    const address = probe.address();
    if (address === null || typeof address === 'string') throw new ListenError('EINVAL', 'not a TCP address', flag);
    return address.port;
  } catch (error) {
    if (error instanceof ListenError) throw error;
    const cause = error as NodeJS.ErrnoException;
    throw new ListenError(cause.code ?? 'UNKNOWN', cause.message, flag);
  } finally {
    probe.close();
  }
}

class Primary {
  readonly #config: ServerConfig;
  readonly #ports: ListenerPorts;
  /** The certificate workers start with: a replacement worker gets the latest reload's. */
  #tls: TlsIdentity | null;
  readonly #webFiles: readonly WebFile[];
  readonly #log: Logger;
  readonly #workers = new Map<number, Worker>();
  /** How many times each worker index has been started. */
  readonly #starts = new Map<number, number>();
  readonly #dispatcher: Dispatcher;
  readonly #room: Room;
  readonly #metrics: PrimaryMetrics;
  #idleTimer: NodeJS.Timeout | undefined;
  #isStopping = false;
  /** Scrapes waiting for the workers' answers, by request id. */
  readonly #scrapes = new Map<number, (worker: number, metrics: MetricsJson) => void>();
  #lastScrapeId = 0;
  /** The round trip in flight, which a scrape that arrives meanwhile shares. */
  #scrapeInFlight: Promise<WorkerAnswers> | null = null;

  constructor(
    config: ServerConfig,
    ports: ListenerPorts,
    files: { readonly tls: TlsIdentity | null; readonly webFiles: readonly WebFile[] },
    log: Logger,
    createRoom: RoomFactory,
    historyDisk: HistoryDisk | null,
  ) {
    this.#config = config;
    this.#ports = ports;
    this.#tls = files.tls;
    this.#webFiles = files.webFiles;
    this.#log = log;
    this.#dispatcher = new Dispatcher({
      post: (index, ops) => this.post(index, { type: 'deliver', ops }),
      workerIndexes: () => this.#workers.keys(),
    });
    const observer = {
      onKick: (reason: CloseReason) => this.#metrics.countKick(reason),
      onResume: (outcome: 'resumed' | 'refused', lost: number) => this.#metrics.countResume(outcome, lost),
    };
    this.#room = createRoom({ delivery: this.#dispatcher, log, observer, workerOf });
    this.#metrics = new PrimaryMetrics(() => this.#room.online, this.#room.link, historyDisk, this.#room.history);
  }

  /** Readies the room: with --redis, connects and registers this node (ClusterError when Redis cannot be reached). */
  async startRoom(): Promise<void> {
    await this.#room.start();
  }

  async stopRoom(): Promise<void> {
    await this.#room.stop();
  }

  setMotd(lines: readonly string[]): void {
    this.#room.setMotd(lines);
  }

  setTls(tls: TlsIdentity): void {
    this.#tls = tls;
    for (const index of this.#workers.keys()) this.post(index, { type: 'tls-reload', tls });
  }

  /** What the HTTP admin endpoints read and do: all of it in this thread, in the global order. */
  readonly adminBackend: AdminBackend = {
    isStopping: () => this.#isStopping,
    metrics: async () => {
      const { answers, missing } = await this.#askWorkersForMetrics();
      return this.#metrics.render(answers, missing);
    },
    who: () => this.#room.who(),
    announce: (text) => this.#room.announce(text),
  };

  async start(): Promise<void> {
    const started: Promise<void>[] = [];
    for (let index = 0; index < this.#config.workers; index++) started.push(this.#startWorker(index));
    const results = await Promise.allSettled(started);
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all([...this.#workers.values()].map((worker) => worker.terminate()));
      throw failure.reason;
    }
  }

  async stop(): Promise<void> {
    if (this.#isStopping) return;
    this.#isStopping = true;
    clearTimeout(this.#idleTimer);
    this.#dispatcher.flush(); // decisions made before the signal go out before the notice
    const notice = encodeText(encodeError(shuttingDown()));
    const drained = [...this.#workers.values()].map(async (worker) => {
      const isDrained = new Promise<void>((resolve) => {
        worker.on('message', (message: WorkerMessage) => message.type === 'drained' && resolve());
        worker.once('exit', () => resolve());
      });
      worker.postMessage({ type: 'shutdown', notice } satisfies PrimaryMessage);
      await Promise.race([isDrained, sleep(SHUTDOWN_DRAIN_MS, undefined, { ref: false })]);
    });
    await Promise.all(drained);
    await Promise.all([...this.#workers.values()].map((worker) => worker.terminate()));
    // The other nodes are told this node's clients are gone, once they have been told goodbye.
    await this.#room.stop();
    this.#metrics.stop();
  }

  /**
   * Asks every running worker for its metrics and waits METRICS_DEADLINE_MS at most. Answers come
   * back in worker order whatever order they arrived in, so a scrape's lines are stable.
   */
  #askWorkersForMetrics(): Promise<WorkerAnswers> {
    // fast path: scrapes that overlap share one round trip; its answers are at most 200 ms old.
    if (this.#scrapeInFlight !== null) return this.#scrapeInFlight;
    const requestId = ++this.#lastScrapeId;
    const asked = [...this.#workers.keys()];
    const answers = new Map<number, MetricsJson>();
    const scrape = new Promise<WorkerAnswers>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#scrapes.delete(requestId);
        this.#scrapeInFlight = null;
        const ordered = [...answers.keys()].sort((a, b) => a - b).map((worker) => answers.get(worker)!);
        resolve({ answers: ordered, missing: asked.length - answers.size });
      };
      const timer = setTimeout(finish, METRICS_DEADLINE_MS);
      this.#scrapes.set(requestId, (worker, metrics) => {
        answers.set(worker, metrics);
        if (answers.size === asked.length) finish();
      });
      for (const index of asked) this.post(index, { type: 'metrics-request', requestId });
      if (asked.length === 0) finish();
    });
    // Set after the executor: a scrape with no worker to ask has already finished inside it.
    if (this.#scrapes.has(requestId)) this.#scrapeInFlight = scrape;
    return scrape;
  }

  /** Starts worker `index` and resolves once it listens. */
  #startWorker(index: number): Promise<void> {
    const starts = this.#starts.get(index) ?? 0;
    this.#starts.set(index, starts + 1);
    const settings: WorkerSettings = {
      index,
      firstSerial: starts * SERIALS_PER_START,
      host: this.#config.host,
      port: this.#ports.port,
      webPort: this.#ports.webPort,
      tlsPort: this.#ports.tlsPort,
      tls: this.#tls,
      webOrigins: this.#config.webOrigins,
      webKeepaliveSeconds: this.#config.webKeepaliveSeconds,
      webFiles: this.#webFiles,
      maxLineBytes: this.#config.maxLineBytes,
      maxPendingBytes: this.#config.maxPendingBytes,
      rateLimit: this.#config.rateLimit,
      rateBurst: this.#config.rateBurst,
      logLevel: this.#config.logLevel,
    };
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: settings });
    this.#workers.set(index, worker);
    return new Promise((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'listening':
            return resolve();
          case 'listen-failed':
            this.#log.error({ worker: index, flag: message.flag, code: message.code, err: message.message }, 'worker could not listen');
            return reject(new ListenError(message.code, message.message, message.flag));
          case 'events':
            return this.#handleEvents(message);
          case 'drained':
            return;
          case 'metrics':
            // An answer after its scrape's deadline finds no scrape waiting: dropped.
            return this.#scrapes.get(message.requestId)?.(index, message.metrics);
          default:
            // A message this primary does not know: a bug, never a reason to crash.
            this.#log.error({ worker: index, message }, 'unexpected message from a worker; ignored');
        }
      });
      worker.on('error', (error) => {
        this.#log.error({ worker: index, err: error }, 'worker thread failed');
        reject(error);
      });
      worker.on('exit', (code) => this.#workerExited(index, worker, code));
    });
  }

  #handleEvents(message: Extract<WorkerMessage, { type: 'events' }>): void {
    const now = performance.now();
    const events: unknown = message.events;
    if (!Array.isArray(events)) {
      this.#log.error({ message }, 'malformed events from a worker; ignored');
      return;
    }
    for (const event of events as ClientEvent[]) {
      try {
        this.#room.handle(event, now);
      } catch (error) {
        // A malformed event is a bug in a worker; the primary, and everyone's chat, go on.
        this.#log.error({ event, err: error }, 'could not handle an event from a worker; ignored');
      }
    }
    if (this.#idleTimer === undefined) this.#armIdleTimer(this.#room.nextIdleDeadline());
  }

  /** One timer for every client: the earliest deadline is always the first to fall due. */
  #armIdleTimer(deadline: number | undefined): void {
    this.#idleTimer = undefined;
    if (deadline === undefined || this.#isStopping) return;
    this.#idleTimer = setTimeout(
      () => this.#armIdleTimer(this.#room.expireIdle(performance.now())),
      Math.max(0, deadline - performance.now()),
    );
  }

  #workerExited(index: number, worker: Worker, code: number): void {
    if (this.#workers.get(index) !== worker) return;
    this.#workers.delete(index);
    if (this.#isStopping) return;
    // Its sockets died with it: everyone else is told they left, and a new worker takes the port.
    this.#log.error({ worker: index, exitCode: code }, 'worker thread exited; starting a replacement');
    this.#room.dropConnections((id) => workerOf(id) === index, performance.now());
    this.#startWorker(index).then(
      () => this.#log.warn({ event: 'worker-replaced', worker: index }, 'replacement worker thread listening'),
      (error: unknown) => this.#log.fatal({ worker: index, err: error }, 'could not replace a worker thread'),
    );
  }

  post(index: number, message: PrimaryMessage): void {
    this.#workers.get(index)?.postMessage(message);
  }
}

interface WorkerAnswers {
  readonly answers: readonly MetricsJson[];
  /** Workers asked that did not answer in time. */
  readonly missing: number;
}

