// A worker thread that dies costs only its own clients a reconnect (issue #4): the primary
// notices at once, tells everyone else they left, frees their names, and starts a replacement
// that takes new clients; the other worker's clients never notice. Before dying, the worker posts
// messages the primary does not expect, which it must log and ignore. Both come from a test-only
// hook (CHATD_TEST_HOOKS=1 and SIGUSR2), which nothing on the wire can reach.

import { afterAll, describe, expect, it } from 'vitest';
import { connectAs, disconnectAll, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { startChatd, stopAllChatd } from '../helpers/start-server.ts';

afterAll(async () => {
  await disconnectAll();
  await stopAllChatd();
});

describe('chatd --workers 2 when worker 0 crashes', () => {
  it('announces its clients as gone, frees their names, replaces it, and the others chat on', async () => {
    const server = await startChatd(['--workers', '2', '--max-per-ip', '0', '--rate-limit', '0'], { CHATD_TEST_HOOKS: '1' });
    // Connect until both workers own clients; the connect log says which worker took each.
    const clients: ChatClient[] = [];
    const workerOf = new Map<ChatClient, number>();
    for (let i = 0; i < 40 && new Set(workerOf.values()).size < 2; i++) {
      const client = await connectAs(server.port, `user${i}`, clients);
      clients.push(client);
      const record = await server.waitForLog((log) => log['event'] === 'connect' && log['addr'] === client.addr);
      workerOf.set(client, record['worker'] as number);
    }
    const doomed = clients.filter((client) => workerOf.get(client) === 0);
    const survivors = clients.filter((client) => workerOf.get(client) === 1);
    expect(doomed.length).toBeGreaterThan(0);
    expect(survivors.length).toBeGreaterThan(0);

    server.signal('SIGUSR2');
    for (const client of doomed) await client.expectClosed(5000);
    for (const survivor of survivors) {
      const gone = new Set(doomed.map((client) => lineFrom(client, 'login out')));
      while (gone.size > 0) gone.delete(await survivor.nextLine(5000));
    }
    await server.waitForLog((log) => log['event'] === 'worker-replaced' && log['worker'] === 0, 10_000);
    // Before it died, the worker posted garbage: the primary logged each piece and went on.
    for (const msg of [
      'unexpected message from a worker; ignored',
      'malformed events from a worker; ignored',
      'could not handle an event from a worker; ignored',
    ]) {
      expect(server.logs.some((log) => log['msg'] === msg), msg).toBe(true);
    }

    // The others never noticed: they chat on, in one order.
    const [first, ...rest] = survivors;
    await first!.send('still here');
    for (const survivor of survivors) await survivor.expectLine(lineFrom(first!, 'still here'));

    // The names are free again, and the replacement worker 0 takes new clients and serves them.
    const online = [...survivors];
    const comeback = await connectAs(server.port, doomed[0]!.name, online);
    online.push(comeback);
    let onReplacement: ChatClient | undefined;
    for (let i = 0; i < 40 && onReplacement === undefined; i++) {
      const client = await connectAs(server.port, `new${i}`, online);
      online.push(client);
      const record = await server.waitForLog((log) => log['event'] === 'connect' && log['addr'] === client.addr);
      if (record['worker'] === 0) onReplacement = client;
    }
    expect(onReplacement).toBeDefined();
    await onReplacement!.send('hello from the new worker');
    for (const client of [...rest, first!]) await client.expectLine(lineFrom(onReplacement!, 'hello from the new worker'));
    expect(server.hasExited).toBe(false);
  });
});
