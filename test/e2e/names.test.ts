// Names on a real chatd (PROTOCOL.md §4): unique ignoring case, what a name may hold, the two
// rename syntaxes, and that a new name is what everyone sees from then on.

import { describe, it } from 'vitest';
import {
  connectAndGreet,
  connectAs,
  expectQuietUntilMarker,
  lineFrom,
} from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const NAME_INVALID = 'error: a name may not contain white space, control characters, [ ] : or |';
const NAME_TOO_LONG = 'error: a name has at most 32 characters';

const server = useChatd();
describe('chatd names', () => {
  it('refuses a name another client holds, ignoring case, and keeps the old name', async () => {
    const bob = await connectAs(server().port, 'bob');
    const alice = await connectAs(server().port, 'alice', [bob]);
    await alice.send('rename|Bob');
    await alice.expectLine('error: the name Bob is taken; pick another');
    await alice.send('rename|BOB');
    await alice.expectLine('error: the name BOB is taken; pick another');
    await expectQuietUntilMarker(alice, [alice, bob]);
    await alice.send('who');
    await alice.expectLines('user list:', `${bob.addr}:bob`, `${alice.addr}:alice`);
  });

  it.each([
    ['a space', 'rename|al ice', NAME_INVALID],
    ['a leading space', 'rename| alice', NAME_INVALID],
    ['a no-break space', 'rename|al\u00a0ice', NAME_INVALID],
    ['an ideographic space', 'rename|al\u3000ice', NAME_INVALID],
    ['an opening bracket', 'rename|[alice', NAME_INVALID],
    ['a closing bracket', 'rename|alice]', NAME_INVALID],
    ['a colon', 'rename|al:ice', NAME_INVALID],
    ['a bar', 'rename|al|ice', NAME_INVALID],
    ['33 characters', `rename|${'a'.repeat(33)}`, NAME_TOO_LONG],
    ['33 emoji', `rename|${'\u{1f600}'.repeat(33)}`, NAME_TOO_LONG],
    ['no bar', 'rename', 'error: rename needs a new name after a bar: rename|NEW'],
    ['nothing after the bar', 'rename|', 'error: the new name is empty; try rename|NEW'],
    ['/rename without a name', '/rename', 'error: usage: /rename NEW'],
    ['/rename with a space in the name', '/rename al ice', NAME_INVALID],
  ])('answers a rename with %s with one error line, and nothing else happens', async (_why, line, error) => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send(line);
    await alice.expectLine(error);
    await expectQuietUntilMarker(alice, [alice, bob]);
    await bob.send('who');
    await bob.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:${bob.addr}`);
  });

  // PROTOCOL.md §2.3 runs before a line is interpreted: the control characters are gone before
  // the name is checked, so §4's rule against them never fires for a name sent over the wire.
  it('removes control characters from a new name before checking it', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send('rename|al\u0007i\u001b[31mce\u202e');
    await alice.expectLine('rename ok');
    await bob.expectLine(`[${alice.addr}]${alice.addr}:renamed to alice`);
  });

  it('stores a name NFC-normalized and compares names after normalizing them', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    await bob.send('rename|Ame\u0301lie'); // e + combining acute
    await bob.expectLine('rename ok');
    await alice.expectLine(`[${bob.addr}]${bob.addr}:renamed to Am\u00e9lie`);
    await alice.send('rename|am\u00e9lie');
    await alice.expectLine('error: the name am\u00e9lie is taken; pick another');
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('accepts a name of exactly 32 characters, counting an emoji as one', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    const name = `${'\u{1f600}'.repeat(2)}${'a'.repeat(30)}`;
    await alice.send(`rename|${name}`);
    await alice.expectLine('rename ok');
    await bob.expectLine(`[${alice.addr}]${alice.addr}:renamed to ${name}`);
  });

  it('renames with /rename NEW as with rename|NEW, spaces around NEW ignored', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send('/rename   alice  ');
    await alice.expectLine('rename ok');
    await bob.expectLine(`[${alice.addr}]${alice.addr}:renamed to alice`);
    await expectQuietUntilMarker(bob, [alice, bob]);
  });

  it('lets a client change only the case of its own name', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('rename|Alice');
    await alice.expectLine('rename ok');
    await bob.expectLine(`[${alice.addr}]alice:renamed to Alice`);
    alice.name = 'Alice';
    await alice.send('hi');
    await bob.expectLine(`[${alice.addr}]Alice:hi`);
    await alice.expectLine(`[${alice.addr}]Alice:hi`);
  });

  it('answers "rename ok" and tells nobody when the new name is the name it has', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send('rename|alice');
    await alice.expectLine('rename ok');
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('uses the new name in broadcasts, who, login out, and frees the old one', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await bob.send('rename|robert');
    await bob.expectLine('rename ok');
    await alice.expectLine(`[${bob.addr}]bob:renamed to robert`);
    bob.name = 'robert';
    await bob.send('hello');
    await alice.expectLine(`[${bob.addr}]robert:hello`);
    await bob.expectLine(`[${bob.addr}]robert:hello`);
    await alice.send('who');
    await alice.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:robert`);
    const carol = await connectAs(server().port, 'bob', [alice, bob]);
    await carol.send('who');
    await carol.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:robert`, `${carol.addr}:bob`);
    bob.destroy();
    await alice.expectLine(lineFrom(bob, 'login out'));
    await carol.expectLine(lineFrom(bob, 'login out'));
  });
});
