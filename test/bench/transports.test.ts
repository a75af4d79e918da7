// chat-bench over each transport: a tiny workload against a real chatd over TCP, TLS, WebSocket
// and secure WebSocket, and against the socket.io peer through socket.io-client, must count every
// line exactly once and in one order; and the CLI refuses a transport the server is not measured
// over with a message that says what to change. The TLS runs need openssl for their certificate.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runBench, SCRIPT_DEFAULTS, type BenchOptions, type BenchResult } from '../../bench/chat-bench.ts';
import { THIS_CHECKOUT } from '../../bench/processes/chatd.ts';
import { hasOpenssl } from '../../bench/processes/self-signed-cert.ts';
import type { ServerKind } from '../../bench/servers.ts';
import type { TransportName } from '../../bench/wire.ts';
import { optionsFor, PEER_SERVERS, PEER_WORKLOADS } from '../../bench/workloads.ts';
import { requireTool } from '../helpers/require-tool.ts';

const hasCertificates = requireTool('openssl', hasOpenssl(), 'apt-get install openssl');

const CLIENTS = 20;

function tinyRun(spawn: ServerKind, transport: TransportName): Promise<BenchResult> {
  const options: BenchOptions = {
    ...SCRIPT_DEFAULTS,
    spawn,
    transport,
    workers: 2,
    clients: CLIENTS,
    senders: 4,
    rate: 20,
    duration: 1,
    ramp: 1000,
    threads: 2,
    drainTimeoutMs: 3000,
    connectTimeoutMs: 15_000,
  };
  return runBench(options);
}

function expectEveryLineOnceInOneOrder(result: BenchResult, transport: TransportName): void {
  expect(result.target.transport).toBe(transport);
  expect(result.connect).toMatchObject({ clients: CLIENTS, greeted: CLIENTS, refused: 0 });
  expect(result.heldClients).toBe(CLIENTS);
  const round = result.headline!;
  expect(round.sent).toBeGreaterThan(0);
  expect(round.integrity).toMatchObject({ lost: 0, duplicated: 0, late: 0, orderDisagreements: 0 });
  expect(round.integrity.received).toBe(round.expectedDeliveries);
  expect(result.errors).toEqual([]);
}

describe('chat-bench --transport against chatd', () => {
  it.each(['tcp', 'ws'] as const)('counts every line once and in one order over %s', async (transport) => {
    expectEveryLineOnceInOneOrder(await tinyRun('chatd', transport), transport);
  });

  it.runIf(hasCertificates).each(['tls', 'wss'] as const)('counts every line once and in one order over %s, checking the certificate it made', async (transport) => {
    expectEveryLineOnceInOneOrder(await tinyRun('chatd', transport), transport);
  });
});

describe('chat-bench against the socket.io peer', () => {
  it('counts every line once and in one order through socket.io-client', async () => {
    const result = await tinyRun('socketio', 'socketio');
    expectEveryLineOnceInOneOrder(result, 'socketio');
    expect(result.target.kind).toBe('socketio');
    expect(result.server.exit).toBeNull();
  });
});

const runCli = promisify(execFile);

/** chat-bench's exit code and stderr for these flags (a usage error exits before any server starts). */
async function chatBench(args: readonly string[]): Promise<{ readonly code: number; readonly stderr: string }> {
  try {
    const { stderr } = await runCli(process.execPath, ['cli/chat-bench.ts', ...args], { cwd: THIS_CHECKOUT, timeout: 10_000 });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? -1, stderr: failed.stderr ?? '' };
  }
}

describe('chat-bench --transport on the command line', () => {
  it.each([
    [['--spawn', 'seed', '--transport', 'ws'], '--spawn seed is measured over tcp; got --transport ws'],
    [['--spawn', 'chatd', '--transport', 'socketio'], '--spawn chatd is measured over tcp, tls, ws, wss; got --transport socketio'],
    [['--spawn', 'nats', '--transport', 'tls'], 'the nats protocol is measured over tcp only; got --transport tls'],
    [['--transport', 'ws', '--tls-ca', '/tmp/ca.pem'], '--tls-ca applies to --transport tls or wss; got --transport ws'],
    [['--spawn', 'chatd', '--transport', 'wss', '--tls-ca', '/tmp/ca.pem'], '--tls-ca is for a server already running'],
  ])('refuses %j with a usage error that says what to change', async (args, message) => {
    const { code, stderr } = await chatBench(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});

describe('PEER_SERVERS', () => {
  it('runs each named server over its own transport and protocol, from bench:peers and ab.ts alike', () => {
    const w2 = PEER_WORKLOADS.find((workload) => workload.name === 'W2-fanout')!;
    const of = (name: keyof typeof PEER_SERVERS): readonly [unknown, unknown, unknown] => {
      const options = optionsFor(w2, PEER_SERVERS[name], 2, 2, '/tmp/seedchat');
      return [options.spawn, options.protocol, options.transport];
    };
    expect(of('chatd')).toEqual(['chatd', 'chatd', 'tcp']);
    expect(of('chatd-tls')).toEqual(['chatd', 'chatd', 'tls']);
    expect(of('chatd-ws')).toEqual(['chatd', 'chatd', 'ws']);
    expect(of('chatd-wss')).toEqual(['chatd', 'chatd', 'wss']);
    expect(of('nats')).toEqual(['nats', 'nats', 'tcp']);
    expect(of('seed')).toEqual(['seed', 'chatd', 'tcp']);
    expect(of('socketio')).toEqual(['socketio', 'chatd', 'socketio']);
  });
});
