// The web client in a real browser: Debian's chromium, headless, driven by playwright-core
// (never a browser of its own download). The page is opened on a real chatd beside a
// telnet-style TCP client: the greeting, chat both ways, a rename seen in the who list, and a
// line of HTML from the TCP side shown as text, with no element made and no dialog opened. Then
// history and resume (PROTOCOL.md §10): the page shows what was said before it came, and after its
// connection is cut (through a proxy the test controls) it comes back by itself with what it missed,
// marked as caught up, under its old name.

import { existsSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, lineFrom } from '../helpers/chat-client.ts';
import { requireTool } from '../helpers/require-tool.ts';
import { useChatd } from '../helpers/use-chatd.ts';

const CHROMIUM = '/usr/bin/chromium';
const available = requireTool('chromium', existsSync(CHROMIUM), 'apt-get install chromium');

/** What went wrong inside the page: uncaught errors, console errors (a CSP violation is one), dialogs. */
interface PageTrouble {
  readonly errors: string[];
  readonly dialogs: string[];
}

function watch(page: Page): PageTrouble {
  const trouble: PageTrouble = { errors: [], dialogs: [] };
  page.on('pageerror', (error) => trouble.errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') trouble.errors.push(message.text());
  });
  page.on('dialog', (dialog) => {
    trouble.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return trouble;
}

/**
 * A TCP proxy in front of the web port: `cut` drops every connection through it, as a network
 * does; while `hold` is on, new connections wait unanswered, so the test knows what is said while
 * the page is away.
 */
class CuttableProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #held: Socket[] = [];
  #isHolding = false;
  readonly #target: number;

  constructor(target: number) {
    this.#target = target;
    this.#server = createServer((socket) => (this.#isHolding ? this.#held.push(socket) : this.#pipe(socket)));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as { port: number }).port;
  }

  cutAndHold(): void {
    this.#isHolding = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  release(): void {
    this.#isHolding = false;
    for (const socket of this.#held.splice(0)) this.#pipe(socket);
  }

  close(): void {
    for (const socket of [...this.#sockets, ...this.#held]) socket.destroy();
    this.#server.close();
  }

  #pipe(client: Socket): void {
    const upstream = createConnection({ port: this.#target, host: '127.0.0.1' });
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }
}

describe.runIf(available)('the web client in Chromium', () => {
  const server = useChatd(['--web-port', '0']);
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('greets, chats both ways with a TCP client, renames into the who list, and shows HTML as text', async () => {
    const tcp = await connectAs(server().port, 'alice');
    const page = await browser.newPage({ viewport: { width: 360, height: 640 } });
    const trouble = watch(page);
    await page.goto(`http://127.0.0.1:${server().webPort}/`);

    // The greeting, and the page's own login seen by the TCP client.
    const webLogin = await tcp.waitForLine((line) => line.endsWith(':login'));
    const webAddr = /^\[([^\]]+)\]/.exec(webLogin)![1]!;
    await expect.poll(() => page.locator('#status').getAttribute('data-state')).toBe('online');
    // The greeting is the page's own login, shown as its entry (the seed's "I am here" is not repeated).
    await expect.poll(() => page.locator('.entry[data-kind="login"][data-self="true"]').innerText()).toContain(webAddr);
    await expect.poll(() => page.locator('#who li').allInnerTexts()).toEqual(expect.arrayContaining(['alice']));

    // The browser says something; the TCP client reads it.
    const input = page.locator('#input');
    await expect.poll(() => page.locator('#input:focus').count()).toBe(1); // keyboard first: the input has the focus
    await input.fill('hello from the browser');
    await input.press('Enter');
    await tcp.expectLine(`[${webAddr}]${webAddr}:hello from the browser`);

    // It renames itself: the TCP side sees it, and the page's who list changes.
    await input.fill('/rename bob');
    await input.press('Enter');
    await tcp.expectLine(`[${webAddr}]${webAddr}:renamed to bob`);
    await expect.poll(() => page.locator('#who li').allInnerTexts()).toEqual(expect.arrayContaining(['alice', 'bob']));

    // The TCP client says something; the page shows it with its name.
    await tcp.send('hi bob');
    await tcp.expectLine(lineFrom(tcp, 'hi bob'));
    await expect.poll(() => page.locator('.entry[data-kind="chat"]').last().innerText()).toContain('hi bob');
    await expect(page.locator('.entry[data-kind="chat"]').last().innerText()).resolves.toContain('alice');

    // A line of HTML from the TCP side is text: no element made from it, no dialog.
    const attack = '<img src=x onerror=alert(1)>';
    await tcp.send(attack);
    await tcp.expectLine(lineFrom(tcp, attack));
    await expect.poll(() => page.locator('.entry[data-kind="chat"]').last().innerText()).toContain(attack);
    expect(await page.locator('#log img').count()).toBe(0);
    // Up-arrow recall: the last line the browser sent comes back into the input.
    await input.press('ArrowUp');
    await expect.poll(() => input.inputValue()).toBe('/rename bob');
    await page.waitForTimeout(200); // time for an onerror that should never run
    expect(trouble.dialogs).toEqual([]);
    expect(trouble.errors).toEqual([]);

    // The TCP client leaves: the page's who list loses it.
    tcp.end();
    await expect.poll(() => page.locator('#who li').allInnerTexts()).toEqual(['bob']);
    await page.close();
    // Gone before the next test's clients come: they must not see its `login out`.
    await server().waitForLog((record) => record['event'] === 'leave' && record['addr'] === webAddr);
  });

  it('shows the history above the live log, and resumes by itself after a drop with what it missed, marked, under its name', async () => {
    const tcp = await connectAs(server().port, 'carol');
    await tcp.send('said before you came');
    await tcp.expectLine(lineFrom(tcp, 'said before you came'));
    const proxy = new CuttableProxy(server().webPort!);
    const proxyPort = await proxy.listen();
    try {
      const page = await browser.newPage({ viewport: { width: 800, height: 640 } });
      const trouble = watch(page);
      await page.goto(`http://127.0.0.1:${proxyPort}/`);
      const webLogin = await tcp.waitForLine((line) => line.endsWith(':login'));
      const webAddr = /^\[([^\]]+)\]/.exec(webLogin)![1]!;
      // The history: above the page's own login, marked as history, with the line's time.
      const history = page.locator('.entry[data-history="true"]');
      await expect.poll(() => history.allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('said before you came')]));
      const order = await page.locator('#log .entry').evaluateAll(
        (entries: { dataset: Record<string, string | undefined> }[]) => entries.map((entry) => `${entry.dataset['kind']}:${entry.dataset['history'] ?? ''}`),
      );
      expect(order.indexOf('chat:true')).toBeLessThan(order.indexOf('login:'));

      const input = page.locator('#input');
      await input.fill('/rename dave');
      await input.press('Enter');
      await tcp.expectLine(`[${webAddr}]${webAddr}:renamed to dave`);
      // Its own `@N rename ok` too, before the cut: cut while that line is on its way, the page
      // rightly resumes from before it and is shown its rename as caught up (the test once raced so).
      const live = page.locator('#log .entry:not([data-caught-up])');
      await expect.poll(() => live.allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining('You are now dave')]));

      // The network drops the page; meanwhile carol says two lines it must not miss.
      proxy.cutAndHold();
      await tcp.expectLine(`[${webAddr}]dave:login out`);
      for (const text of ['while you were away', 'and this too']) {
        await tcp.send(text);
        await tcp.expectLine(lineFrom(tcp, text));
      }
      proxy.release();

      // It comes back by itself, under its name: a login, never a rename.
      const back = await tcp.waitForLine((line) => line.endsWith(']dave:login'), 20_000);
      expect(back).not.toContain(webAddr);
      const caughtUp = page.locator('.entry[data-caught-up="true"]');
      await expect.poll(() => caughtUp.allInnerTexts()).toEqual([
        expect.stringContaining('while you were away'),
        expect.stringContaining('and this too'),
      ]);
      await expect(caughtUp.first().locator('.entry-mark').textContent()).resolves.toContain('caught up');
      await expect.poll(() => page.locator('#who li').allInnerTexts()).toEqual(expect.arrayContaining(['carol', 'dave']));
      await tcp.send('welcome back');
      await tcp.expectLine(lineFrom(tcp, 'welcome back'));
      await expect.poll(() => page.locator('.entry[data-kind="chat"]').last().innerText()).toContain('welcome back');
      await tcp.send('who');
      await tcp.expectLine('user list:');
      const who = [await tcp.nextLine(), await tcp.nextLine()];
      expect(who.map((line) => line.slice(line.lastIndexOf(':') + 1)).sort()).toEqual(['carol', 'dave']);
      expect(trouble.errors).toEqual([]);
      await page.close();
      const backAddr = /^\[([^\]]+)\]/.exec(back)![1]!;
      await server().waitForLog((record) => record['event'] === 'leave' && record['addr'] === backAddr);
    } finally {
      proxy.close();
    }
  });

  it('fits a 360 px wide screen without sideways scrolling, in light and in dark', async () => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const page = await browser.newPage({ viewport: { width: 360, height: 640 }, colorScheme });
      const trouble = watch(page);
      await page.goto(`http://127.0.0.1:${server().webPort}/`);
      await expect.poll(() => page.locator('#status').getAttribute('data-state')).toBe('online');
      // Expressions, not functions: the tests are type-checked without the DOM's types.
      const scrollWidth = Number(await page.evaluate('document.documentElement.scrollWidth'));
      const clientWidth = Number(await page.evaluate('document.documentElement.clientWidth'));
      const background = String(await page.evaluate('getComputedStyle(document.body).backgroundColor'));
      expect(scrollWidth, colorScheme).toBeLessThanOrEqual(clientWidth);
      const [red = 0, green = 0, blue = 0] = (background.match(/\d+/g) ?? []).map(Number);
      const brightness = (red + green + blue) / 3;
      if (colorScheme === 'dark') expect(brightness, background).toBeLessThan(100);
      else expect(brightness, background).toBeGreaterThan(155);
      expect(trouble.errors).toEqual([]);
      await page.close();
    }
  });
});
