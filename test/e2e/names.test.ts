// Names on a real chatd (PROTOCOL.md §4): unique ignoring case and look-alikes, what a name may
// hold, the two rename syntaxes, and that a new name is what everyone sees from then on.

import { describe, it } from 'vitest';
import {
  connectAndGreet,
  connectAs,
  expectQuietUntilMarker,
  lineFrom,
} from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const NAME_INVALID =
  'error: a name may not contain white space, invisible, control or unassigned characters, [ ] : | or a look-alike of them, nor start with a combining mark';
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
    // #10 §3: look-alikes of the delimiters, so no name looks like an address or a prefix.
    ['a modifier letter colon (U+A789), like an address', 'rename|127.0.0.1\ua78938598', NAME_INVALID],
    ['a ratio sign (U+2236), like an address', 'rename|127.0.0.1\u223638598', NAME_INVALID],
    ['fullwidth brackets and colon', 'rename|\uff3b127.0.0.1\uff1a1\uff3dbob', NAME_INVALID],
    ['a divides sign (U+2223) for a bar', 'rename|al\u2223ice', NAME_INVALID],
    // #10 §3: invisible characters, alone or inside a name that would look like another.
    ['only a zero-width space', 'rename|\u200b', NAME_INVALID],
    ['a zero-width space inside', 'rename|a\u200blice', NAME_INVALID],
    ['a zero-width joiner inside', 'rename|a\u200dlice', NAME_INVALID],
    ['a word joiner inside', 'rename|a\u2060lice', NAME_INVALID],
    ['a combining grapheme joiner inside', 'rename|a\u034flice', NAME_INVALID],
    ['a variation selector inside', 'rename|a\ufe0flice', NAME_INVALID],
    ['a tag character inside', 'rename|alice\u{e0041}', NAME_INVALID],
    ['a Mongolian vowel separator', 'rename|\u180e', NAME_INVALID],
    ['a Hangul filler', 'rename|\u3164', NAME_INVALID],
    ['a braille blank', 'rename|\u2800', NAME_INVALID],
    ['a soft hyphen inside', 'rename|al\u00adice', NAME_INVALID],
    ['a lone combining mark', 'rename|\u0301', NAME_INVALID],
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

  it('stores a name in NFKC, so a fullwidth name is shown in plain letters', async () => {
    const alice = await connectAndGreet(server().port);
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send('rename|\uff41\uff4c\uff49\uff43\uff45');
    await alice.expectLine('rename ok');
    await bob.expectLine(`[${alice.addr}]${alice.addr}:renamed to alice`);
  });

  // #10 §3: toLowerCase is not case folding; full folding makes ß and SS the same.
  it('refuses a name that differs from a held one only by full case folding', async () => {
    const alice = await connectAs(server().port, 'stra\u00dfe');
    const mallory = await connectAndGreet(server().port, [alice]);
    await mallory.send('rename|STRASSE');
    await mallory.expectLine('error: the name STRASSE is taken; pick another');
    await expectQuietUntilMarker(mallory, [alice, mallory]);
  });

  // #10 §3: the UTS #39 skeleton makes Cyrillic а and Latin a, or 0 and O, the same name.
  it.each([
    ['Cyrillic а for Latin a', 'alice', '\u0430lice'],
    ['a zero for an o', 'bob', 'b0b'],
    ['rn for m', 'martin', 'rnartin'],
    // The skeleton of the name as typed, as ergo makes it: a capital I is an l.
    ['l for a capital I', 'Iris', 'lris'],
    ['a capital I for l', 'lara', 'Iara'],
  ])('refuses a look-alike of a held name (%s)', async (_why, held, lookAlike) => {
    const victim = await connectAs(server().port, held);
    const mallory = await connectAs(server().port, 'mallory', [victim]);
    await mallory.send(`rename|${lookAlike}`);
    await mallory.expectLine(`error: the name ${lookAlike} is taken; pick another`);
    await expectQuietUntilMarker(mallory, [victim, mallory]);
  });

  // #10 §4: a /msg target is normalized exactly as a name is.
  it.each([
    ['decomposed, as the name was typed', 'e\u0301mile'],
    ['composed, as the name is stored', '\u00e9mile'],
    ['in capitals', '\u00c9MILE'],
    ['in fullwidth letters', '\u00e9\uff4d\uff49\uff4c\uff45'],
  ])('delivers /msg to a name written %s', async (_why, target) => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    await bob.send('rename|e\u0301mile');
    await bob.expectLine('rename ok');
    await alice.expectLine(`[${bob.addr}]${bob.addr}:renamed to \u00e9mile`);
    await alice.send(`/msg ${target} psst`);
    await alice.expectLine('msg ok');
    await bob.expectLine(`[${alice.addr}]alice (private):psst`);
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('delivers /msg to a client that has not chosen a name, by its address', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send(`/msg ${bob.addr} psst`);
    await alice.expectLine('msg ok');
    await bob.expectLine(`[${alice.addr}]alice (private):psst`);
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
