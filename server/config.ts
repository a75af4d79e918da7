// chatd's settings: one table of options that the CLI turns into flags and --help, the defaults
// with their reasons, and the checks that turn a bad value into a message saying what to change.

import { availableParallelism } from 'node:os';
import { DEFAULT_MAX_LINE_BYTES } from '../protocol/index.ts';
import { MAX_WORKERS } from './messages.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerConfig {
  readonly host: string;
  /** 0 asks the kernel for a free port (the tests use it). */
  readonly port: number;
  readonly workers: number;
  readonly idleTimeoutSeconds: number;
  readonly maxLineBytes: number;
  readonly maxClients: number;
  readonly maxPendingBytes: number;
  /** Lines per second a client may send on average; 0: no limit. */
  readonly rateLimit: number;
  /** Lines a client may send at once before the rate applies. */
  readonly rateBurst: number;
  /** Connections online from one IP address; 0: no limit. */
  readonly maxPerIp: number;
  /** Seconds between WebSocket pings; a client that has not answered one by the next is cut. */
  readonly webKeepaliveSeconds: number;
  /** The HTTP admin endpoints (/healthz, /metrics, /who, /announce); null: off. 0: any free port. */
  readonly httpPort: number | null;
  /** A file whose contents (trimmed) are the bearer token for POST /announce; null: none. */
  readonly adminTokenFile: string | null;
  /** redis:// or rediss:// URL of the Redis that nodes share the chat through; null: one node alone. */
  readonly redisUrl: string | null;
  /** --motd: a file whose lines greet every newcomer; null: chatd's own line; '': none. */
  readonly motdFile: string | null;
  readonly logLevel: LogLevel;
  /** The web client and its WebSocket endpoint /ws (HTTPS and WSS with a certificate); null: off. 0: any free port. */
  readonly webPort: number | null;
  /** The line protocol over TLS; null: off. Needs tlsCertFile and tlsKeyFile. */
  readonly tlsPort: number | null;
  /** PEM files of the certificate (chain) and its private key; both or neither. */
  readonly tlsCertFile: string | null;
  readonly tlsKeyFile: string | null;
  /**
   * Origins, besides the page's own, whose pages may open a WebSocket (--web-origin, comma
   * separated), each as `scheme://host[:port]`, lower case. A client without Origin is no browser.
   */
  readonly webOrigins: readonly string[];
  /** History entries kept in memory (and on disk with dataDir); 0: none (PROTOCOL.md §10). */
  readonly historySize: number;
  /** Entries a newcomer is sent after its greeting; 0: none. At most historySize. */
  readonly historyOnJoin: number;
  /** Seconds a dropped session is held for its resume; 0: resume is off. */
  readonly resumeWindowSeconds: number;
  /** Where the history is kept across restarts (store/, SQLite); null: memory only. */
  readonly dataDir: string | null;
}

type OptionalNumberKey = 'httpPort' | 'webPort' | 'tlsPort';
type NumberKey = Exclude<
  keyof ServerConfig,
  'host' | 'logLevel' | 'adminTokenFile' | 'redisUrl' | 'motdFile' | 'tlsCertFile' | 'tlsKeyFile' | 'webOrigins' | 'dataDir' | OptionalNumberKey
>;

/** What every numeric option has: its flag, its help text and the values it accepts. */
interface NumberRange {
  readonly flag: string;
  readonly description: string;
  readonly min: number;
  readonly max: number;
  /** Whole numbers only (all but --rate-limit). */
  readonly isInteger: boolean;
}

interface NumberOption extends NumberRange {
  readonly key: NumberKey;
  readonly default: number;
  /** What --help shows as the default, when not the number itself. */
  readonly defaultDescription?: string;
}

/** A numeric option that is off unless given: it has no default. */
interface OptionalNumberOption extends NumberRange {
  readonly key: OptionalNumberKey;
}

/** The numeric options, in the order --help lists them, each default with its reason. */
export const NUMBER_OPTIONS: readonly NumberOption[] = [
  { key: 'port', flag: 'port', description: 'TCP port to listen on (0: any free port)', default: 8000, min: 0, max: 65535, isInteger: true },
  {
    key: 'workers',
    flag: 'workers',
    description: 'worker threads that own the client sockets',
    default: Math.min(availableParallelism(), MAX_WORKERS),
    // The figure differs from machine to machine; --help says what it is made of.
    defaultDescription: 'the available cores',
    min: 1,
    max: MAX_WORKERS,
    isInteger: true,
  },
  {
    // The seed's value: long enough for a person who is reading, short enough to free a dead client's name.
    key: 'idleTimeoutSeconds',
    flag: 'idle-timeout',
    description: 'seconds without a complete line before a client is timed out',
    default: 60,
    min: 1,
    max: 86_400,
    isInteger: true,
  },
  {
    key: 'maxLineBytes',
    flag: 'max-line',
    description: 'longest client line in bytes; a longer one is discarded with an error',
    default: DEFAULT_MAX_LINE_BYTES,
    min: 16,
    max: 1 << 20,
    isInteger: true,
  },
  {
    key: 'maxClients',
    flag: 'max-clients',
    description: 'clients online at once; the next one is told the server is full',
    default: 10_000,
    min: 1,
    max: 1_000_000,
    isInteger: true,
  },
  {
    key: 'maxPendingBytes',
    flag: 'max-pending',
    description: 'bytes of unread output a client may hold before it is disconnected as a slow consumer',
    default: 1 << 20,
    min: 4096,
    max: 1 << 30,
    isInteger: true,
  },
  {
    // Sized for people, as IRC servers size theirs: nobody types two lines a second for long.
    key: 'rateLimit',
    flag: 'rate-limit',
    description: 'lines per second a client may send on average; faster ones are slowed down (0: no limit)',
    default: 2,
    min: 0,
    max: 1_000_000,
    isInteger: false,
  },
  {
    // Room for a short paste or a few quick lines before the rate applies.
    key: 'rateBurst',
    flag: 'rate-burst',
    description: 'lines a client may send at once before --rate-limit applies',
    default: 5,
    min: 1,
    max: 1_000_000,
    isInteger: true,
  },
  {
    // A NAT'd office or a family still fits; one machine cannot take the whole server.
    key: 'maxPerIp',
    flag: 'max-per-ip',
    description: 'clients online at once from one IP address (0: no limit)',
    default: 16,
    min: 0,
    max: 1_000_000,
    isInteger: true,
  },
  {
    // Below the 30 to 60 s after which NAT boxes and proxies commonly forget a quiet flow.
    key: 'webKeepaliveSeconds',
    flag: 'web-keepalive',
    description: 'seconds between pings to each WebSocket client; one that has not answered by the next ping is disconnected',
    default: 20,
    min: 1,
    max: 3600,
    isInteger: true,
  },
  {
    // A long evening's chat, and what a client that missed two minutes of a busy one needs
    // back; 100 000 entries of a few hundred bytes are tens of megabytes in memory.
    key: 'historySize',
    flag: 'history-size',
    description: 'chat lines, renames and announcements kept for /history and resume (0: none)',
    default: 1000,
    min: 0,
    max: 100_000,
    isInteger: true,
  },
  {
    // Off: a line client sees exactly the seed's lines unless it asks.
    key: 'historyOnJoin',
    flag: 'history-on-join',
    description: 'history entries a newcomer is sent after its greeting (0: none)',
    default: 0,
    min: 0,
    max: 100_000,
    isInteger: true,
  },
  {
    // Long enough for a phone that changes networks or a laptop that sleeps a moment; short
    // enough that a name is not held long for someone who is gone.
    key: 'resumeWindowSeconds',
    flag: 'resume-window',
    description: 'seconds a dropped client with a token may come back with /resume, its name held meanwhile (0: off)',
    default: 120,
    min: 0,
    max: 86_400,
    isInteger: true,
  },
];

/** Numeric options that are off unless given, in the order --help lists them (after NUMBER_OPTIONS). */
export const OPTIONAL_NUMBER_OPTIONS: readonly OptionalNumberOption[] = [
  {
    // Off by default: an admin port nobody asked for is one more thing listening (issue #4 §3).
    key: 'httpPort',
    flag: 'http-port',
    description: 'port of the HTTP endpoints /healthz, /metrics, /who and /announce, on --host (0: any free port)',
    min: 0,
    max: 65535,
    isInteger: true,
  },
  {
    // Off by default, as every listener nobody asked for.
    key: 'webPort',
    flag: 'web-port',
    description: 'port of the web client (/) and its WebSocket endpoint (/ws), on --host; HTTPS and WSS with --tls-cert (0: any free port)',
    min: 0,
    max: 65535,
    isInteger: true,
  },
  {
    key: 'tlsPort',
    flag: 'tls-port',
    description: 'port of the line protocol over TLS (openssl s_client, ncat --ssl), on --host; needs --tls-cert and --tls-key (0: any free port)',
    min: 0,
    max: 65535,
    isInteger: true,
  },
];

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** Every key a config file, a CHATD_* variable or a flag may set. */
export const CONFIG_KEYS: readonly string[] = [
  'host',
  ...NUMBER_OPTIONS.map((option) => option.flag),
  ...OPTIONAL_NUMBER_OPTIONS.map((option) => option.flag),
  'admin-token-file',
  'redis',
  'motd',
  'log-level',
  'tls-cert',
  'tls-key',
  'web-origin',
  'data-dir',
];

/** A value the user gave that chatd cannot use; the message says what to change. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Checks raw option values, keyed by flag name, and returns the config, or throws ConfigError. */
export function buildConfig(raw: Readonly<Record<string, unknown>>): ServerConfig {
  const values = {} as Record<NumberKey, number>;
  for (const option of NUMBER_OPTIONS) values[option.key] = checkNumber(option, raw[option.flag] ?? option.default);
  const optional = {} as Record<OptionalNumberKey, number | null>;
  for (const option of OPTIONAL_NUMBER_OPTIONS) {
    const value = raw[option.flag];
    optional[option.key] = value === undefined ? null : checkNumber(option, value);
  }
  const host = raw['host'] ?? DEFAULT_HOST;
  if (Array.isArray(host)) throw new ConfigError(`--host was given ${host.length} times; give it once`);
  if (typeof host !== 'string' || host.trim() === '') {
    throw new ConfigError(`--host must be an address or a host name, such as 127.0.0.1 or ::; got ${String(host)}`);
  }
  const logLevel = raw['log-level'] ?? DEFAULT_LOG_LEVEL;
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}; got ${String(logLevel)}`);
  }
  const adminTokenFile = raw['admin-token-file'] ?? null;
  if (Array.isArray(adminTokenFile)) throw new ConfigError(`--admin-token-file was given ${adminTokenFile.length} times; give it once`);
  if (adminTokenFile !== null && (typeof adminTokenFile !== 'string' || adminTokenFile.trim() === '')) {
    throw new ConfigError(`--admin-token-file must be the path of a file that holds the token; got ${String(adminTokenFile)}`);
  }
  const redisUrl = checkRedisUrl(raw['redis'] ?? null);
  const motdFile = raw['motd'] ?? null;
  if (Array.isArray(motdFile)) throw new ConfigError(`--motd was given ${motdFile.length} times; give it once`);
  if (motdFile !== null && typeof motdFile !== 'string') {
    throw new ConfigError(`--motd must be the path of a text file, or '' for no message; got ${String(motdFile)}`);
  }
  const tlsCertFile = checkPath('tls-cert', raw['tls-cert'] ?? null, 'a PEM file that holds the certificate (and its chain)');
  const tlsKeyFile = checkPath('tls-key', raw['tls-key'] ?? null, 'a PEM file that holds the private key');
  if ((tlsCertFile === null) !== (tlsKeyFile === null)) {
    throw new ConfigError(tlsCertFile === null ? '--tls-key needs --tls-cert: give both, or neither' : '--tls-cert needs --tls-key: give both, or neither');
  }
  const webOrigins = checkOrigins(raw['web-origin'] ?? null);
  const dataDir = checkPath('data-dir', raw['data-dir'] ?? null, 'a directory where chatd keeps its history');
  const config: ServerConfig = {
    ...values,
    ...optional,
    host,
    adminTokenFile,
    redisUrl,
    motdFile,
    logLevel: logLevel as LogLevel,
    tlsCertFile,
    tlsKeyFile,
    webOrigins,
    dataDir,
  };
  if (config.tlsPort !== null && config.tlsCertFile === null) {
    throw new ConfigError('--tls-port needs --tls-cert and --tls-key (docs/OPERATIONS.md shows how to make a certificate for local use)');
  }
  if (config.webOrigins.length > 0 && config.webPort === null) {
    throw new ConfigError('--web-origin applies to the web port only; give --web-port too, or leave --web-origin out');
  }
  if (config.historyOnJoin > config.historySize) {
    throw new ConfigError(`--history-on-join (${config.historyOnJoin}) must be at most --history-size (${config.historySize})`);
  }
  if (config.dataDir !== null && config.redisUrl !== null) {
    throw new ConfigError('--data-dir keeps one server\'s history; with --redis the history is the cluster\'s, kept in Redis (docs/CLUSTER.md): leave --data-dir out');
  }
  if (config.dataDir !== null && config.historySize === 0) {
    throw new ConfigError('--data-dir keeps the history, but --history-size is 0; give a size, or leave --data-dir out');
  }
  checkDistinctPorts(config);
  // One broadcast of the longest line must fit, or a client that reads would be cut as slow.
  if (config.maxPendingBytes < 4 * config.maxLineBytes) {
    throw new ConfigError(
      `--max-pending must be at least 4 × --max-line (${4 * config.maxLineBytes}); got ${config.maxPendingBytes}`,
    );
  }
  return config;
}

/** Two listeners on one port would fail as "already in use (another chatd?)", which misleads (#10 §7). */
function checkDistinctPorts(config: ServerConfig): void {
  const ports: [string, number | null, string][] = [
    ['--http-port', config.httpPort, 'the HTTP endpoints'],
    ['--web-port', config.webPort, 'the web client'],
    ['--tls-port', config.tlsPort, 'the line protocol over TLS'],
  ];
  const taken: [string, number][] = [['--port', config.port]];
  for (const [flag, port, what] of ports) {
    if (port === null || port === 0) continue;
    const clash = taken.find(([, other]) => other === port);
    if (clash !== undefined) throw new ConfigError(`${flag} must differ from ${clash[0]} (both are ${port}); choose another port for ${what}`);
    taken.push([flag, port]);
  }
}

function checkPath(flag: string, value: unknown, what: string): string | null {
  if (value === null) return null;
  if (Array.isArray(value)) throw new ConfigError(`--${flag} was given ${value.length} times; give it once`);
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`--${flag} must be the path of ${what}; got ${String(value)}`);
  return value;
}

/**
 * --web-origin: origins as a browser sends them (`https://chat.example.com`, with a port when it
 * is not the scheme's own), comma separated. A path, a trailing slash or a wildcard is refused,
 * not guessed at: an origin that never matches would lock the page out in silence.
 */
function checkOrigins(value: unknown): readonly string[] {
  if (value === null) return [];
  if (Array.isArray(value)) throw new ConfigError(`--web-origin was given ${value.length} times; give it once, the origins comma separated`);
  const origins: string[] = [];
  for (const item of String(value).split(',')) {
    const text = item.trim();
    if (text === '') continue;
    let url: URL | null = null;
    try {
      url = new URL(text);
    } catch {
      // reported below
    }
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== text.toLowerCase()) {
      throw new ConfigError(`--web-origin must be origins such as https://chat.example.com or http://localhost:8080, comma separated, without a path; got ${text}`);
    }
    origins.push(url.origin);
  }
  return origins;
}

function checkRedisUrl(value: unknown): string | null {
  if (value === null) return null;
  if (Array.isArray(value)) throw new ConfigError(`--redis was given ${value.length} times; give it once`);
  const usage = 'a URL such as redis://127.0.0.1:6379 (rediss:// for TLS; redis://:PASSWORD@host:6379 with a password)';
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new ConfigError(`--redis must be ${usage}; got ${String(value)}`);
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new ConfigError(`--redis must be ${usage}; got ${String(value)}`);
  }
  return url.toString();
}

/** A number as a person writes one in decimal: `0x4650`, `1e3` or `0b1` are refused, not converted. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function checkNumber(option: NumberRange, value: unknown): number {
  if (Array.isArray(value)) throw new ConfigError(`--${option.flag} was given ${value.length} times; give it once`);
  const number = typeof value === 'string' ? (DECIMAL.test(value.trim()) ? Number(value) : Number.NaN) : value;
  const kind = option.isInteger ? 'a whole number' : 'a number';
  if (typeof number !== 'number' || !Number.isFinite(number) || (option.isInteger && !Number.isInteger(number)) || number < option.min || number > option.max) {
    throw new ConfigError(`--${option.flag} must be ${kind} from ${option.min} to ${option.max}; got ${String(value)}`);
  }
  return number;
}

/** The environment variable for a key: `idle-timeout` is CHATD_IDLE_TIMEOUT. */
export const envName = (key: string): string => `CHATD_${key.toUpperCase().replaceAll('-', '_')}`;

/** CHATD_* variables that are not settings: read where they are used, never logged. */
const OTHER_CHATD_VARIABLES = new Set(['CHATD_ADMIN_TOKEN', 'CHATD_TEST_HOOKS', 'CHATD_TEST_HISTORY_MAX_PAGES']);

/**
 * Merges the sources of settings, later ones winning: defaults, the config file (JSON, keys as
 * the flags are named), CHATD_* environment variables, then the flags given on the command line.
 */
export function resolveConfig(
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): ServerConfig {
  const merged: Record<string, unknown> = {};
  /** Where each value came from, so that an error names what the user actually wrote. */
  const sources = new Map<string, string>();
  const configPath = flags['config'] ?? env['CHATD_CONFIG'];
  if (configPath !== undefined) {
    const fromFile = readConfigFile(String(configPath), readFile);
    Object.assign(merged, fromFile);
    for (const key of Object.keys(fromFile)) sources.set(key, `"${key}" in ${String(configPath)}`);
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('CHATD_') || name === 'CHATD_CONFIG' || OTHER_CHATD_VARIABLES.has(name)) continue;
    const key = CONFIG_KEYS.find((candidate) => envName(candidate) === name);
    if (key === undefined) {
      throw new ConfigError(`unknown environment variable ${name}; chatd reads ${CONFIG_KEYS.map(envName).join(', ')}`);
    }
    merged[key] = value;
    sources.set(key, name);
  }
  for (const key of CONFIG_KEYS) {
    if (flags[key] === undefined) continue;
    merged[key] = flags[key];
    sources.delete(key);
  }
  try {
    return buildConfig(merged);
  } catch (error) {
    const key = error instanceof ConfigError ? CONFIG_KEYS.find((candidate) => error.message.startsWith(`--${candidate} `)) : undefined;
    const source = key === undefined ? undefined : sources.get(key);
    if (source === undefined) throw error;
    throw new ConfigError(`${source}${(error as Error).message.slice(`--${key}`.length)}`);
  }
}

function readConfigFile(path: string, readFile: (path: string) => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read --config ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`--config ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`--config ${path} must hold one JSON object, such as {"port": 8000}`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!CONFIG_KEYS.includes(key)) throw new ConfigError(`--config ${path}: unknown key "${key}"; known keys: ${CONFIG_KEYS.join(', ')}`);
    // #10 §6: null used to mean "the default", and an array read as a flag given several times.
    if (value === null) throw new ConfigError(`--config ${path}: "${key}" is null; give it a value, or leave the key out for the default`);
    if (typeof value === 'object') {
      throw new ConfigError(`--config ${path}: "${key}" must be one value, such as ${JSON.stringify(exampleValue(key))}; got ${JSON.stringify(value)}`);
    }
  }
  return parsed as Record<string, unknown>;
}

const STRING_EXAMPLES: Readonly<Record<string, string>> = {
  host: DEFAULT_HOST,
  'log-level': DEFAULT_LOG_LEVEL,
  redis: 'redis://127.0.0.1:6379',
  'admin-token-file': '/etc/chatd/admin-token',
  'tls-cert': '/etc/chatd/cert.pem',
  'tls-key': '/etc/chatd/key.pem',
  'web-origin': 'https://chat.example.com',
  'data-dir': '/var/lib/chatd',
};

function exampleValue(key: string): string | number {
  const option = [...NUMBER_OPTIONS, ...OPTIONAL_NUMBER_OPTIONS].find((candidate) => candidate.flag === key);
  if (option === undefined) return STRING_EXAMPLES[key] ?? 'text';
  return 'default' in option ? option.default : option.min;
}
