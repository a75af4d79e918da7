// What a person meets before they know the commands (#10 §7): the message of the day after the
// greeting (--motd), the warning before an idle timeout, and SIGHUP putting a new message of the
// day and admin token in force without dropping anyone.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectAndGreet, connectAs, disconnectAll, expectQuietUntilMarker, lineFrom } from '../helpers/chat-client.ts';
import { runChatdToExit, startChatd, stopAllChatd } from '../helpers/start-server.ts';

const files = mkdtempSync(join(tmpdir(), 'chatd-newcomer-test-'));
afterAll(() => rmSync(files, { recursive: true, force: true }));
afterEach(async () => {
  await disconnectAll();
  await stopAllChatd();
});

const DEFAULT_MOTD = '*** welcome to chatd: every line you send goes to everyone online; /help lists the commands';

describe('chatd --motd', () => {
  it('greets a newcomer with one line about /help by default, after the seed\'s two lines, and tells nobody else', async () => {
    const withDefault = await startChatd([], {}, { hasDefaultMotd: true });
    const alice = await connectAndGreet(withDefault.port);
    await alice.expectLine(DEFAULT_MOTD);
    const bob = await connectAndGreet(withDefault.port, [alice]);
    await bob.expectLine(DEFAULT_MOTD);
    await expectQuietUntilMarker(bob, [alice, bob]);
  });

  it('sends the lines of the file, each as *** LINE, sanitized, without the blank lines at either end', async () => {
    const motd = join(files, 'motd.txt');
    writeFileSync(motd, '\nWelcome to the \u001b[31mstaff\u001b[0m chat.\r\n\nBe kind.\n\n');
    const server = await startChatd(['--motd', motd]);
    const alice = await connectAndGreet(server.port);
    await alice.expectLines('*** Welcome to the staff chat.', '*** ', '*** Be kind.');
    await expectQuietUntilMarker(alice, [alice]);
  });

  it("sends nothing after the greeting with --motd ''", async () => {
    const server = await startChatd(['--motd', '']);
    const alice = await connectAndGreet(server.port);
    await expectQuietUntilMarker(alice, [alice]);
  });

  it('refuses a --motd file it cannot read with exit code 2 and one line', async () => {
    const run = await runChatdToExit(['--port', '0', '--motd', join(files, 'missing.txt')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^chatd: cannot read --motd \S+missing\.txt: ENOENT[^\n]*\n$/);
  });
});

describe('chatd idle warning', () => {
  it('warns a client that only reads, half the timeout before it for a short one, then times it out (--idle-timeout 4)', async () => {
    const server = await startChatd(['--idle-timeout', '4']);
    const alice = await connectAs(server.port, 'alice');
    const started = performance.now();
    await alice.expectLine('*** you will be timed out in 2 s; send any line to stay', 4000);
    expect(performance.now() - started).toBeGreaterThan(1500);
    await alice.expectLine('error: no line from you for 4 s; disconnected (send any line to stay)', 4000);
    await alice.expectClosed();
  });

  it('warns again only after the client has spoken, and a line in time keeps it online', async () => {
    const server = await startChatd(['--idle-timeout', '4']);
    const alice = await connectAs(server.port, 'alice');
    await alice.expectLine('*** you will be timed out in 2 s; send any line to stay', 4000);
    await alice.send('still here');
    await alice.expectLine(lineFrom(alice, 'still here'));
    await alice.expectLine('*** you will be timed out in 2 s; send any line to stay', 4000);
  });
});

describe('chatd SIGHUP', () => {
  it('reads the --motd file and the admin token file again, logs it, and drops nobody', async () => {
    const motd = join(files, 'hup-motd.txt');
    const token = join(files, 'hup.token');
    writeFileSync(motd, 'first welcome\n');
    writeFileSync(token, 'old-token\n');
    const server = await startChatd(['--motd', motd, '--admin-token-file', token, '--http-port', '0']);
    const httpPort = (await server.waitForLog((record) => record['event'] === 'http-listening'))['port'] as number;
    const alice = await connectAndGreet(server.port);
    await alice.expectLine('*** first welcome');
    writeFileSync(motd, 'second welcome\n');
    writeFileSync(token, 'new-token\n');
    server.signal('SIGHUP');
    const reload = await server.waitForLog((record) => record['event'] === 'reload');
    expect(reload).toMatchObject({ motdLines: 1, announce: 'on' });
    const bob = await connectAndGreet(server.port, [alice]);
    await bob.expectLine('*** second welcome');
    expect(await announce(httpPort, 'old-token', 'hi')).toBe(401);
    expect(await announce(httpPort, 'new-token', 'hi')).toBe(200);
    await alice.expectLine('*** hi');
    await bob.expectLine('*** hi');
  });

  it('keeps everything as it was, and says why, when a file cannot be read', async () => {
    const motd = join(files, 'vanishing-motd.txt');
    writeFileSync(motd, 'still the welcome\n');
    const server = await startChatd(['--motd', motd]);
    rmSync(motd);
    server.signal('SIGHUP');
    const failed = await server.waitForLog((record) => record['event'] === 'reload-failed');
    expect(String(failed['msg'])).toMatch(/^SIGHUP: cannot read --motd .*; everything stays as it was$/);
    const alice = await connectAndGreet(server.port);
    await alice.expectLine('*** still the welcome');
  });
});

function announce(port: number, token: string, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/announce', method: 'POST', headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(text);
  });
}
