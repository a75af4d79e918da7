// The seed server's behaviour, row by row, against a real chatd: login, greeting, broadcast, who,
// rename, leaving and the idle timeout, with the exact bytes of every line.

import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  connect,
  connectAndGreet,
  connectAs,
  expectQuietUntilMarker,
  lineFrom,
  type ChatClient,
} from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

describe('chatd (seed behaviour)', () => {
  const server = useChatd();

  it('greets a newcomer with its login, then "I am here", and tells the others only the login', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connect(server().port);
    await bob.expectLine(`[${bob.addr}]${bob.addr}:login`);
    await bob.expectLine(`[${bob.addr}]${bob.addr}:I am here`);
    await alice.expectLine(`[${bob.addr}]${bob.addr}:login`);
    await expectQuietUntilMarker(bob, [bob, alice]);
  });

  it('broadcasts a line to everyone, the sender included', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    const carol = await connectAndGreet(server().port, [alice, bob]);
    await bob.send('hello, world');
    for (const client of [alice, bob, carol]) await client.expectLine(`[${bob.addr}]${bob.addr}:hello, world`);
  });

  it('shows a line exactly as sent, spaces, colons, bars and brackets included', async () => {
    const alice = await connectAndGreet(server().port);
    const text = '  [x]y:z | rename|w who  ';
    await alice.send(text);
    await alice.expectLine(lineFrom(alice, text));
  });

  it('answers who with "user list:" and one ADDR:NAME line per client, in arrival order', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    const carol = await connectAndGreet(server().port, [alice, bob]);
    await bob.send('who');
    await bob.expectLines('user list:', `${alice.addr}:${alice.addr}`, `${bob.addr}:${bob.addr}`, `${carol.addr}:${carol.addr}`);
    // The reply goes to the asker only.
    await expectQuietUntilMarker(bob, [alice, bob, carol]);
  });

  it('answers rename|NEW with "rename ok" to the sender and "[ADDR]OLD:renamed to NEW" to everyone else', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send('rename|alice');
    await alice.expectLine('rename ok');
    await bob.expectLine(`[${alice.addr}]${alice.addr}:renamed to alice`);
    alice.name = 'alice';
    // The sender is not told twice, and the new name is used from the next line on.
    await expectQuietUntilMarker(alice, [alice, bob]);
    await bob.send('who');
    await bob.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:${bob.addr}`);
  });

  it('tells the clients still online "[ADDR]NAME:login out" when a client disconnects', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const carol = await connectAs(server().port, 'carol', [alice, bob]);
    bob.end();
    await bob.expectClosed();
    await alice.expectLine(`[${bob.addr}]bob:login out`);
    await carol.expectLine(`[${bob.addr}]bob:login out`);
    carol.destroy();
    await alice.expectLine(`[${carol.addr}]carol:login out`);
    await alice.send('who');
    await alice.expectLines('user list:', `${alice.addr}:alice`);
  });

  it('does not broadcast an empty line or a line of white space', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.write('\n\r\n   \n\t \n');
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('ends every server line in exactly CRLF', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    await bob.send('who');
    await bob.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:${bob.addr}`);
    await bob.send('hi');
    await alice.expectLine(lineFrom(bob, 'hi'));
    await bob.expectLine(lineFrom(bob, 'hi'));
    expect(bob.rawLines).toEqual([
      `[${bob.addr}]${bob.addr}:login\r\n`,
      `[${bob.addr}]${bob.addr}:I am here\r\n`,
      'user list:\r\n',
      `${alice.addr}:alice\r\n`,
      `${bob.addr}:${bob.addr}\r\n`,
      `[${bob.addr}]${bob.addr}:hi\r\n`,
    ]);
  });

  it('handles a client line that ends in CRLF exactly as one that ends in LF', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.write('hi there\r\n');
    await alice.expectLine(lineFrom(alice, 'hi there'));
    await bob.expectLine(lineFrom(alice, 'hi there'));
    await alice.write('who\r\n');
    await alice.expectLines('user list:', `${alice.addr}:${alice.addr}`, `${bob.addr}:${bob.addr}`);
    await alice.write('rename|alice\r\n');
    await alice.expectLine('rename ok');
    await bob.expectLine(`[${alice.addr}]${alice.addr}:renamed to alice`);
    alice.name = 'alice';
    await alice.write('/who\r\n');
    await alice.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:${bob.addr}`);
  });
});

describe('chatd --idle-timeout 1', () => {
  const IDLE_ERROR = 'error: no line from you for 1 s; disconnected (send any line to stay)';
  const server = useChatd(['--idle-timeout', '1', '--rate-limit', '0']);

  /** Sends `line` every `everyMs` until the returned function is called. */
  function keepSending(client: ChatClient, line: string, everyMs: number): () => void {
    const timer = setInterval(() => void client.write(line), everyMs);
    return () => clearInterval(timer);
  }

  it('tells the others "time out leave out", tells the idle client why, then closes it', async () => {
    const alice = await connectAs(server().port, 'alice');
    const joinedAt = performance.now();
    const bob = await connectAndGreet(server().port, [alice]);
    const stopBob = keepSending(bob, '\n', 200);
    try {
      await alice.expectLine(IDLE_ERROR, 4000);
      const waited = performance.now() - joinedAt;
      await alice.expectClosed();
      await bob.expectLine(`[${alice.addr}]alice:time out leave out`, 4000);
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(3000);
      // The timeout is its only departure line: no `login out` follows for alice.
      await expectQuietUntilMarker(bob, [bob]);
    } finally {
      stopBob();
    }
  });

  it('keeps a client that sends only empty lines, since any complete line resets the clock', async () => {
    const carol = await connectAs(server().port, 'carol');
    const stop = keepSending(carol, '\n', 200);
    try {
      await delay(1800); // well past the 1 s timeout: the time itself is what is tested
    } finally {
      stop();
    }
    await carol.send('who');
    const lastLineAt = performance.now();
    await carol.expectLines('user list:', `${carol.addr}:carol`);
    await carol.expectLine(IDLE_ERROR, 4000);
    expect(performance.now() - lastLineAt).toBeGreaterThanOrEqual(900);
    await carol.expectClosed();
  });

  it('counts an invalid command and a discarded overlong line as activity (PROTOCOL.md §2.5)', async () => {
    const erin = await connectAs(server().port, 'erin');
    const stop = keepSending(erin, `/nope\n${'x'.repeat(5000)}\n`, 200);
    try {
      await delay(1800); // well past the 1 s timeout
    } finally {
      stop();
    }
    await erin.send('who');
    // Only the two errors, once per round, until the who reply: never the timeout.
    const replies = new Set<string>();
    for (let line = await erin.nextLine(); line !== 'user list:'; line = await erin.nextLine()) replies.add(line);
    expect([...replies].sort()).toEqual([
      'error: line too long (over 4096 bytes); it was discarded',
      'error: unknown command /nope; try /help (//text sends /text)',
    ]);
    await erin.expectLine(`${erin.addr}:erin`);
  });

  it('times out a client that sends bytes but never a newline', async () => {
    const dave = await connectAs(server().port, 'dave');
    const lastLineAt = performance.now();
    const stop = keepSending(dave, 'x', 100);
    try {
      await dave.expectLine(IDLE_ERROR, 4000);
      const waited = performance.now() - lastLineAt;
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(3000);
      await dave.expectClosed();
    } finally {
      stop();
    }
  });
});
