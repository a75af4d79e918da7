// chatd nodes of a test cluster: each with --redis and its own HTTP port, so that a test can ask
// any node who it thinks is online (GET /who) without a client of its own in the way.

import { connectAndGreet, lineFrom, type ChatClient } from './chat-client.ts';
import type { TestRedis } from './redis-server.ts';
import { startChatd, type ChatdProcess } from './start-server.ts';

const NODE_ARGS = ['--workers', '1', '--max-per-ip', '0', '--rate-limit', '0', '--http-port', '0'];

export interface Node {
  readonly process: ChatdProcess;
  readonly port: number;
  readonly httpPort: number;
}

export async function startNode(redis: TestRedis, args: readonly string[] = []): Promise<Node> {
  const process = await startChatd(['--redis', redis.url, ...NODE_ARGS, ...args]);
  const record = await process.waitForLog((line) => line['event'] === 'http-listening');
  const httpPort = record['port'];
  if (typeof httpPort !== 'number') throw new Error(`http-listening without a port: ${JSON.stringify(record)}`);
  return { process, port: process.port, httpPort };
}

/** `who` as this node knows it: "ADDR:NAME" per client, in order of arrival. */
export async function whoOn(node: Node): Promise<string[]> {
  const response = await fetch(`http://127.0.0.1:${node.httpPort}/who`);
  const clients = (await response.json()) as { addr: string; name: string }[];
  return clients.map(({ addr, name }) => `${addr}:${name}`);
}

/** Waits (5 s at most) until every node lists exactly `expected`. */
export async function waitForWho(nodes: readonly Node[], expected: readonly string[]): Promise<void> {
  const deadline = Date.now() + 5000;
  for (const node of nodes) {
    for (;;) {
      const listed = await whoOn(node);
      if (JSON.stringify(listed) === JSON.stringify(expected)) break;
      if (Date.now() > deadline) throw new Error(`node on port ${node.port} lists ${JSON.stringify(listed)}, not ${JSON.stringify(expected)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Connects to `node` and takes the newcomer's login and greeting; everyone in `online` sees the login. */
export function join(node: Node, online: readonly ChatClient[]): Promise<ChatClient> {
  return connectAndGreet(node.port, online);
}

/** `rename|NAME`, answered `rename ok`; every other client in `online` sees it. */
export async function rename(client: ChatClient, name: string, online: readonly ChatClient[]): Promise<void> {
  await client.send(`rename|${name}`);
  await client.expectLine('rename ok');
  for (const other of online) if (other !== client) await other.expectLine(lineFrom(client, `renamed to ${name}`));
  client.name = name;
  client.label = name;
}
