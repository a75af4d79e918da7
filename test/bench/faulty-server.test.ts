// chat-bench's integrity accounting must be honest: against a chat server that drops, duplicates
// or reorders one message for one client, the bench reports exactly that. The faulty server lives
// here, in the test; chatd has no such switch.

import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runBench, type BenchOptions, type BenchResult } from '../../bench/chat-bench.ts';

type Fault = 'none' | 'drop' | 'duplicate' | 'late' | 'swap-senders';

/** The seed's wire format; the second client to connect is the victim of `fault`, once. */
async function startFaultyServer(fault: Fault): Promise<Server> {
  const clients: Socket[] = [];
  let victimPayloads = 0;
  let held: { line: string; sender: string } | null = null;
  // `~b RUN SENDER SEQ SENT_NS` (bench/payload.ts)
  const senderOf = (line: string): string => line.slice(line.indexOf('~b ') + 3).split(' ')[1]!;

  const deliver = (client: Socket, line: string): void => {
    if (clients.indexOf(client) !== 1 || !line.includes('~b ') || fault === 'none') {
      client.write(line);
      return;
    }
    victimPayloads++;
    if (held !== null && (fault === 'late' ? senderOf(line) === held.sender : senderOf(line) !== held.sender)) {
      client.write(line + held.line); // the held message comes after this one
      held = null;
      return;
    }
    if (victimPayloads !== 3) return void client.write(line);
    if (fault === 'drop') return;
    if (fault === 'duplicate') return void client.write(line + line);
    held = { line, sender: senderOf(line) };
  };

  const server = createServer((socket) => {
    const addr = `${socket.remoteAddress}:${socket.remotePort}`;
    clients.push(socket);
    for (const client of clients) deliver(client, `[${addr}]${addr}:login\r\n`);
    socket.write(`[${addr}]${addr}:I am here\r\n`);
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let lf: number;
      while ((lf = buffered.indexOf('\n')) !== -1) {
        const text = buffered.slice(0, lf);
        buffered = buffered.slice(lf + 1);
        for (const client of clients) if (!client.destroyed) deliver(client, `[${addr}]${addr}:${text}\r\n`);
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function benchAgainst(fault: Fault, senders: number): Promise<BenchResult> {
  server = await startFaultyServer(fault);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const options: BenchOptions = {
    host: '127.0.0.1',
    ports: [address.port],
    protocol: 'chatd',
    transport: 'tcp',
    spawn: null,
    workers: 1,
    seedBinary: '',
    serverPids: [],
    clients: 4,
    senders,
    rate: 20,
    duration: 1,
    payload: 64,
    ramp: 1000,
    threads: 2,
    max: false,
    p99BoundMs: 100,
    drainTimeoutMs: 1500,
    connectTimeoutMs: 10_000,
  };
  return runBench(options);
}

describe('chat-bench integrity accounting', () => {
  it('reports a clean run as clean', async () => {
    const result = await benchAgainst('none', 2);
    expect(result.headline!.integrity).toMatchObject({ lost: 0, duplicated: 0, late: 0, orderDisagreements: 0 });
    expect(result.headline!.integrity.received).toBe(result.headline!.expectedDeliveries);
  });

  it('reports one dropped message as one loss', async () => {
    const result = await benchAgainst('drop', 2);
    expect(result.headline!.integrity).toMatchObject({ lost: 1, duplicated: 0, late: 0 });
  });

  it('reports one message delivered twice as one duplicate', async () => {
    const result = await benchAgainst('duplicate', 2);
    expect(result.headline!.integrity).toMatchObject({ lost: 0, duplicated: 1, late: 0 });
  });

  it('reports a message overtaken by a later one of its sender as late', async () => {
    const result = await benchAgainst('late', 1);
    expect(result.headline!.integrity).toMatchObject({ lost: 0, duplicated: 0, late: 1 });
  });

  it('reports a client that saw two senders in another order than everyone else', async () => {
    const result = await benchAgainst('swap-senders', 2);
    expect(result.headline!.integrity).toMatchObject({ lost: 0, duplicated: 0, late: 0, orderDisagreements: 1 });
  });
});
