// The named workloads of issue #5 (W1–W5) and the small ones the seed's server survives, and the
// named servers they run against (chatd over each transport, the peers): one list for
// bench:peers and for bench/ab.ts, so a figure of one is a figure of the other.

import { SCRIPT_DEFAULTS, type BenchOptions } from './chat-bench.ts';
import type { PeerWorkload } from './peers-report.ts';
import type { ServerKind } from './servers.ts';
import type { TransportName } from './wire.ts';

/** A server the bench starts, and how its clients connect. */
export interface PeerServer {
  readonly kind: ServerKind;
  readonly transport: TransportName;
}

/**
 * The servers bench:peers and ab.ts know by name: chatd over each of its transports (one process,
 * so chatd-ws against chatd is the price of the WebSocket framing and its HTTP upgrade), the
 * seed's Go server, nats-server, and a plain socket.io server driven by socket.io-client.
 */
export const PEER_SERVERS = {
  chatd: { kind: 'chatd', transport: 'tcp' },
  'chatd-tls': { kind: 'chatd', transport: 'tls' },
  'chatd-ws': { kind: 'chatd', transport: 'ws' },
  'chatd-wss': { kind: 'chatd', transport: 'wss' },
  seed: { kind: 'seed', transport: 'tcp' },
  nats: { kind: 'nats', transport: 'tcp' },
  socketio: { kind: 'socketio', transport: 'socketio' },
} as const satisfies Record<string, PeerServer>;
export type PeerServerName = keyof typeof PEER_SERVERS;

export function isPeerServerName(name: string): name is PeerServerName {
  return Object.hasOwn(PEER_SERVERS, name);
}

/** The workloads of issue #5 (W1–W5), the idle round trip of #14, and the small one the seed's server survives. */
export const PEER_WORKLOADS: readonly PeerWorkload[] = [
  // Issue #14: one client alone, 500 lines at 50 a second, each back long before the next is
  // sent: the round trip of a line through an idle server, which a bot or a reconnect storm feels.
  { name: 'idle-rtt', clients: 1, senders: 1, rate: 50, duration: 10, ramp: 50 },
  { name: 'seed-sized', clients: 100, senders: 10, rate: 100, duration: 5, ramp: 50 },
  { name: 'W1-connect', clients: 5000, senders: 1, rate: 1, duration: 1, ramp: 5000 },
  { name: 'W2-fanout', clients: 1000, senders: 10, rate: 10, duration: 10, ramp: 2000 },
  { name: 'W3-fanout', clients: 5000, senders: 5, rate: 5, duration: 10, ramp: 5000 },
  // From 20,000 deliveries/s offered, ×1.6 a step (12 steps reach 3.5 million): enough points
  // below the knee for the latency curve, few enough to keep a ramp under a minute.
  { name: 'W4-max', clients: 1000, senders: 10, rate: 2, duration: 3, ramp: 2000, max: true, stepFactor: 1.6 },
  // chatd tells each of the 10,000 logins to everyone online (50 million lines): on a busy
  // 2-core machine that took more than a minute in a trial, so W5 waits up to three.
  { name: 'W5-many', clients: 10000, senders: 5, rate: 2, duration: 10, ramp: 5000, connectTimeoutSeconds: 180 },
  // W4's ramp at the size the seed's server survives (100 clients joining at 50/s), so the curve
  // has all three servers. Its clients that do not send are dropped from its broadcast after 60 s
  // of silence (its idle timeout), so its ramp must end sooner: 2,000 deliveries/s ×1.6 up to 12
  // steps of 3 s (352,000 deliveries/s). chatd and nats-server ramp as far as they hold.
  { name: 'W4-seed-sized', clients: 100, senders: 10, rate: 2, duration: 3, ramp: 50, max: true, stepFactor: 1.6, seedMaxSteps: 12 },
];

/** chat-bench's options for one workload against a server that the bench starts. */
export function optionsFor(workload: PeerWorkload, server: PeerServer, workers: number, threads: number, seedBinary: string): BenchOptions {
  const { kind, transport } = server;
  return {
    ...SCRIPT_DEFAULTS,
    protocol: kind === 'nats' ? 'nats' : 'chatd',
    transport,
    spawn: kind,
    workers,
    seedBinary,
    clients: workload.clients,
    senders: workload.senders,
    rate: workload.rate,
    duration: workload.duration,
    ramp: workload.ramp,
    threads,
    max: workload.max ?? false,
    ...(workload.stepFactor === undefined ? {} : { stepFactor: workload.stepFactor }),
    ...(kind === 'seed' && workload.seedMaxSteps !== undefined ? { maxSteps: workload.seedMaxSteps } : {}),
    connectTimeoutMs: (workload.connectTimeoutSeconds ?? 60) * 1000,
  };
}
