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
import { readAdminToken, readMotd } from '../server/config-inputs.ts';
import { formatAddress } from '../protocol/index.ts';
import { createLogger } from '../server/log.ts';
import { ListenError, startServer, type ServerInputs } from '../server/primary.ts';
import { checkNodeVersion, fail, packageVersion } from './common.ts';
import { ClusterError, roomFor } from './compose-room.ts';

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

async function main(): Promise<void> {
  checkNodeVersion('chatd');
  const config = parseArguments(hideBin(process.argv));
  const inputs = readInputsOrExit(config);
  const log = createLogger(config.logLevel, { thread: 'primary' });
  let server;
  try {
    server = await startServer(config, log, inputs, roomFor(config, inputs.motd));
  } catch (error) {
    if (error instanceof ListenError) fail('chatd', describeListenError(error, config), EXIT_FAILURE);
    if (error instanceof ClusterError) fail('chatd', error.message, EXIT_FAILURE);
    throw error;
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
  });
  if (process.env['CHATD_TEST_HOOKS'] === '1') {
    // Test-only, and never reachable from the wire: SIGUSR2 makes worker 0 crash (issue #4).
    process.on('SIGUSR2', () => server.crashWorker(0));
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
    { event: 'listening', host: server.host, port: server.port, workers: config.workers, pid: process.pid },
    `chatd listening on ${formatAddress(server.host, server.port)} with ${config.workers} worker thread${config.workers === 1 ? '' : 's'}`,
  );
}

function parseArguments(argv: string[]): ServerConfig {
  // No yargs defaults: resolveConfig must see which flags were given, so that a flag wins over
  // CHATD_* and the config file while an absent one does not. --help still shows the defaults.
  const parser = yargs(argv)
    .scriptName('chatd')
    .usage('$0 [options]\n\nA broadcast chat server: telnet in on --port and everyone online sees your lines.')
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

/** What the server reads from files and the environment: the admin token and the message of the day. */
function readInputs(config: ServerConfig): ServerInputs {
  const readFile = (path: string): string => readFileSync(path, 'utf8');
  return { adminToken: readAdminToken(config, process.env, readFile), motd: readMotd(config, readFile) };
}

/** At start, a problem with either is a usage error like any bad setting. */
function readInputsOrExit(config: ServerConfig): ServerInputs {
  try {
    return readInputs(config);
  } catch (error) {
    if (error instanceof ConfigError) fail('chatd', error.message, EXIT_USAGE);
    throw error;
  }
}

function describeListenError(error: ListenError, config: ServerConfig): string {
  const flag = error.flag;
  const where = `${config.host}:${flag === '--http-port' ? config.httpPort : config.port}`;
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
