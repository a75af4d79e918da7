// The node's two connections to Redis (docs/CLUSTER.md §6): one for the scripts, one that blocks
// reading the stream. Both are set up so that nothing is ever sent late: no offline queue (a
// command while the link is down fails at once, and the room carries it out locally), and a
// command in flight when the link drops fails too instead of being sent again after reconnecting
// (an old rename or chat line replayed seconds later would be a surprise, not a feature).

import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../server/log.ts';
import { SCRIPTS, type ScriptName } from './scripts.ts';
import type { StreamId } from './stream-id.ts';

/** chatd cannot use the Redis it was given; the message says what to check. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
}

export interface LinkListener {
  /** The command connection is ready again (also after the first connect); scripts are loaded. */
  onUp(): void;
  /** The command connection is lost; commands fail until onUp. */
  onDown(): void;
}

/** One entry as XREAD returns it: its id, then field, value, field, value, … */
export type RawEntry = readonly [StreamId, readonly string[]];

/** Keys live under this prefix, so that one Redis can serve other programs too. */
export const KEY_PREFIX = 'chatd:';
/** The stream is capped near this length whatever else happens (docs/CLUSTER.md §7). */
export const STREAM_MAX_LENGTH = 200_000;
/** How long start-up waits for Redis before it gives up with one clear line. */
const CONNECT_TIMEOUT_MS = 3000;

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

export class RedisLink {
  readonly #url: string;
  readonly #log: Logger;
  readonly #commands: Redis;
  readonly #reader: Redis;
  #isUp = false;
  #isClosing = false;
  /** The last error a connection reported: the real reason behind a bare "Connection is closed". */
  #lastError: Error | null = null;

  constructor(url: string, log: Logger) {
    this.#url = url;
    this.#log = log;
    this.#commands = new Redis(url, { ...OPTIONS, connectionName: 'chatd-commands' });
    this.#reader = new Redis(url, { ...OPTIONS, connectionName: 'chatd-stream-reader' });
    for (const connection of [this.#commands, this.#reader]) {
      // ioredis reports every failed reconnect as an error; the state changes below say enough.
      connection.on('error', (error: Error) => {
        this.#lastError = error;
        this.#log.debug({ err: error.message }, 'redis connection error');
      });
    }
  }

  get isUp(): boolean {
    return this.#isUp;
  }

  /** Connects both connections, or throws ClusterError with the reason in one line. */
  async connect(listener: LinkListener): Promise<void> {
    try {
      await Promise.all([this.#commands.connect(), this.#reader.connect()]);
      await this.#checkVersion();
      await this.#loadScripts();
    } catch (error) {
      this.#isClosing = true;
      this.#commands.disconnect();
      this.#reader.disconnect();
      if (error instanceof ClusterError) throw error;
      const reason = this.#lastError?.message ?? (error instanceof Error ? error.message : String(error));
      if (/NOAUTH|WRONGPASS|invalid password|invalid username-password/i.test(reason)) {
        throw new ClusterError(
          `Redis at ${redactUrl(this.#url)} refused chatd's credentials (${reason}); put them in the URL: redis://USER:PASSWORD@HOST:PORT`,
        );
      }
      throw new ClusterError(`cannot reach Redis at ${redactUrl(this.#url)} (${reason}); is redis-server running there?`);
    }
    this.#isUp = true;
    this.#commands.on('close', () => {
      if (!this.#isUp || this.#isClosing) return;
      this.#isUp = false;
      listener.onDown();
    });
    this.#commands.on('ready', () => {
      if (this.#isClosing) return;
      // Scripts first: a Redis that restarted has forgotten them, and the connection sends in order.
      this.#loadScripts().catch((error: unknown) => this.#log.warn({ err: error }, 'could not load the cluster scripts'));
      this.#isUp = true;
      listener.onUp();
    });
  }

  /** Runs a script with the prefix and the stream cap before `args`. Fails at once while the link is down. */
  run(script: ScriptName, args: readonly (string | number)[]): Promise<unknown> {
    return this.#commands.evalsha(SCRIPTS[script].sha, 0, KEY_PREFIX, STREAM_MAX_LENGTH, ...args);
  }

  /** Waits up to `blockMs` for entries after `after`, at most `count` of them. */
  async read(after: StreamId, count: number, blockMs: number): Promise<RawEntry[]> {
    const reply = (await this.#reader.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', `${KEY_PREFIX}log`, after)) as
      | [string, RawEntry[]][]
      | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** Closes both connections; a read that blocks is cut off. */
  async close(): Promise<void> {
    this.#isClosing = true;
    this.#isUp = false;
    this.#reader.disconnect();
    await this.#commands.quit().catch(() => this.#commands.disconnect());
  }

  /** For the log and the error line: a password in the URL is never printed. */
  get displayUrl(): string {
    return redactUrl(this.#url);
  }

  /** The scripts need XTRIM MINID and XADD … MAXLEN ~, both from Redis 6.2. */
  async #checkVersion(): Promise<void> {
    const info = await this.#commands.info('server');
    const version = /^redis_version:(\d+)\.(\d+)/m.exec(info);
    if (version === null) return; // a Redis-compatible server that does not say: let it try
    const [major, minor] = [Number(version[1]), Number(version[2])];
    if (major < 6 || (major === 6 && minor < 2)) {
      throw new ClusterError(`Redis at ${redactUrl(this.#url)} is version ${major}.${minor}; chatd needs Redis 6.2 or newer`);
    }
  }

  async #loadScripts(): Promise<void> {
    await Promise.all(Object.values(SCRIPTS).map((script) => this.#commands.script('LOAD', script.source)));
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
