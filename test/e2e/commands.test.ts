// The slash commands on a real chatd (PROTOCOL.md §3.4): /who, /msg, /quit, /help, the escape
// `//`, and the errors for an unknown command or a bad /msg.

import { describe, it } from 'vitest';
import {
  connectAndGreet,
  connectAs,
  expectQuietUntilMarker,
  lineFrom,
} from '../helpers/chat-client.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const server = useChatd();
describe('chatd slash commands', () => {
  it('answers /who (any case) as who', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await bob.send('/who');
    await bob.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:bob`);
    await bob.send('/WHO');
    await bob.expectLines('user list:', `${alice.addr}:alice`, `${bob.addr}:bob`);
    await expectQuietUntilMarker(bob, [alice, bob]);
  });

  it('answers /who with arguments with its usage', async () => {
    const alice = await connectAs(server().port, 'alice');
    await alice.send('/who is here');
    await alice.expectLine('error: usage: /who');
  });

  it('delivers /msg NAME TEXT to NAME only, tells the sender "msg ok", and a third client sees nothing', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    const carol = await connectAs(server().port, 'carol', [alice, bob]);
    await alice.send('/msg bob meet me at: [noon] | ok');
    await bob.expectLine(`[${alice.addr}]alice (private):meet me at: [noon] | ok`);
    await alice.expectLine('msg ok');
    await expectQuietUntilMarker(alice, [alice, bob, carol]);
  });

  it('reaches a client that has not chosen a name by its address', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAndGreet(server().port, [alice]);
    await alice.send(`/msg ${bob.addr} psst`);
    await bob.expectLine(`[${alice.addr}]alice (private):psst`);
    await alice.expectLine('msg ok');
  });

  it('finds the recipient of /msg ignoring case', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('/msg BOB hi');
    await bob.expectLine(`[${alice.addr}]alice (private):hi`);
    await alice.expectLine('msg ok');
  });

  it('answers /msg to a name nobody holds with "nobody named X is online"', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('/msg zed hello');
    await alice.expectLine('error: nobody named zed is online; try who');
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it.each([['/msg bob'], ['/msg bob   '], ['/msg'], ['/msg ']])('answers %j with the usage of /msg', async (line) => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send(line);
    await alice.expectLine('error: usage: /msg NAME TEXT');
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('closes the connection on /quit and tells the others "login out"', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await bob.send('/quit see you');
    await bob.expectClosed();
    await alice.expectLine(`[${bob.addr}]bob:login out`);
    await alice.send('who');
    await alice.expectLines('user list:', `${alice.addr}:alice`);
  });

  it('answers /help with "commands:" and one aligned line per command (PROTOCOL.md §5.6)', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('/help');
    await alice.expectLines(
      'commands:',
      '  /who                    list who is online (same as: who)',
      '  /rename NEW             change your name (same as: rename|NEW)',
      '  /msg NAME TEXT          send TEXT to NAME only',
      '  /quit                   leave the chat',
      '  /help                   show this list',
      '  /history [N]            show the last N lines said (default 20), with their times',
      '  /token                  get a token to come back with after a drop; lines then carry their @N',
      '  /resume TOKEN POSITION  come back after a drop and get the lines you missed',
      '  //TEXT                  send a line that starts with a slash',
      'limits:',
      '  send a line at least every 60 s or you are timed out (you are warned 10 s before)',
      '  at most 2 lines a second (5 at once); faster lines are delayed, not lost',
    );
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('takes WHO, Who and who with white space after it as who (#10 §7)', async () => {
    const alice = await connectAs(server().port, 'alice');
    for (const line of ['Who', 'who ', '/WHO ']) {
      await alice.send(line);
      await alice.expectLines('user list:', `${alice.addr}:alice`);
    }
    await expectQuietUntilMarker(alice, [alice]);
  });

  // #10 §2: the seed's events share the TEXT slot of [ADDR]NAME:TEXT with chat.
  it.each(['login', 'I am here', 'login out', 'time out leave out', 'renamed to alice', 'login\u200b out '])(
    'refuses the chat line %j, which would read as an event, and broadcasts nothing',
    async (text) => {
      const alice = await connectAs(server().port, 'alice');
      const mallory = await connectAs(server().port, 'mallory', [alice]);
      await mallory.send(text);
      await mallory.expectLine(
        'error: that line reads like a server event (login, I am here, login out, time out leave out, renamed to …) and was not sent; reword it',
      );
      await expectQuietUntilMarker(mallory, [alice, mallory]);
      // mallory is still online, and her next line is chat as ever.
      await mallory.send('login out now');
      await alice.expectLine(lineFrom(mallory, 'login out now'));
    },
  );

  it('answers an unknown command with how to send a line that starts with a slash', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('/x');
    await alice.expectLine('error: unknown command /x; try /help (//text sends /text)');
    await alice.send('/dance wildly');
    await alice.expectLine('error: unknown command /dance; try /help (//text sends /text)');
    await expectQuietUntilMarker(alice, [alice, bob]);
  });

  it('broadcasts //text as /text', async () => {
    const alice = await connectAs(server().port, 'alice');
    const bob = await connectAs(server().port, 'bob', [alice]);
    await alice.send('//text');
    await alice.expectLine(`[${alice.addr}]alice:/text`);
    await bob.expectLine(`[${alice.addr}]alice:/text`);
    await alice.send('//who');
    await bob.expectLine(lineFrom(alice, '/who'));
    await alice.expectLine(lineFrom(alice, '/who'));
  });
});
