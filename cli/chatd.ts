#!/usr/bin/env node
// `chatd`: flags -> ServerConfig -> a running server. yargs only; --help is generated from the
// option table in server/config.ts. A bad value, a port in use or a missing permission is one
// line on stderr and a non-zero exit, never a stack trace.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readFileSync } from 'node:fs';
import {
  ConfigError,
  DEFAULT_HOST,
  DEFAULT_LOG_LEVEL,
  LOG_LEVELS,
  NUMBER_OPTIONS,
  OPTIONAL_NUMBER_OPTIONS,
  resolveConfig,
  type ServerConfig,
} from '../server/config.ts';
import { readAdminToken, readMotd, readTlsIdentity, type TlsIdentity } from '../server/config-inputs.ts';
import type { Logger } from '../server/log.ts';
import { formatAddress } from '../protocol/index.ts';
import { createLogger } from '../server/log.ts';
import { ListenError, startServer, WebFilesError, type ServerInputs } from '../server/primary.ts';
import { checkNodeVersion, fail, packageVersion } from './common.ts';
import { ClusterError, roomFor } from './compose-room.ts';
import { HistoryStoreError, openHistoryStore, type OpenedHistory } from '../store/history-store.ts';

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

async function main(): Promise<void> {
  checkNodeVersion('chatd');
  const config = parseArguments(hideBin(process.argv));
  const inputs = readInputsOrExit(config);
  const log = createLogger(config.logLevel, { thread: 'primary' });
  const history = openHistoryOrExit(config, log);
  let server;
  try {
    const kept = history === null ? {} : { entries: history.entries, sink: history.store };
    server = await startServer(config, log, inputs, roomFor(config, inputs.motd, kept), history?.store ?? null);
  } catch (error) {
    if (error instanceof ListenError) fail('chatd', describeListenError(error, config), EXIT_FAILURE);
    if (error instanceof ClusterError || error instanceof WebFilesError) fail('chatd', error.message, EXIT_FAILURE);
    throw error;
  }
  if (history !== null) {
    const newest = history.entries.at(-1)?.position ?? 0;
    log.info(
      { event: 'history-opened', path: history.store.path, entries: history.entries.length, position: newest },
      `history in ${history.store.path}: ${history.entries.length} entries kept, the newest @${newest}`,
    );
  }
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ event: 'shutdown', signal }, 'shutting down');
    // A second signal while draining means "now".
    process.once(signal, () => process.exit(0));
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // SIGHUP reads the files again and puts them in force; nobody is dropped (OPERATIONS.md §4).
  process.on('SIGHUP', () => {
    let next: ServerInputs;
    try {
      next = readInputs(config);
    } catch (error) {
      const reason = error instanceof ConfigError ? error.message : String(error);
      log.error({ event: 'reload-failed', err: reason }, `SIGHUP: ${reason}; everything stays as it was`);
      return;
    }
    server.reload(next);
    log.info(
      { event: 'reload', motdLines: next.motd.length, announce: next.adminToken === null ? 'off' : 'on' },
      `SIGHUP: reloaded the message of the day (${next.motd.length} lines) and the admin token (/announce ${next.adminToken === null ? 'off' : 'on'})`,
    );
    if (next.tls !== null) logCertificate(log, next.tls, 'tls-reload', 'SIGHUP: new TLS handshakes use the certificate');
  });
  if (process.env['CHATD_TEST_HOOKS'] === '1') {
    // Test-only, and never reachable from the wire: SIGUSR2 makes worker 0 crash (issue #4).
    process.on('SIGUSR2', () => server.crashWorker(0));
  }
  if (inputs.tls !== null) logCertificate(log, inputs.tls, 'tls-certificate', 'TLS certificate');
  if (server.tlsPort !== null) {
    log.info(
      { event: 'tls-listening', host: server.host, port: server.tlsPort },
      `chatd line protocol over TLS on ${formatAddress(server.host, server.tlsPort)} (openssl s_client -quiet -connect ${formatAddress(server.host, server.tlsPort)})`,
    );
  }
  if (server.webPort !== null) {
    const scheme = inputs.tls === null ? 'http' : 'https';
    log.info(
      { event: 'web-listening', host: server.host, port: server.webPort },
      `chatd web client on ${scheme}://${formatAddress(server.host, server.webPort)}/ (WebSocket at /ws)`,
    );
  }
  if (server.httpPort !== null) {
    // Before `listening`, so that whoever waits for that line already knows this port too.
    log.info(
      { event: 'http-listening', host: server.host, port: server.httpPort },
      `chatd HTTP endpoints on http://${formatAddress(server.host, server.httpPort)}/ (/healthz, /metrics, /who, /announce)`,
    );
  }
  // Only now: `listening` is the readiness signal, and a SIGTERM sent on seeing it must find the
  // handlers above in place, not the default action that kills without telling the clients.
  log.info(
    { event: 'listening', host: server.host, port: server.port, webPort: server.webPort, tlsPort: server.tlsPort, workers: config.workers, pid: process.pid },
    `chatd listening on ${formatAddress(server.host, server.port)} with ${config.workers} worker thread${config.workers === 1 ? '' : 's'}`,
  );
}

function parseArguments(argv: string[]): ServerConfig {
  // No yargs defaults: resolveConfig must see which flags were given, so that a flag wins over
  // CHATD_* and the config file while an absent one does not. --help still shows the defaults.
  const parser = yargs(argv)
    .scriptName('chatd')
    .usage('$0 [options]\n\nA broadcast chat server: telnet in on --port, or open --web-port in a browser, and everyone online sees your lines.')
    .option('host', { type: 'string', defaultDescription: DEFAULT_HOST, describe: 'address to listen on (:: or 0.0.0.0 for all)' });
  for (const option of NUMBER_OPTIONS) {
    // Untyped, so that buildConfig sees what was typed and can say what is wrong with it.
    parser.option(option.flag, { defaultDescription: option.defaultDescription ?? String(option.default), describe: option.description, requiresArg: true });
  }
  for (const option of OPTIONAL_NUMBER_OPTIONS) {
    parser.option(option.flag, { defaultDescription: 'off', describe: option.description, requiresArg: true });
  }
  const flags = parser
    .option('admin-token-file', {
      type: 'string',
      requiresArg: true,
      // Never the token itself: a command line is visible to every user of the machine.
      describe: 'a file that holds the bearer token POST /announce requires (or set CHATD_ADMIN_TOKEN; without either, /announce is off)',
    })
    .option('redis', {
      type: 'string',
      requiresArg: true,
      describe: 'share one chat with every chatd started with the same Redis, e.g. redis://127.0.0.1:6379 (docs/CLUSTER.md); default: this node alone',
    })
    .option('motd', {
      type: 'string',
      requiresArg: true,
      defaultDescription: 'one line about /help',
      describe: "a text file whose lines every newcomer gets after the greeting, each as *** LINE ('': none); SIGHUP reads it again",
    })
    .option('tls-cert', {
      type: 'string',
      requiresArg: true,
      describe: 'a PEM file with the certificate (and its chain) for --tls-port and an HTTPS --web-port; SIGHUP reads it again',
    })
    .option('tls-key', { type: 'string', requiresArg: true, describe: "a PEM file with the certificate's private key; SIGHUP reads it again" })
    .option('web-origin', {
      type: 'string',
      requiresArg: true,
      defaultDescription: "the page's own",
      describe: 'other origins whose pages may open a WebSocket, comma separated, e.g. https://chat.example.com',
    })
    .option('data-dir', {
      type: 'string',
      requiresArg: true,
      defaultDescription: 'none: history in memory only',
      describe: 'a directory where the history is kept (SQLite), so that a restart keeps it (docs/OPERATIONS.md §11)',
    })
    .option('log-level', {
      type: 'string',
      defaultDescription: DEFAULT_LOG_LEVEL,
      // Not yargs' `choices`: its error takes several lines; buildConfig says it in one.
      describe: `least severe log line written to stderr: ${LOG_LEVELS.join(', ')}`,
    })
    .option('config', {
      type: 'string',
      requiresArg: true,
      describe: 'a JSON file of settings named as the flags, e.g. {"port": 8000}; CHATD_* variables override it, flags override both',
    })
    .strict()
    // Every value reaches buildConfig as typed: yargs would turn `--port 0x4650` into 18000 (#10 §6).
    .parserConfiguration({ 'parse-numbers': false })
    .version(packageVersion())
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((message, error) => {
      fail('chatd', `${error?.message ?? message} (see chatd --help)`, EXIT_USAGE);
    })
    .parseSync() as Record<string, unknown>;
  try {
    return resolveConfig(flags, process.env, (path) => readFileSync(path, 'utf8'));
  } catch (error) {
    if (error instanceof ConfigError) fail('chatd', error.message, EXIT_USAGE);
    throw error;
  }
}

const readText = (path: string): string => readFileSync(path, 'utf8');

/**
 * --data-dir: opens the history kept there, before any port is taken; a directory or file chatd
 * cannot use is one line and exit 1 (OPERATIONS.md §11). A write that fails later is logged and
 * counted, and the chat goes on.
 */
function openHistoryOrExit(config: ServerConfig, log: Logger): OpenedHistory | null {
  if (config.dataDir === null) return null;
  try {
    return openHistoryStore({
      dir: config.dataDir,
      capacity: config.historySize,
      // Test hook only: a "disk" of this many pages fills up for real (SQLITE_FULL).
      ...(process.env['CHATD_TEST_HOOKS'] === '1' && process.env['CHATD_TEST_HISTORY_MAX_PAGES'] !== undefined
        ? { maxPages: Number(process.env['CHATD_TEST_HISTORY_MAX_PAGES']) }
        : {}),
      onWriteFailure: (failure) => log.error({ event: 'history-write-failed', code: failure.code, lost: failure.lost }, failure.message),
    });
  } catch (error) {
    if (error instanceof HistoryStoreError) fail('chatd', error.message, EXIT_FAILURE);
    throw error;
  }
}

/** What the server reads from files and the environment: the admin token, the message of the day, the certificate. */
function readInputs(config: ServerConfig): ServerInputs {
  return { ...readTextInputs(config), tls: readTlsIdentity(config, readText) };
}

function readTextInputs(config: ServerConfig): Omit<ServerInputs, 'tls'> {
  return { adminToken: readAdminToken(config, process.env, readText), motd: readMotd(config, readText) };
}

/**
 * At start, a problem with the token or the message of the day is a usage error like any bad
 * setting; a certificate or key that cannot be used is a failure (exit 1), as a port that cannot be had.
 */
function readInputsOrExit(config: ServerConfig): ServerInputs {
  let tls: TlsIdentity | null;
  try {
    tls = readTlsIdentity(config, readText);
  } catch (error) {
    if (error instanceof ConfigError) fail('chatd', error.message, EXIT_FAILURE);
    throw error;
  }
  try {
    return { ...readTextInputs(config), tls };
  } catch (error) {
    if (error instanceof ConfigError) fail('chatd', error.message, EXIT_USAGE);
    throw error;
  }
}

/** Days before its end at which a certificate in use is logged as a warning, at start and at every reload. */
const CERTIFICATE_WARNING_DAYS = 14;

function logCertificate(log: Logger, tls: TlsIdentity, event: string, text: string): void {
  const daysLeft = Math.floor((tls.validTo.getTime() - Date.now()) / 86_400_000);
  const fields = { event, subject: tls.subject, validTo: tls.validTo.toISOString(), daysLeft };
  if (daysLeft < 0) log.error(fields, `${text} ${tls.subject} expired on ${tls.validTo.toISOString()}; clients will refuse it: renew it and send SIGHUP`);
  else if (daysLeft < CERTIFICATE_WARNING_DAYS) {
    const when = daysLeft === 0 ? 'within a day' : `in ${daysLeft} day${daysLeft === 1 ? '' : 's'}`;
    log.warn(fields, `${text} ${tls.subject} ends ${when} (${tls.validTo.toISOString()}): renew it and send SIGHUP`);
  }
  else log.info(fields, `${text} ${tls.subject}, valid until ${tls.validTo.toISOString()}`);
}

function describeListenError(error: ListenError, config: ServerConfig): string {
  const flag = error.flag;
  const ports = { '--port': config.port, '--http-port': config.httpPort, '--web-port': config.webPort, '--tls-port': config.tlsPort } as const;
  const where = `${config.host}:${ports[flag]}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `${where} is already in use (another chatd?); stop that server or choose another ${flag}`;
    case 'EACCES':
      return `no permission to listen on ${where}; ports below 1024 need root or CAP_NET_BIND_SERVICE, so choose ${flag} 1024 or above`;
    case 'EADDRNOTAVAIL':
      return `${config.host} is not an address of this machine; choose another --host`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve --host ${config.host}; give an IP address or a known host name`;
    default:
      return `cannot listen on ${where}: ${error.message}`;
  }
}

main().catch((error: unknown) => {
  // A bug, not a user error: keep the stack, it is what a report needs.
  process.stderr.write(`chatd: unexpected failure: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(EXIT_FAILURE);
});
