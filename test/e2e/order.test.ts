// The one global order (docs/ARCHITECTURE.md §4): with two worker threads and forty clients,
// lines sent at once by several clients reach every client in the same sequence, none lost and
// none twice.

import { describe, expect, it } from 'vitest';
import { connectAndGreet, lineFrom, type ChatClient } from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const CLIENTS = 40;
const SENDERS = 6;
const LINES_PER_SENDER = 60;

const server = useChatd(['--workers', '2', '--max-per-ip', '0', '--rate-limit', '0']);
describe('chatd --workers 2', () => {
  it('delivers concurrent lines from several senders to every client in one identical order', async () => {
    const clients: ChatClient[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await connectAndGreet(server().port, clients));

    const senders = clients.filter((_, i) => i % Math.floor(CLIENTS / SENDERS) === 0).slice(0, SENDERS);
    const sent = senders.map((sender, s) => Array.from({ length: LINES_PER_SENDER }, (_, n) => `s${s} n${n}`));
    // Every sender writes its lines in bursts of 1 to 4, all senders in turn, without waiting
    // for anything: the workers read them in whatever order the kernel hands them over.
    const writes: Promise<void>[] = [];
    const next = senders.map(() => 0);
    let round = 0;
    while (next.some((n) => n < LINES_PER_SENDER)) {
      senders.forEach((sender, s) => {
        const burst = 1 + ((round + s) % 4);
        const lines = sent[s]!.slice(next[s], next[s]! + burst);
        next[s] = next[s]! + lines.length;
        if (lines.length > 0) writes.push(sender.write(lines.map((line) => `${line}\n`).join('')));
      });
      round++;
      // A turn of the event loop between rounds, so that the writes reach the kernel spread out in time.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(writes);

    const total = SENDERS * LINES_PER_SENDER;
    const received = await Promise.all(
      clients.map(async (client) => {
        const lines: string[] = [];
        for (let i = 0; i < total; i++) lines.push(await client.nextLine(10_000));
        return lines;
      }),
    );

    // Nothing lost and nothing twice: each sender's lines, in the order it sent them.
    const first = received[0]!;
    senders.forEach((sender, s) => {
      const prefix = `[${sender.addr}]${sender.name}:`;
      expect(first.filter((line) => line.startsWith(prefix))).toEqual(sent[s]!.map((text) => lineFrom(sender, text)));
    });
    // And everyone saw exactly that sequence.
    received.forEach((lines, i) => expect(lines, `client ${i} (${clients[i]!.addr})`).toEqual(first));
    for (const client of clients) await client.expectNoLine(0);

    // The interleaving really was concurrent: the sequence is not one sender after another.
    const senderOf = first.map((line) => line.slice(0, line.indexOf(']')));
    const switches = senderOf.filter((who, i) => i > 0 && who !== senderOf[i - 1]).length;
    expect(switches, `${switches} switches between senders`).toBeGreaterThan(SENDERS);
  });
});
