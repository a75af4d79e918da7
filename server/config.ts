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
  readonly logLevel: LogLevel;
}

interface IntegerOption {
  readonly key: keyof ServerConfig;
  readonly flag: string;
  readonly description: string;
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

/** The numeric options, in the order --help lists them. */
export const INTEGER_OPTIONS: readonly IntegerOption[] = [
  { key: 'port', flag: 'port', description: 'TCP port to listen on (0: any free port)', default: 8000, min: 0, max: 65535 },
  {
    key: 'workers',
    flag: 'workers',
    description: 'worker threads that own the client sockets (default: the available cores)',
    default: Math.min(availableParallelism(), MAX_WORKERS),
    min: 1,
    max: MAX_WORKERS,
  },
  {
    key: 'idleTimeoutSeconds',
    flag: 'idle-timeout',
    description: 'seconds without a complete line before a client is timed out',
    default: 60,
    min: 1,
    max: 86_400,
  },
  {
    key: 'maxLineBytes',
    flag: 'max-line',
    description: 'longest client line in bytes; a longer one is discarded with an error',
    default: DEFAULT_MAX_LINE_BYTES,
    min: 16,
    max: 1 << 20,
  },
  {
    key: 'maxClients',
    flag: 'max-clients',
    description: 'clients online at once; the next one is told the server is full',
    default: 10_000,
    min: 1,
    max: 1_000_000,
  },
  {
    key: 'maxPendingBytes',
    flag: 'max-pending',
    description: 'bytes of unread output a client may hold before it is disconnected as a slow consumer',
    default: 1 << 20,
    min: 4096,
    max: 1 << 30,
  },
];

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** A value the user gave that chatd cannot use; the message says what to change. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Checks raw option values (as the CLI parsed them) and returns the config, or throws ConfigError. */
export function buildConfig(raw: Readonly<Record<string, unknown>>): ServerConfig {
  const values: Record<string, unknown> = {};
  for (const option of INTEGER_OPTIONS) {
    values[option.key] = checkInteger(option, raw[option.flag] ?? option.default);
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
  const config = { ...(values as Omit<ServerConfig, 'host' | 'logLevel'>), host, logLevel: logLevel as LogLevel };
  // One broadcast of the longest line must fit, or a client that reads would be cut as slow.
  if (config.maxPendingBytes < 4 * config.maxLineBytes) {
    throw new ConfigError(
      `--max-pending must be at least 4 × --max-line (${4 * config.maxLineBytes}); got ${config.maxPendingBytes}`,
    );
  }
  return config;
}

function checkInteger(option: IntegerOption, value: unknown): number {
  if (Array.isArray(value)) throw new ConfigError(`--${option.flag} was given ${value.length} times; give it once`);
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < option.min || number > option.max) {
    throw new ConfigError(
      `--${option.flag} must be a whole number from ${option.min} to ${option.max}; got ${String(value)}`,
    );
  }
  return number;
}
