// Takes docs/web-client.png: a chatd of its own with a web port, four people in four browser
// contexts, and a short conversation (renames, a leave, private messages, a link) as alice's page
// shows it at 1000x640. Not a test: it asserts only that each line arrived before the next is
// sent, so the picture is the same every run. Run it with `node test/web/screenshot.ts [PATH]`.
// Uses the system's Chromium (/usr/bin/chromium, or $CHROMIUM); never downloads a browser.

import { chromium, type Browser, type Page } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import { startChatd, stopAllChatd } from '../helpers/start-server.ts';

const OUTPUT = process.argv[2] ?? fileURLToPath(new URL('../../docs/web-client.png', import.meta.url));
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const VIEWPORT = { width: 1000, height: 640 };
/** Each wait is for one line over loopback; ten seconds is a hang. */
const LINE_TIMEOUT_MS = 10_000;

/** A person's page, online and renamed to `name`. */
async function join(browser: Browser, url: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light', reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`${name}'s page: ${error.message}`));
  await page.goto(url);
  await page.locator('#status[data-state="online"]').waitFor({ timeout: LINE_TIMEOUT_MS });
  await say(page, `/rename ${name}`);
  await waitForWho(page, name);
  return page;
}

async function say(page: Page, line: string): Promise<void> {
  await page.fill('#input', line);
  await page.press('#input', 'Enter');
}

/** Waits until the page's log has an entry that holds `text`. */
async function waitForEntry(page: Page, text: string): Promise<void> {
  await page.locator('#log .entry', { hasText: text }).last().waitFor({ timeout: LINE_TIMEOUT_MS });
}

async function waitForWho(page: Page, name: string): Promise<void> {
  await page.locator('#who li').getByText(name, { exact: true }).waitFor({ timeout: LINE_TIMEOUT_MS });
}

async function main(): Promise<void> {
  // The default message of the day, as a newcomer on a real server gets it.
  const chatd = await startChatd(['--web-port', '0'], {}, { hasDefaultMotd: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const url = `http://127.0.0.1:${chatd.webPort}/`;
    const alice = await join(browser, url, 'alice');
    const bob = await join(browser, url, 'bob');
    await waitForWho(alice, 'bob');

    await say(bob, 'morning! is anyone on the new web client yet?');
    await waitForEntry(alice, 'is anyone on the new web client yet?');
    await say(alice, 'right now: it came back by itself after the restart, and kept my name');
    await waitForEntry(alice, 'and kept my name');

    const carol = await join(browser, url, 'carol');
    await waitForWho(alice, 'carol');
    await say(carol, 'hi all, same here <3');
    await waitForEntry(alice, 'same here <3');

    const dave = await join(browser, url, 'dave');
    await waitForWho(alice, 'dave');
    await say(dave, 'just passing through, the deploy notes are at https://example.com/deploy');
    await waitForEntry(alice, 'https://example.com/deploy');
    await say(dave, '/quit');
    await waitForEntry(alice, 'dave left');

    await say(bob, '/msg alice lunch at 12:30?');
    await waitForEntry(alice, 'lunch at 12:30?');
    await say(alice, '/msg bob sure, the usual place');
    await waitForEntry(alice, 'sure, the usual place');
    await say(carol, 'who is reviewing the rate limit change?');
    await waitForEntry(alice, 'who is reviewing the rate limit change?');

    // A line half typed, so the composer is seen in use.
    await alice.fill('#input', 'I can take it after lu');
    await alice.screenshot({ path: OUTPUT });
    console.log(`wrote ${OUTPUT}`);
  } finally {
    await browser.close();
    await stopAllChatd();
  }
}

await main();
