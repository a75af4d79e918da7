// Connection storms and a client that floods while never reading (issue #4, docs/SECURITY.md):
// refused or cut without stalling the chat of those already in.

import { connect as connectSocket, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectAs, lineFrom } from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

/** Round trip of one chat line from `from` to `to`, in ms. */
async function chatLatency(from: Awaited<ReturnType<typeof connectAs>>, to: Awaited<ReturnType<typeof connectAs>>, text: string): Promise<number> {
  const sent = performance.now();
  await from.send(text);
  await to.waitForLine((line) => line === lineFrom(from, text));
  return performance.now() - sent;
}

describe('chatd under a connection storm (default --max-per-ip 16)', () => {
  const server = useChatd();

  it('refuses the storm past --max-per-ip and keeps the chat of those already in flowing', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const storm: Socket[] = [];
    const closed: Array<Promise<void>> = [];
    try {
      for (let i = 0; i < 300; i++) {
        const socket = connectSocket({ host: '127.0.0.1', port: server().port });
        socket.on('error', () => {});
        socket.resume(); // read and drop whatever the server says
        closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
        storm.push(socket);
      }
      // While the storm is accepted and refused, alice's lines still reach bob promptly.
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) latencies.push(await chatLatency(alice, bob, `during the storm ${i}`));
      expect(Math.max(...latencies)).toBeLessThan(1000);
      // 16 per address: alice, bob and 14 of the storm got in; the rest were refused and closed.
      await server().waitForLog(
        (record) => record['event'] === 'kick' && record['reason'] === 'TooManyFromAddress',
        5000,
      );
      // #10 §7: one line for the first refusal, then one summary a second, not a line each.
      const refusalLines = () =>
        server().logs.filter((record) => record['reason'] === 'TooManyFromAddress' || record['event'] === 'kicks-summary');
      const refused = () =>
        refusalLines().reduce((sum, record) => {
          const byReason = record['byReason'] as Record<string, number> | undefined;
          return sum + (byReason === undefined ? 1 : (byReason['TooManyFromAddress'] ?? 0));
        }, 0);
      for (let i = 0; i < 100 && refused() < 300 - 14; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(refused()).toBe(300 - 14);
      expect(refusalLines().length).toBeLessThanOrEqual(10);
    } finally {
      for (const socket of storm) socket.destroy();
      await Promise.all(closed);
    }
    expect(await chatLatency(bob, alice, 'after the storm')).toBeLessThan(1000);
  });
});

describe('chatd with a client that floods and never reads (--rate-limit 200 --rate-burst 50)', () => {
  const server = useChatd(['--rate-limit', '200', '--rate-burst', '50']);

  it('cuts it, and the others see it leave and chat on', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const mallory = await connectAs(server().port, 'mallory', [alice, bob]);
    mallory.pause();
    // Mallory floods without reading a byte; its own lines are its output too.
    const flood = setInterval(() => void mallory.write(`${'x'.repeat(3000)}\n`.repeat(20)).catch(() => {}), 20);
    try {
      const kick = await server().waitForLog(
        (record) => record['event'] === 'kick' && record['addr'] === mallory.addr,
        20_000,
      );
      expect(['Flooding', 'SlowConsumer']).toContain(kick['reason']);
    } finally {
      clearInterval(flood);
    }
    // Alice and Bob saw mallory's lines (those within its rate) then its leave, and chat on.
    await alice.waitForLine((line) => line === lineFrom(mallory, 'login out'), 10_000);
    await bob.waitForLine((line) => line === lineFrom(mallory, 'login out'), 10_000);
    await alice.send('still here');
    await bob.waitForLine((line) => line === lineFrom(alice, 'still here'));
  });
});
