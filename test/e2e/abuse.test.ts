// Clients that send faster than people type, and machines that open too many connections
// (issue #4, docs/SECURITY.md): slowed down and told, cut when they keep on, refused past
// --max-per-ip; and nobody else waits for them.

import { describe, expect, it } from 'vitest';
import { connect, connectAndGreet, connectAs, lineFrom } from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

describe('chatd flood control (--rate-limit 5 --rate-burst 2)', () => {
  const server = useChatd(['--rate-limit', '5', '--rate-burst', '2']);

  it('slows a fast client down, tells it once, and delivers every line in order', async () => {
    const alice = await connectAs(server().port, 'alice');
    const mallory = await connectAs(server().port, 'mallory', [alice]);
    await new Promise((resolve) => setTimeout(resolve, 500)); // refill the bucket the rename used
    const started = performance.now();
    await mallory.write(Array.from({ length: 8 }, (_, i) => `spam ${i}\n`).join(''));
    await mallory.expectLine('error: slow down: at most 5 lines a second (2 at once); your lines are delayed');
    for (let i = 0; i < 8; i++) await alice.expectLine(lineFrom(mallory, `spam ${i}`));
    // 2 at once, then 6 more at 5 a second: at least 1.2 s.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1100);
  });

  it('keeps chat going for everyone else while one client is held back', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const mallory = await connectAs(server().port, 'mallory', [alice, bob]);
    await mallory.write(Array.from({ length: 20 }, (_, i) => `spam ${i}\n`).join(''));
    await alice.waitForLine((line) => line === lineFrom(mallory, 'spam 1'));
    const sent = performance.now();
    await bob.send('still here');
    await alice.waitForLine((line) => line === lineFrom(bob, 'still here'));
    expect(performance.now() - sent).toBeLessThan(500);
  });
});

describe('chatd flood control against a client that keeps flooding (--rate-limit 20 --rate-burst 1)', () => {
  // Over 20 lines a second for as long as 60 lines take at that rate: 3 s.
  const server = useChatd(['--rate-limit', '20', '--rate-burst', '1']);

  it('disconnects it with a last line, and the others see it leave', async () => {
    const alice = await connectAs(server().port, 'alice');
    const mallory = await connectAs(server().port, 'mallory', [alice]);
    const flood = setInterval(() => void mallory.write('spam\n'.repeat(50)).catch(() => {}), 50);
    try {
      await mallory.waitForLine((line) => line === 'error: flooding: over 20 lines a second for 3 s; disconnected', 10_000);
      await mallory.expectClosed(5000);
    } finally {
      clearInterval(flood);
    }
    await alice.waitForLine((line) => line === lineFrom(mallory, 'login out'), 5000);
  });
});

describe('chatd --max-per-ip 2', () => {
  const server = useChatd(['--max-per-ip', '2']);

  it('refuses a third client from one address, and lets in one from another address', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    const mallory = await connect(server().port);
    await mallory.expectLine('error: too many connections from your address (2); close one and try again');
    await mallory.expectClosed();
    const carol = await connectAndGreet(server().port, [alice, bob], { localAddress: '127.0.0.2' });
    expect(carol.addr.startsWith('127.0.0.2:')).toBe(true);
  });
});
