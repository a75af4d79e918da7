// The node's two connections to Redis (docs/CLUSTER.md §6): one for the scripts, one that blocks
// reading the stream. Both are set up so that nothing is ever sent late: no offline queue (a
// command while the link is down fails at once, and the room carries it out locally), and a
// command in flight when the link drops fails too instead of being sent again after reconnecting
// (an old rename or chat line replayed seconds later would be a surprise, not a feature). A Redis
// that hangs with its sockets open fails nothing by itself: every command has a deadline
// (StallDetector), and one passed takes the link down exactly as a close does (#10).

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import type { Log } from '../room/log.ts';
import { ClusterError, RedisStallError, type ClusterLink, type LinkListener, type RawEntry } from './cluster-link.ts';
import { SCRIPTS, type ScriptName } from './scripts.ts';
import { CHECK_EVERY_MS, STALL_TIMEOUT_MS, StallDetector } from './stall-detector.ts';
import type { StreamId } from './stream-id.ts';

/** Keys live under this prefix, so that one Redis can serve other programs too. */
export const KEY_PREFIX = 'chatd:';
/** The stream is capped near this length whatever else happens (docs/CLUSTER.md §7). */
export const STREAM_MAX_LENGTH = 200_000;
/**
 * How long start-up waits for Redis before it gives up with one clear line: for the TCP connection
 * (ioredis' connectTimeout), and for the whole handshake (a port that accepts and never answers).
 */
export const CONNECT_TIMEOUT_MS = 3000;

const OPTIONS = {
  lazyConnect: true,
  connectTimeout: CONNECT_TIMEOUT_MS,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  // 0: commands without an answer when the connection closes fail at once (see the header).
  maxRetriesPerRequest: 0,
  // Reconnect quickly and forever: a blip of a few seconds must heal by itself.
  retryStrategy: (attempt: number) => Math.min(50 * attempt, 500),
  // Consecutive commands of one turn go out in one write.
  enableAutoPipelining: true,
  // RESP2: XREAD's reply as a plain nested array.
  protocol: 2,
} satisfies RedisOptions;

/** One of the two connections, with what is waited for on it. */
interface Watched {
  readonly label: string;
  readonly redis: Redis;
  readonly detector: StallDetector;
  /** How to fail each command waited for, by its detector token, when Redis does not answer. */
  readonly waiting: Map<number, (error: Error) => void>;
  /** The handshake after a TCP connect (AUTH, SELECT, the ready check) is waited for too. */
  handshake: number | undefined;
  /** The TCP connection was made at least once: a Redis that then says nothing is not "unreachable". */
  hasConnected: boolean;
}

export class RedisLink implements ClusterLink {
  readonly #url: string;
  readonly #log: Log;
  readonly #commands: Watched;
  readonly #reader: Watched;
  #isUp = false;
  #isClosing = false;
  #listener: LinkListener | undefined;
  /** Asks both detectors every CHECK_EVERY_MS, from the first connect until close. */
  #watchdog: NodeJS.Timeout | undefined;
  /** The last error a connection reported: the real reason behind a bare "Connection is closed". */
  #lastError: Error | null = null;

  constructor(url: string, log: Log) {
    this.#url = url;
    this.#log = log;
    this.#commands = this.#watch('commands', new Redis(url, { ...OPTIONS, connectionName: 'chatd-commands' }));
    this.#reader = this.#watch('stream-reader', new Redis(url, { ...OPTIONS, connectionName: 'chatd-stream-reader' }));
  }

  #watch(label: string, redis: Redis): Watched {
    const watched: Watched = { label, redis, detector: new StallDetector(), waiting: new Map(), handshake: undefined, hasConnected: false };
    // ioredis reports every failed reconnect as an error; the state changes below say enough.
    redis.on('error', (error: Error) => {
      this.#lastError = error;
      this.#log.debug({ err: error.message }, 'redis connection error');
    });
    redis.on('connect', () => {
      watched.hasConnected = true;
      watched.handshake = watched.detector.sent(performance.now());
    });
    redis.on('ready', () => this.#endHandshake(watched));
    // ioredis fails every command of a closed connection itself (maxRetriesPerRequest: 0).
    redis.on('close', () => {
      this.#endHandshake(watched);
      watched.detector.clear();
    });
    return watched;
  }

  #endHandshake(watched: Watched): void {
    if (watched.handshake !== undefined) watched.detector.answered(watched.handshake);
    watched.handshake = undefined;
  }

  get isUp(): boolean {
    return this.#isUp;
  }

  /** Connects both connections, or throws ClusterError with the reason in one line. */
  async connect(listener: LinkListener): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const mute = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisStallError(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      });
      const handshake = (async () => {
        await Promise.all([this.#commands.redis.connect(), this.#reader.redis.connect()]);
        await this.#checkVersion();
        await this.#loadScripts();
      })();
      handshake.catch(() => {}); // when `mute` wins, its failure (the disconnect below) is no news
      await Promise.race([handshake, mute]);
    } catch (error) {
      this.#isClosing = true;
      this.#commands.redis.disconnect();
      this.#reader.redis.disconnect();
      if (error instanceof ClusterError) throw error;
      if (error instanceof RedisStallError && (this.#commands.hasConnected || this.#reader.hasConnected)) {
        throw new ClusterError(
          `Redis at ${redactUrl(this.#url)} took the connection but did not answer within ${CONNECT_TIMEOUT_MS / 1000} s; is it a Redis server, and is it running (not stopped, not overloaded)?`,
        );
      }
      const reason = this.#lastError?.message ?? (error instanceof Error ? error.message : String(error));
      if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(reason)) {
        throw new ClusterError(
          `Redis at ${redactUrl(this.#url)} refused chatd's credentials (${reason}); put them in the URL: redis://USER:PASSWORD@HOST:PORT`,
        );
      }
      throw new ClusterError(`cannot reach Redis at ${redactUrl(this.#url)} (${reason}); is redis-server running there?`);
    } finally {
      clearTimeout(timer);
    }
    this.#isUp = true;
    this.#listener = listener;
    this.#watchdog = setInterval(() => this.#checkStalls(), CHECK_EVERY_MS);
    this.#watchdog.unref();
    this.#commands.redis.on('close', () => this.#goDown());
    this.#commands.redis.on('ready', () => {
      if (this.#isClosing) return;
      // Scripts first: a Redis that restarted has forgotten them, and the connection sends in order.
      this.#loadScripts().catch((error: unknown) => this.#log.warn({ err: error }, 'could not load the cluster scripts'));
      this.#isUp = true;
      listener.onUp();
    });
  }

  /**
   * Runs a script with the prefix and the stream cap before `args`. Fails at once while the link is
   * down, and with RedisStallError when Redis does not answer in time.
   */
  run(script: ScriptName, args: readonly (string | number)[]): Promise<unknown> {
    return this.#waitFor(this.#commands, 0, (redis) => redis.evalsha(SCRIPTS[script].sha, 0, KEY_PREFIX, STREAM_MAX_LENGTH, ...args));
  }

  /** Waits up to `blockMs` for entries after `after`, at most `count` of them. */
  async read(after: StreamId, count: number, blockMs: number): Promise<RawEntry[]> {
    const reply = (await this.#waitFor(this.#reader, blockMs, (redis) =>
      redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', `${KEY_PREFIX}log`, after),
    )) as [string, RawEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** Closes both connections; a read that blocks is cut off, and a Redis that hangs is not waited for. */
  async close(): Promise<void> {
    this.#isClosing = true;
    this.#isUp = false;
    clearInterval(this.#watchdog);
    this.#reader.redis.disconnect();
    const quit = this.#commands.redis.quit().then(
      () => true,
      () => false,
    );
    if (!(await Promise.race([quit, sleep(STALL_TIMEOUT_MS, undefined, { ref: false }).then(() => false)]))) this.#commands.redis.disconnect();
  }

  /** For the log and the error line: a password in the URL is never printed. */
  get displayUrl(): string {
    return redactUrl(this.#url);
  }

  /** Sends one command on `watched` and waits for it under the stall detector's deadline. */
  #waitFor<T>(watched: Watched, extraMs: number, send: (redis: Redis) => Promise<T>): Promise<T> {
    const token = watched.detector.sent(performance.now(), extraMs);
    return new Promise<T>((resolve, reject) => {
      const settle = (): void => {
        watched.detector.answered(token);
        watched.waiting.delete(token);
      };
      watched.waiting.set(token, reject);
      send(watched.redis).then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  #checkStalls(): void {
    const now = performance.now();
    // Both are asked at every tick: each keeps its own record of when it was last asked.
    const stalled = [this.#commands, this.#reader].filter((watched) => watched.detector.check(now));
    for (const watched of stalled) this.#stalled(watched);
  }

  /**
   * Redis has not answered on `watched` in time. The link goes down as for a close (once), every
   * command waited for fails now rather than answering in a burst when Redis wakes up, and the
   * connection starts over; while the link is up, the other one too (it talks to the same Redis).
   */
  #stalled(watched: Watched): void {
    if (this.#isClosing) return;
    const error = new RedisStallError(`Redis did not answer on the ${watched.label} connection within ${STALL_TIMEOUT_MS} ms`);
    this.#lastError = error;
    const wasUp = this.#isUp;
    if (wasUp) this.#log.warn({ event: 'cluster-stall', connection: watched.label, timeoutMs: STALL_TIMEOUT_MS }, 'Redis stopped answering; dropping the link');
    this.#goDown();
    for (const each of wasUp ? [this.#commands, this.#reader] : [watched]) {
      each.detector.clear();
      const waiting = [...each.waiting.values()];
      each.waiting.clear();
      for (const fail of waiting) fail(error);
      // destroy, not end: a FIN to a frozen Redis is never answered, and the socket would stay open.
      each.redis.stream?.destroy();
    }
  }

  /** The same path for a close and a stall: the listener hears of it once per outage. */
  #goDown(): void {
    if (!this.#isUp || this.#isClosing) return;
    this.#isUp = false;
    this.#listener?.onDown();
  }

  /** The scripts need XTRIM MINID and XADD … MAXLEN ~, both from Redis 6.2. */
  async #checkVersion(): Promise<void> {
    const info = await this.#commands.redis.info('server');
    const version = /^redis_version:(\d+)\.(\d+)/m.exec(info);
    if (version === null) return; // a Redis-compatible server that does not say: let it try
    const [major, minor] = [Number(version[1]), Number(version[2])];
    if (major < 6 || (major === 6 && minor < 2)) {
      throw new ClusterError(`Redis at ${redactUrl(this.#url)} is version ${major}.${minor}; chatd needs Redis 6.2 or newer`);
    }
  }

  async #loadScripts(): Promise<void> {
    await Promise.all(Object.values(SCRIPTS).map((script) => this.#waitFor(this.#commands, 0, (redis) => redis.script('LOAD', script.source))));
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
