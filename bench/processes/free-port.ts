// Free loopback ports for the servers that the bench and the tests start, and whether a port
// answers yet. A server that can listen on port 0 and say which port it got (chatd does) needs
// neither; redis-server, nats-server and the seed's Go server are given one from here.

import { once } from 'node:events';
import { connect, createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

/**
 * A port the kernel just gave out and took back. Another process could take it before the server
 * listens on it; on a machine's own loopback that race has not lost a run yet.
 */
export async function freePort(host = LOOPBACK): Promise<number> {
  const probe = createServer();
  probe.listen({ host, port: 0 });
  await once(probe, 'listening');
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === 'string') throw new Error(`no free port on ${host}`);
  return address.port;
}

/** Whether something accepts TCP connections on host:port now. */
export function isListening(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
