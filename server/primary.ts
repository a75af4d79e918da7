// The primary thread: checks the port, starts the worker threads, owns the chat room (presence,
// the global order, idle timeouts) and runs the shutdown. Never touches a client socket.

import { once } from 'node:events';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { encodeError, shuttingDown } from '../protocol/index.ts';
import { encodeText } from './bytes.ts';
import { ChatRoom } from './chat-room.ts';
import type { ServerConfig } from './config.ts';
import { Dispatcher } from './dispatcher.ts';
import type { Logger } from './log.ts';
import { SERIALS_PER_START, workerOf, type ClientEvent, type PrimaryMessage, type WorkerMessage, type WorkerSettings } from './messages.ts';

/** SIGTERM to exit: clients get this long to take their last lines (the issue asks for 5 s in all). */
const SHUTDOWN_DRAIN_MS = 4000;

/** The port could not be had; `code` is the system's (EADDRINUSE, EACCES, …). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  /** Tells every client, flushes, closes every socket and stops the workers. */
  stop(): Promise<void>;
  /** Test hook: makes worker `index` throw an uncaught error, as a bug would. */
  crashWorker(index: number): void;
}

export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  const port = await reservePort(config.host, config.port);
  const primary = new Primary(config, port, log);
  await primary.start();
  return {
    host: config.host,
    port,
    stop: () => primary.stop(),
    crashWorker: (index) => primary.post(index, { type: 'test-crash' }),
  };
}

/**
 * Binds the port once without SO_REUSEPORT and lets it go. With reusePort alone, a second chatd
 * of the same user would silently share the port with the first; an exclusive bind fails instead.
 * For port 0 it also picks the one port every worker then binds.
 */
async function reservePort(host: string, port: number): Promise<number> {
  const probe = createServer();
  try {
    probe.listen({ host, port, exclusive: true });
    await once(probe, 'listening');
    const address = probe.address();
    if (address === null || typeof address === 'string') throw new ListenError('EINVAL', 'not a TCP address');
    return address.port;
  } catch (error) {
    if (error instanceof ListenError) throw error;
    const cause = error as NodeJS.ErrnoException;
    throw new ListenError(cause.code ?? 'UNKNOWN', cause.message);
  } finally {
    probe.close();
  }
}

class Primary {
  readonly #config: ServerConfig;
  readonly #port: number;
  readonly #log: Logger;
  readonly #workers = new Map<number, Worker>();
  /** How many times each worker index has been started. */
  readonly #starts = new Map<number, number>();
  readonly #dispatcher: Dispatcher;
  readonly #room: ChatRoom;
  #idleTimer: NodeJS.Timeout | undefined;
  #isStopping = false;

  constructor(config: ServerConfig, port: number, log: Logger) {
    this.#config = config;
    this.#port = port;
    this.#log = log;
    this.#dispatcher = new Dispatcher({
      post: (index, ops) => this.post(index, { type: 'deliver', ops }),
      workerIndexes: () => this.#workers.keys(),
    });
    this.#room = new ChatRoom(config, this.#dispatcher, log);
  }

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
      await Promise.race([isDrained, delay(SHUTDOWN_DRAIN_MS)]);
    });
    await Promise.all(drained);
    await Promise.all([...this.#workers.values()].map((worker) => worker.terminate()));
  }

  /** Starts worker `index` and resolves once it listens. */
  #startWorker(index: number): Promise<void> {
    const starts = this.#starts.get(index) ?? 0;
    this.#starts.set(index, starts + 1);
    const settings: WorkerSettings = {
      index,
      firstSerial: starts * SERIALS_PER_START,
      host: this.#config.host,
      port: this.#port,
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
            this.#log.error({ worker: index, code: message.code, err: message.message }, 'worker could not listen');
            return reject(new ListenError(message.code, message.message));
          case 'events':
            return this.#handleEvents(message);
          case 'drained':
            return;
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
    this.#room.dropWorker((id) => workerOf(id) === index);
    this.#startWorker(index).then(
      () => this.#log.warn({ event: 'worker-replaced', worker: index }, 'replacement worker thread listening'),
      (error: unknown) => this.#log.fatal({ worker: index, err: error }, 'could not replace a worker thread'),
    );
  }

  post(index: number, message: PrimaryMessage): void {
    this.#workers.get(index)?.postMessage(message);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

