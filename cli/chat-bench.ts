#!/usr/bin/env node
// `chat-bench`: flags -> BenchOptions -> runBench -> table (stdout), JSON and histogram files.
// Progress bars go to stderr, and only on a terminal.

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import cliProgress from 'cli-progress';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runBench, type BenchOptions, type BenchProgress } from '../bench/chat-bench.ts';
import { formatTable, histogramCsv, toJson } from '../bench/report.ts';
import { SERVER_KINDS, SERVER_TRANSPORTS, spawnMismatch, type ServerKind } from '../bench/servers.ts';
import { PROTOCOLS, TRANSPORTS, transportMismatch, type ProtocolName, type TransportName } from '../bench/wire.ts';
import { checkNodeVersion, fail, packageVersion } from './common.ts';

const EXIT_USAGE = 2;

async function main(): Promise<void> {
  checkNodeVersion('chat-bench');
  const argv = yargs(hideBin(process.argv))
    .scriptName('chat-bench')
    .usage('$0 [options]\n\nSimulated clients on loopback measure how fast a chat server connects them and how long a broadcast takes to reach them.')
    .options({
      clients: { type: 'number', default: 1000, describe: 'clients connected for the whole run' },
      senders: { type: 'number', default: 10, describe: 'clients among them that send' },
      rate: { type: 'number', default: 10, describe: 'messages per second per sender (the first step with --max)' },
      duration: { type: 'number', default: 10, describe: 'seconds of load (per step with --max)' },
      payload: { type: 'number', default: 64, describe: 'bytes of text per message (at least 48: it carries run, sender, number and send time)' },
      ramp: { type: 'number', default: 5000, describe: 'connections opened per second' },
      host: { type: 'string', default: '127.0.0.1', describe: 'server to measure' },
      port: { type: 'number', default: 8000, describe: "its port, the transport's own (chatd's --tls-port for tls, its --web-port for ws and wss)" },
      nodes: { type: 'string', describe: 'the ports of the nodes of one chatd cluster (--redis) on --host, e.g. 8001,8002,8003: clients are spread over them in turn' },
      protocol: { type: 'string', choices: PROTOCOLS, describe: 'chatd (also the seed\'s Go server) or nats; default: nats with --spawn nats, else chatd' },
      transport: {
        type: 'string',
        choices: TRANSPORTS,
        describe:
          'how the clients connect: tcp, tls, ws or wss (ws://HOST:PORT/ws, one line per message), socketio (socket.io-client, WebSocket only); ' +
          'default: socketio with --spawn socketio, else tcp',
      },
      'tls-ca': { type: 'string', describe: 'with --transport tls or wss and no --spawn: check the server\'s certificate against this PEM file (default: not checked)' },
      spawn: { type: 'string', choices: SERVER_KINDS, describe: 'start this server on a free port for the run: chatd (this checkout, over --transport), seed, nats, socketio (a plain socket.io server)' },
      workers: { type: 'number', default: availableParallelism(), describe: 'with --spawn chatd: its worker threads' },
      'seed-binary': { type: 'string', default: '/tmp/seedchat', describe: 'with --spawn seed: the built seed server (docs/BENCHMARKS.md says how to build it)' },
      'server-pid': { type: 'number', array: true, describe: 'measure CPU and memory of this process (automatic with --spawn); give it once per process of a cluster (the nodes and Redis): the figures are their sum' },
      threads: { type: 'number', default: availableParallelism(), describe: 'bench threads the clients are spread over' },
      max: { type: 'boolean', default: false, describe: 'raise --rate ×--step-factor per step until p99 reaches --p99-bound twice in a row or a message is lost; report the most deliveries/s that held' },
      'p99-bound': { type: 'number', default: 100, describe: 'with --max: the p99 latency (ms) a rate must stay under' },
      'step-factor': { type: 'number', default: 1.5, describe: 'with --max: each step offers this many times the rate of the one before' },
      'drain-timeout': { type: 'number', default: 5, describe: 'seconds to wait for messages in flight after each step' },
      json: { type: 'string', describe: 'write the full result as JSON to this file' },
      histogram: { type: 'string', describe: 'write the latency distribution (percentile, ms) as CSV to this file' },
    })
    .check((args) => {
      if (args.nodes !== undefined && parsePorts(args.nodes) === null) throw new Error(`--nodes must be ports separated by commas, such as 8001,8002; got ${args.nodes}`);
      if (args.nodes !== undefined && args.spawn !== undefined) throw new Error('--nodes measures servers already running; leave out --spawn');
      const transport = defaultTransport(args.transport as TransportName | undefined, args.spawn as ServerKind | undefined);
      const protocol = defaultProtocol(args.protocol as ProtocolName | undefined, args.spawn as ServerKind | undefined);
      const mismatch = transportMismatch(protocol, transport) ?? (args.spawn === undefined ? null : spawnMismatch(args.spawn as ServerKind, transport));
      if (mismatch !== null) throw new Error(mismatch);
      if (args['tls-ca'] !== undefined && transport !== 'tls' && transport !== 'wss') throw new Error(`--tls-ca applies to --transport tls or wss; got --transport ${transport}`);
      if (args['tls-ca'] !== undefined && args.spawn !== undefined) throw new Error('--tls-ca is for a server already running; with --spawn the bench makes and checks a certificate of its own');
      for (const pid of args['server-pid'] ?? []) if (!Number.isInteger(pid) || pid <= 0) throw new Error(`--server-pid must be a process id; got ${String(pid)}`);
      if (!(args['step-factor'] > 1)) throw new Error(`--step-factor must be above 1; got ${args['step-factor']}`);
      for (const key of ['clients', 'senders', 'rate', 'duration', 'payload', 'ramp', 'threads', 'workers', 'p99-bound', 'drain-timeout'] as const) {
        const value = args[key];
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new Error(`--${key} must be a positive number; got ${String(value)}`);
      }
      if (!Number.isInteger(args.clients) || !Number.isInteger(args.senders)) throw new Error('--clients and --senders must be whole numbers');
      if (args.senders > args.clients) throw new Error(`--senders (${args.senders}) cannot exceed --clients (${args.clients})`);
      if (!Number.isInteger(args.port) || args.port < 1 || args.port > 65535) throw new Error(`--port must be 1-65535; got ${args.port}`);
      return true;
    })
    .strict()
    .version(packageVersion())
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((message, error) => fail('chat-bench', `${(error?.message ?? message).split('\n')[0]} (see chat-bench --help)`, EXIT_USAGE))
    .parseSync();

  const spawn = (argv.spawn ?? null) as ServerKind | null;
  const options: BenchOptions = {
    host: argv.host,
    ports: argv.nodes === undefined ? [argv.port] : parsePorts(argv.nodes)!,
    protocol: defaultProtocol(argv.protocol as ProtocolName | undefined, argv.spawn as ServerKind | undefined),
    transport: defaultTransport(argv.transport as TransportName | undefined, argv.spawn as ServerKind | undefined),
    ...(argv['tls-ca'] === undefined ? {} : { tlsCaFile: argv['tls-ca'] }),
    spawn,
    workers: argv.workers,
    seedBinary: argv['seed-binary'],
    serverPids: argv['server-pid'] ?? [],
    clients: argv.clients,
    senders: argv.senders,
    rate: argv.rate,
    duration: argv.duration,
    payload: argv.payload,
    ramp: argv.ramp,
    threads: argv.threads,
    max: argv.max,
    stepFactor: argv['step-factor'],
    p99BoundMs: argv['p99-bound'],
    drainTimeoutMs: argv['drain-timeout'] * 1000,
    connectTimeoutMs: Math.max(30_000, (argv.clients / argv.ramp) * 1000 * 3),
  };
  const result = await runBench(options, process.stderr.isTTY ? progressBars() : undefined);
  process.stdout.write(`${formatTable(result)}\n`);
  if (argv.json !== undefined) writeFileSync(argv.json, `${toJson(result)}\n`);
  const headline = result.headline ?? result.rounds.at(-1);
  if (argv.histogram !== undefined && headline !== undefined) writeFileSync(argv.histogram, histogramCsv(headline));
  if (result.connect.greeted < result.connect.clients) {
    fail('chat-bench', `only ${result.connect.greeted} of ${result.connect.clients} clients got in; no load was run`, 1);
  }
}

/** --protocol, else what --spawn speaks: nats for nats-server, chatd's for the others. */
function defaultProtocol(protocol: ProtocolName | undefined, spawn: ServerKind | undefined): ProtocolName {
  return protocol ?? (spawn === 'nats' ? 'nats' : 'chatd');
}

/** --transport, else the first one --spawn's server is measured over (socketio for socket.io), else tcp. */
function defaultTransport(transport: TransportName | undefined, spawn: ServerKind | undefined): TransportName {
  return transport ?? (spawn === undefined ? 'tcp' : SERVER_TRANSPORTS[spawn][0]);
}

/** `8001,8002` as port numbers, or null when any of it is not a port. */
function parsePorts(list: string): number[] | null {
  const ports = list.split(',').map((part) => Number(part.trim()));
  return ports.every((port) => Number.isInteger(port) && port >= 1 && port <= 65535) ? ports : null;
}

function progressBars(): BenchProgress {
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{phase} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let phase = '';
  const show = (name: string, value: number, total: number): void => {
    if (phase !== name) {
      if (phase !== '') bar.stop();
      phase = name;
      bar.start(total, value, { phase: name });
    }
    bar.update(value);
  };
  return {
    connecting: (greeted, total) => show('connect', greeted, total),
    loading: (elapsed, total, rate) => show(`load ${rate.toFixed(1)}/s`, Math.round(elapsed), total),
    done: () => bar.stop(),
  };
}

main().catch((error: unknown) => {
  fail('chat-bench', error instanceof Error ? error.message : String(error), 1);
});
